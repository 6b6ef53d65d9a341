//! A connection as the operator sees it: counts, last activity, and a
//! health verdict with its reasons. Shared by the API and the console.

use idsync_store::runs::RunStatus;
use idsync_store::status::{ConnectionStatus, connection_status};
use idsync_store::{StoreError, errors};

use crate::{AppState, ConnectionRuntime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Degraded,
    Failing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Failing => "failing",
        }
    }
}

/// The API shows it as [`dto::Connection`](super::dto::Connection).
#[derive(Debug, Clone)]
pub struct ConnectionOverview {
    pub name: String,
    /// The provider's configuration name, e.g. `stack_auth`.
    pub provider: String,
    /// The provider's name for people, e.g. "Stack Auth".
    pub provider_name: String,
    pub health: Health,
    /// Why the connection is not healthy (empty when it is).
    pub reasons: Vec<String>,
    /// The URL to configure as the provider's webhook endpoint.
    pub webhook_url: String,
    pub status: ConnectionStatus,
}

/// Webhook rejections within this window make a connection degraded.
const REJECTION_WINDOW_SECS: i64 = 3600;

pub async fn overview(
    state: &AppState,
    conn: &ConnectionRuntime,
) -> Result<ConnectionOverview, StoreError> {
    let name = conn.name.as_str();
    let mut status = connection_status(&state.pool, name, &conn.table).await?;
    if let Some(tables) = &conn.resources {
        status.served = Some(idsync_store::status::served_status(&state.pool, tables).await?);
    }
    let rejections =
        errors::count_recent(&state.pool, name, "webhook", REJECTION_WINDOW_SECS).await?;
    let (health, reasons) = judge(&status, rejections, conn.provider.pulls());
    Ok(ConnectionOverview {
        name: name.to_owned(),
        provider: conn.provider.info().name.to_owned(),
        provider_name: conn.provider.info().display_name.to_owned(),
        health,
        reasons,
        webhook_url: conn.push_url(&state.public_url),
        status,
    })
}

/// The verdict: a failed last job means the provider cannot be read;
/// rejected webhooks or a first backfill still running mean degraded
/// (`pulls`: whether the provider has an API to backfill from).
fn judge(s: &ConnectionStatus, rejections_last_hour: i64, pulls: bool) -> (Health, Vec<String>) {
    let mut failing = Vec::new();
    let mut degraded = Vec::new();
    let newest = [
        s.last_backfill.as_ref(),
        s.last_reconcile.as_ref(),
        s.last_incremental_reconcile.as_ref(),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|r| r.started_at);
    if let Some(run) = newest
        && run.status == RunStatus::Failed
    {
        failing.push(format!(
            "last {} failed: {}",
            run.kind,
            run.error.as_deref().unwrap_or("unknown error")
        ));
    }
    match &s.last_backfill {
        None if pulls => degraded.push("no backfill has run yet".to_owned()),
        Some(b) if b.status == RunStatus::Running => degraded.push(format!(
            "initial backfill in progress ({} users so far)",
            b.seen
        )),
        _ => {}
    }
    if rejections_last_hour > 0 {
        degraded.push(format!(
            "{rejections_last_hour} webhook deliveries rejected in the last hour (wrong secret or clock?)"
        ));
    }
    if !failing.is_empty() {
        failing.extend(degraded);
        (Health::Failing, failing)
    } else if !degraded.is_empty() {
        (Health::Degraded, degraded)
    } else {
        (Health::Healthy, Vec::new())
    }
}
