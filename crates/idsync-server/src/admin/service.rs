//! The admin operations, written once for the JSON API and the console:
//! connection lookup, health, user search, user management through the
//! provider, jobs on demand, deliveries and errors. Front ends parse their
//! requests into the types of [`input`](super::input), call these, and
//! render the result or the [`AdminError`] their own way; the HTTP status
//! of an error is decided in one place (`crate::error`).

use std::sync::Arc;

use idsync_providers::manage::{NewUser, UserUpdate};
use idsync_providers::{ApiError, Connected};
use idsync_store::StoreError;
use idsync_store::deliveries::{self, DeliveryRow};
use idsync_store::errors::{self, ErrorRow};
use idsync_store::runs::JobKind;
use idsync_store::users::{self, UserDetail, UserQuery, UserSummary};
use idsync_sync::SyncError;

use super::input::{Email, InvalidInput, PageSize, UserState};
use super::overview::{ConnectionOverview, overview};
use crate::{AppState, ConnectionRuntime, jobs};

/// Why an admin operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no connection named {0:?}")]
    NoConnection(String),
    /// The synced table has no such user.
    #[error("no user {id:?}")]
    NoUser { connection: String, id: String },
    #[error("error {id} of {connection:?} is not (or no longer) recorded")]
    NoError { connection: String, id: i64 },
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("a backfill or reconcile of this connection is already running")]
    Busy,
    /// The provider answered a call about one user that it has no such user.
    #[error("the provider has no user {id:?}")]
    ProviderHasNoUser {
        id: String,
        #[source]
        source: ApiError,
    },
    #[error(transparent)]
    Provider(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SyncError> for AdminError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Busy(_) => Self::Busy,
            SyncError::Store(e) => Self::Store(e),
            SyncError::Api(e) => Self::Provider(e),
        }
    }
}

/// A provider failure of a call about user `id`, where its 404 means it has
/// no such user (the caller's mistake, not a refusal).
fn about_user(id: &str) -> impl FnOnce(ApiError) -> AdminError + '_ {
    move |e| match e {
        ApiError::Status { status: 404, .. } => AdminError::ProviderHasNoUser {
            id: id.to_owned(),
            source: e,
        },
        other => AdminError::Provider(other),
    }
}

pub fn connection(state: &AppState, name: &str) -> Result<Arc<ConnectionRuntime>, AdminError> {
    state
        .connection(name)
        .ok_or_else(|| AdminError::NoConnection(name.to_owned()))
}

/// Every connection with its health, in configuration order.
pub async fn overviews(state: &AppState) -> Result<Vec<ConnectionOverview>, AdminError> {
    let mut all = Vec::new();
    for conn in state.ordered() {
        all.push(overview(state, conn).await?);
    }
    Ok(all)
}

pub async fn connection_overview(
    state: &AppState,
    conn: &ConnectionRuntime,
) -> Result<ConnectionOverview, AdminError> {
    Ok(overview(state, conn).await?)
}

/// Which synced users to list.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    /// An exact id, or a prefix of the email or the name (case-insensitive).
    pub search: Option<String>,
    pub state: UserState,
    /// Keyset cursor: list ids after this one.
    pub after: Option<String>,
    pub limit: PageSize,
}

/// One page of synced users.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<UserSummary>,
    /// The cursor of the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Synced users in id order, one page at a time (stable while users
/// arrive: the next page starts after the last id seen).
pub async fn search_users(
    state: &AppState,
    conn: &ConnectionRuntime,
    search: UserSearch,
) -> Result<UserPage, AdminError> {
    let limit = search.limit.get();
    let users = users::list(
        &state.pool,
        &conn.table,
        &UserQuery {
            search: non_empty(search.search),
            state: search.state.into(),
            after: non_empty(search.after),
            limit,
        },
    )
    .await?;
    // A full page may have a successor; the query after its last id tells.
    let next = (users.len() as i64 == limit)
        .then(|| users.last().map(|u| u.id.clone()))
        .flatten();
    Ok(UserPage { users, next })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// One synced user, or `None` if the table has no such row.
pub async fn find_user(
    state: &AppState,
    conn: &ConnectionRuntime,
    id: &str,
) -> Result<Option<UserDetail>, AdminError> {
    Ok(users::get(&state.pool, &conn.table, id).await?)
}

/// One synced user.
pub async fn user(
    state: &AppState,
    conn: &ConnectionRuntime,
    id: &str,
) -> Result<UserDetail, AdminError> {
    find_user(state, conn, id)
        .await?
        .ok_or_else(|| AdminError::NoUser {
            connection: conn.name.to_string(),
            id: id.to_owned(),
        })
}

/// A user to create at the provider.
#[derive(Debug)]
pub struct NewAccount {
    pub email: Email,
    pub name: Option<String>,
    /// Sent to the provider only; never stored or logged.
    pub password: Option<String>,
}

impl NewAccount {
    /// Blank names and passwords count as not given.
    pub fn new(email: Email, name: Option<String>, password: Option<String>) -> Self {
        Self {
            email,
            name: non_empty(name),
            password: password.filter(|p| !p.is_empty()),
        }
    }
}

/// What the provider answered a create or update with.
#[derive(Debug)]
pub struct ProviderUser {
    /// The id the provider gave the user, if its answer names one.
    pub id: Option<String>,
    pub response: serde_json::Value,
}

/// Creates the user at the provider. Nothing is written here: the row
/// follows through the webhook or the next reconcile.
pub async fn create_user(
    conn: &ConnectionRuntime,
    account: NewAccount,
) -> Result<ProviderUser, AdminError> {
    let response = conn
        .provider
        .create_user(&NewUser {
            email: account.email.into_string(),
            name: account.name,
            password: account.password,
        })
        .await?;
    let id = response
        .get("id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    Ok(ProviderUser { id, response })
}

/// Fields to change at the provider; `None` leaves one alone.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<Email>,
}

pub async fn update_user(
    conn: &ConnectionRuntime,
    id: &str,
    changes: UserChanges,
) -> Result<serde_json::Value, AdminError> {
    conn.provider
        .update_user(
            id,
            &UserUpdate {
                name: changes.name,
                email: changes.email.map(Email::into_string),
            },
        )
        .await
        .map_err(about_user(id))
}

/// Deletes the user at the provider; the row is soft-deleted when the
/// change arrives.
pub async fn delete_user(conn: &ConnectionRuntime, id: &str) -> Result<(), AdminError> {
    conn.provider.delete_user(id).await.map_err(about_user(id))
}

/// Points the provider's pushes at this connection's webhook URL through
/// its API (or, with `dry_run`, says what that would change); `None` when
/// the provider's API cannot (its setup steps are done by hand).
pub async fn connect(
    state: &AppState,
    conn: &ConnectionRuntime,
    dry_run: bool,
) -> Option<Result<Connected, AdminError>> {
    let url = conn.push_url(&state.public_url);
    let result = conn.provider.connect(&url, dry_run).await?;
    Some(result.map_err(AdminError::from))
}

/// Starts a job in the background, unless one runs for this connection
/// (here or on another replica).
pub async fn start_job(
    state: &AppState,
    conn: Arc<ConnectionRuntime>,
    kind: JobKind,
) -> Result<(), AdminError> {
    if !conn.provider.pulls() {
        return Err(AdminError::Provider(ApiError::Unsupported(
            "this connection's provider writes to idsync; it has no API to backfill or reconcile from",
        )));
    }
    Ok(jobs::start_now(state, conn, kind).await?)
}

/// Accepted webhook messages, most recent first.
pub async fn recent_deliveries(
    state: &AppState,
    conn: &ConnectionRuntime,
    limit: PageSize,
) -> Result<Vec<DeliveryRow>, AdminError> {
    Ok(deliveries::recent(&state.pool, conn.name.as_str(), limit.get()).await?)
}

/// Rejected deliveries and failed jobs, most recent first.
pub async fn recent_errors(
    state: &AppState,
    conn: &ConnectionRuntime,
    limit: i64,
) -> Result<Vec<ErrorRow>, AdminError> {
    Ok(errors::recent(&state.pool, conn.name.as_str(), limit).await?)
}

/// One recorded error, among the `kept` newest.
pub async fn recorded_error(
    state: &AppState,
    conn: &ConnectionRuntime,
    id: i64,
    kept: i64,
) -> Result<ErrorRow, AdminError> {
    // Errors are capped per connection, so the kept ones are one small read.
    recent_errors(state, conn, kept)
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| AdminError::NoError {
            connection: conn.name.to_string(),
            id,
        })
}
