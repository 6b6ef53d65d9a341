//! What the admin API answers (and `idsync status --json` prints): the
//! store's rows as JSON, documented for the OpenAPI document. The store
//! knows nothing of either; these are built from its rows.

use chrono::{DateTime, Utc};
use idsync_store::deliveries::DeliveryRow;
use idsync_store::errors::ErrorRow;
use idsync_store::refresh::RefreshStats;
use idsync_store::runs::{JobKind, RunRow, RunStatus};
use idsync_store::status::{ConnectionStatus, ServedStatus};
use idsync_store::users::{UserDetail, UserSummary};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;

use super::overview::{ConnectionOverview, Health};

/// A stored word (a job kind, a run status) as the JSON string it is.
fn word<T: std::fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// A backfill or reconcile run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Run {
    pub id: i64,
    /// `backfill`, `reconcile` or `incremental_reconcile`.
    #[serde(serialize_with = "word")]
    #[schema(value_type = String)]
    pub kind: JobKind,
    /// `running`, `completed` or `failed`.
    #[serde(serialize_with = "word")]
    #[schema(value_type = String)]
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where an interrupted backfill resumes; the provider's own cursor.
    #[schema(value_type = Option<Object>)]
    pub cursor: Option<serde_json::Value>,
    pub pages: i64,
    pub seen: i64,
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub error: Option<String>,
}

impl From<RunRow> for Run {
    fn from(r: RunRow) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            status: r.status,
            started_at: r.started_at,
            finished_at: r.finished_at,
            cursor: r.cursor,
            pages: r.pages,
            seen: r.seen,
            added: r.added,
            updated: r.updated,
            deleted: r.deleted,
            unchanged: r.unchanged,
            error: r.error,
        }
    }
}

/// A rejected delivery or a failed job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordedError {
    /// Stable within a connection; the console links each error by it.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `webhook`, `backfill` or `reconcile`.
    pub source: String,
    /// The id of a delivery refused under rule 7, shortened if it was too
    /// long to store.
    pub message_id: Option<String>,
    pub message: String,
}

impl From<ErrorRow> for RecordedError {
    fn from(e: ErrorRow) -> Self {
        Self {
            id: e.id,
            at: e.at,
            source: e.source,
            message_id: e.message_id,
            message: e.message,
        }
    }
}

/// An accepted webhook message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub message_id: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
}

impl From<DeliveryRow> for Delivery {
    fn from(d: DeliveryRow) -> Self {
        Self {
            message_id: d.message_id,
            event_type: d.event_type,
            user_id: d.user_id,
            received_at: d.received_at,
            outcome: d.outcome,
        }
    }
}

/// The refresher's work for one connection.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Refresh {
    /// Users waiting to be fetched.
    pub queued: i64,
    /// Users fetched and applied since the connection was created.
    pub done: i64,
    /// Queued users whose last fetch failed.
    pub failing: i64,
}

impl From<RefreshStats> for Refresh {
    fn from(s: RefreshStats) -> Self {
        Self {
            queued: s.queued,
            done: s.done,
            failing: s.failing,
        }
    }
}

/// A request to a served API (SCIM), without its body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServedRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    /// After the connection's base URL, e.g. `/Users/2819c223`.
    pub path: String,
    pub status: i32,
    /// `created`, `updated`, `unchanged`, `deleted`, `read`, `listed`,
    /// `refused` or `failed`.
    pub outcome: String,
}

/// What a connection served through an API (SCIM) adds to its status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Served {
    /// Groups not deleted.
    pub groups: i64,
    /// Memberships not deleted.
    pub memberships: i64,
    /// The newest requests, newest first.
    pub recent_requests: Vec<ServedRequest>,
}

impl From<ServedStatus> for Served {
    fn from(s: ServedStatus) -> Self {
        Self {
            groups: s.groups,
            memberships: s.memberships,
            recent_requests: s
                .recent_requests
                .into_iter()
                .map(|r| ServedRequest {
                    at: r.at,
                    method: r.method,
                    path: r.path,
                    status: r.status,
                    outcome: r.outcome,
                })
                .collect(),
        }
    }
}

/// A connection's counts, last activity and recent errors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Status {
    pub connection: String,
    pub table: String,
    pub active_users: i64,
    pub deleted_users: i64,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub last_backfill: Option<Run>,
    /// The latest full reconcile.
    pub last_reconcile: Option<Run>,
    /// The latest reconcile of only the users changed since the last run.
    pub last_incremental_reconcile: Option<Run>,
    pub recent_errors: Vec<RecordedError>,
    /// Users named by notifications, waiting for or done by the refresher.
    pub refresh: Refresh,
    /// Groups and recent requests of a connection served through an API
    /// (SCIM); absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served: Option<Served>,
}

impl From<ConnectionStatus> for Status {
    fn from(s: ConnectionStatus) -> Self {
        Self {
            connection: s.connection,
            table: s.table,
            active_users: s.active_users,
            deleted_users: s.deleted_users,
            last_webhook_at: s.last_webhook_at,
            last_backfill: s.last_backfill.map(Run::from),
            last_reconcile: s.last_reconcile.map(Run::from),
            last_incremental_reconcile: s.last_incremental_reconcile.map(Run::from),
            recent_errors: s.recent_errors.into_iter().map(Into::into).collect(),
            refresh: s.refresh.into(),
            served: s.served.map(Served::from),
        }
    }
}

/// A synced user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<UserSummary> for User {
    fn from(u: UserSummary) -> Self {
        Self {
            id: u.id,
            name: u.name,
            email: u.email,
            created_at: u.created_at,
            updated_at: u.updated_at,
            deleted_at: u.deleted_at,
        }
    }
}

/// A synced user with the provider's user object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserWithRaw {
    #[serde(flatten)]
    pub user: User,
    #[schema(value_type = Object)]
    pub raw_json: serde_json::Value,
}

impl From<UserDetail> for UserWithRaw {
    fn from(d: UserDetail) -> Self {
        Self {
            user: d.user.into(),
            raw_json: d.raw_json,
        }
    }
}

/// A connection with its health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Connection {
    pub name: String,
    /// The provider's configuration name, e.g. `stack_auth`.
    pub provider: String,
    /// The provider's name for people, e.g. "Stack Auth".
    pub provider_name: String,
    pub health: Health,
    /// Why the connection is not healthy (empty when it is).
    pub reasons: Vec<String>,
    /// The URL to configure as the provider's webhook endpoint (for SCIM,
    /// the base URL the identity provider writes to).
    pub webhook_url: String,
    #[serde(flatten)]
    pub status: Status,
}

impl From<ConnectionOverview> for Connection {
    fn from(c: ConnectionOverview) -> Self {
        Self {
            name: c.name,
            provider: c.provider,
            provider_name: c.provider_name,
            health: c.health,
            reasons: c.reasons,
            webhook_url: c.webhook_url,
            status: c.status.into(),
        }
    }
}
