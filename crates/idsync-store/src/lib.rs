//! idsync's Postgres side.
//!
//! - [`migrate`]: the bookkeeping schema (`idsync`) and each connection's
//!   users table, created idempotently under an advisory lock.
//! - [`apply`]: the versioned batch upsert, the only code that writes a
//!   users table.
//! - [`applier`]: group commit for concurrent webhook requests.
//! - [`deliveries`], [`runs`], [`errors`]: bookkeeping read by `status`.
//! - [`refresh`]: users notified by id, waiting to be fetched.
//! - [`resources`]: users and groups written through a served API (SCIM);
//!   [`served_log`]: its recent requests.
//! - [`lock`]: per-connection advisory locks for once-at-a-time jobs.
//! - [`seen`]: the ids a full reconcile listed, kept in the database.

pub mod applier;
pub mod apply;
pub mod deliveries;
mod error;
pub mod errors;
pub mod lock;
pub mod migrate;
pub mod refresh;
pub mod resources;
pub mod runs;
pub mod seen;
pub mod served_log;
pub mod status;
mod table;
pub mod users;

pub use error::StoreError;
pub use table::UsersTable;

use std::time::Duration;

pub use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// A pooled connection idle for this long is pinged before it is lent.
const PING_WHEN_IDLE: Duration = Duration::from_millis(250);

/// Opens a pool. The acquire timeout is short on purpose: when the database
/// is down a webhook must get its 503 well within the provider's 15 s limit.
/// Only a connection that sat idle is pinged before it is lent: with the
/// database a network round trip away, pinging every time doubled a webhook
/// batch's round trips, while one in steady use is known to be alive. One
/// that a database restart ended anyway fails as a broken connection, and
/// the applier retries its batch on another.
pub async fn connect(database_url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = database_url.parse().map_err(StoreError::BadUrl)?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options.application_name("idsync"));
    Ok(pool)
}
