//! The baseline: the Clerk webhook handler a team writes by hand, as the
//! provider's docs show it (verify the Svix signature, switch on the event
//! type, upsert the user), run as a process of its own behind the same
//! load generator and the same database distance as idsync.
//!
//! It is made as fast as such a handler honestly gets: one statement per
//! request, committed on its own (an implicit transaction, so one round
//! trip: a `BEGIN` and `COMMIT` around it would add two), prepared once
//! per connection, on a pool of 20; the version rule
//! (`WHERE` the stored row is older) keeps it correct under reordering.
//! It keeps no delivery log, which idsync does.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use svix::webhooks::Webhook;

/// The executable runs as the handler under this name (see `main`).
pub const NAME: &str = "idsync-bench-handwritten";
/// Its configuration, from the environment.
pub const DATABASE_URL_ENV: &str = "HANDWRITTEN_DATABASE_URL";
pub const SECRET_ENV: &str = "HANDWRITTEN_WEBHOOK_SECRET";
/// The users table, schema-qualified and quoted by the bench.
pub const TABLE_ENV: &str = "HANDWRITTEN_TABLE";

const POOL_SIZE: u32 = 20;

struct App {
    pool: PgPool,
    webhook: Webhook,
    upsert: String,
    delete: String,
}

/// Serves `POST /webhooks` until killed; prints `listening on http://...`.
pub async fn main() -> Result<()> {
    let url = std::env::var(DATABASE_URL_ENV).context(DATABASE_URL_ENV)?;
    let secret = std::env::var(SECRET_ENV).context(SECRET_ENV)?;
    let table = std::env::var(TABLE_ENV).context(TABLE_ENV)?;
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect(&url)
        .await
        .context("cannot connect to Postgres")?;
    let app = Arc::new(App {
        pool,
        webhook: Webhook::new(&secret).context("bad webhook secret")?,
        upsert: format!(
            "INSERT INTO {table} AS t (raw_json, id, name, email, created_at, updated_at)
             VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0), to_timestamp($6 / 1000.0))
             ON CONFLICT (id) DO UPDATE SET
                 raw_json = EXCLUDED.raw_json, name = EXCLUDED.name, email = EXCLUDED.email,
                 created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
                 deleted_at = NULL
             WHERE t.updated_at < EXCLUDED.updated_at"
        ),
        delete: format!(
            "INSERT INTO {table} AS t (raw_json, id, updated_at, deleted_at)
             VALUES ($1, $2, to_timestamp($3 / 1000.0), to_timestamp($3 / 1000.0))
             ON CONFLICT (id) DO UPDATE SET
                 updated_at = EXCLUDED.updated_at, deleted_at = EXCLUDED.deleted_at
             WHERE t.updated_at <= EXCLUDED.updated_at"
        ),
    });
    let router = Router::new()
        .route("/webhooks", post(webhook))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if app.webhook.verify(&body, &headers).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let data = &event["data"];
    let Some(id) = data["id"].as_str() else {
        return StatusCode::BAD_REQUEST;
    };
    let written = match event["type"].as_str() {
        Some("user.created" | "user.updated") => {
            let name = [data["first_name"].as_str(), data["last_name"].as_str()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let primary = data["primary_email_address_id"].as_str();
            let email = data["email_addresses"].as_array().and_then(|all| {
                all.iter()
                    .find(|e| e["id"].as_str() == primary)
                    .and_then(|e| e["email_address"].as_str())
            });
            sqlx::query(&app.upsert)
                .bind(data)
                .bind(id)
                .bind(Some(name).filter(|n| !n.is_empty()))
                .bind(email)
                .bind(data["created_at"].as_i64())
                .bind(data["updated_at"].as_i64())
                .execute(&app.pool)
                .await
        }
        Some("user.deleted") => {
            sqlx::query(&app.delete)
                .bind(data)
                .bind(id)
                .bind(event["timestamp"].as_i64())
                .execute(&app.pool)
                .await
        }
        _ => return StatusCode::OK,
    };
    match written {
        Ok(_) => StatusCode::OK,
        Err(e) => {
            eprintln!("error: {e}");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
