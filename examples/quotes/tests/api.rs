//! The quotes app over plain HTTP, without a browser or a provider:
//! writes without a session are refused and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use idsync_core::{Change, Profile, SqlIdent, UserId, Version};
use idsync_login::{AuthBuilder, ProviderConfig};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::UsersTable;
use quotes::Application;
use quotes::config::{Database, Settings};
use reqwest::StatusCode;
use reqwest::header::ORIGIN;

struct App {
    url: String,
    pg: PgServer,
}

async fn spawn_app() -> App {
    let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
    let db_url = pg.create_database("quotes").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let table = UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    );
    let settings = Settings {
        listen: addr,
        database: Database::Url(db_url.clone()),
        users_table: table.clone(),
        // Never contacted by these tests.
        auth: AuthBuilder::new()
            .secret("a-test-secret-of-at-least-32-characters")
            .base_url(&url)
            .provider(ProviderConfig::okta("http://127.0.0.1:9", "cid", "secret")),
    };
    let app = Application::build_with_listener(settings, listener)
        .await
        .unwrap();
    tokio::spawn(app.run_until(std::future::pending()));

    // A user with a saved quote, as a sign-in would have left them.
    let pool = idsync_store::connect(&db_url, 1).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let profile = Profile {
        id: UserId::parse("ada").unwrap(),
        name: Some("Ada".into()),
        email: Some("ada@example.com".into()),
        created_at: None,
        raw_json: serde_json::json!({"sub": "ada"}),
    };
    idsync_store::apply::apply_changes(
        &mut tx,
        &table,
        &[Change::upsert(profile, Version::new(Utc::now()))],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    pg.psql(
        "quotes",
        "INSERT INTO user_messages (user_id, message) VALUES ('ada', 'kept')",
    )
    .await
    .unwrap();
    App { url, pg }
}

async fn messages(app: &App) -> String {
    app.pg
        .psql(
            "quotes",
            "SELECT coalesce(string_agg(user_id || ':' || message, ','), '') FROM user_messages",
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn writes_without_a_session_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    for (path, form) in [
        ("/quote", vec![("message", "forged")]),
        ("/quote/delete", vec![]),
    ] {
        let res = http
            .post(format!("{}{path}", app.url))
            .header(ORIGIN, &app.url)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        // A forged cookie is no session either.
        let res = http
            .post(format!("{}{path}", app.url))
            .header(ORIGIN, &app.url)
            .header("cookie", "idsync_session=eyJzdWIiOiJhZGEifQ")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(messages(&app).await, "ada:kept");
}

#[tokio::test]
async fn signed_out_home_shows_the_login_box_with_safe_headers() {
    let app = spawn_app().await;
    let res = reqwest::get(format!("{}/", app.url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"id="login-box""#), "{page}");
    assert!(page.contains(r#"href="/api/auth/signin""#), "{page}");
    assert!(!page.contains("Welcome"));
}
