//! Turns validated configuration into running parts.

use anyhow::{Context, Result};
use idsync_server::ConnectionRuntime;
use idsync_store::PgPool;
use idsync_store::applier::Applier;

use crate::config::{Config, ConnectionConfig};

/// Opens the pool; a missing URL is a configuration error.
pub async fn pool(config: &Config) -> Result<PgPool> {
    let url = config.database_url().context(
        "database_url is not set: set DATABASE_URL or database_url in the configuration file",
    )?;
    Ok(idsync_store::connect(url.expose(), 20).await?)
}

pub fn connection(pool: &PgPool, c: &ConnectionConfig) -> ConnectionRuntime {
    ConnectionRuntime {
        name: c.name.clone(),
        table: c.table.clone(),
        provider: c.provider.clone(),
        applier: Applier::spawn(pool.clone(), c.name.to_string(), c.table.clone()),
        reconcile_interval: c.reconcile_interval,
        full_reconcile_interval: c.full_reconcile_interval,
        refresh_wake: Default::default(),
        resources: idsync_server::served::tables_of(c.name.as_str(), &c.table, &c.provider),
    }
}

/// The configured connections to act on: all, or the one named.
pub fn select<'a>(config: &'a Config, name: Option<&str>) -> Result<Vec<&'a ConnectionConfig>> {
    match name {
        None => Ok(config.connections.iter().collect()),
        Some(n) => config
            .connections
            .iter()
            .find(|c| c.name.as_str() == n)
            .map(|c| vec![c])
            .with_context(|| {
                let known: Vec<&str> = config.connections.iter().map(|c| c.name.as_str()).collect();
                format!(
                    "no connection named {n:?} (configured: {})",
                    known.join(", ")
                )
            }),
    }
}

/// Creates or upgrades idsync's schema and every connection's tables.
pub async fn migrate(pool: &PgPool, config: &Config) -> Result<()> {
    let tables: Vec<_> = config.connections.iter().map(|c| c.table.clone()).collect();
    let resources: Vec<_> = config
        .connections
        .iter()
        .filter_map(|c| idsync_server::served::tables_of(c.name.as_str(), &c.table, &c.provider))
        .collect();
    idsync_store::migrate::migrate_with_resources(pool, &tables, &resources)
        .await
        .context("migration failed")
}
