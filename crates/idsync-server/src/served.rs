//! The API a provider serves (SCIM, at `/scim/{connection}/v2/…`), which
//! the identity provider writes to. The connection's provider answers the
//! protocol; idsync reads the body (with the webhook size limit), lends it
//! the store, and logs each request's method, path, status and outcome.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use idsync_core::resource::{Listed, Query, Resource, ResourceKind, Stored};
use idsync_providers::provider::WEBHOOK_PATH;
use idsync_providers::served::{
    Edit, ResourceStore, ServedApi, ServedRequest, ServedResponse, StoreFailure,
};
use idsync_providers::{Provider, registry};
use idsync_store::resources::{self, ResourceError, ResourceTables};
use idsync_store::{PgPool, StoreError};
use tokio::sync::Semaphore;

use crate::error::HttpError;
use crate::webhooks::{MAX_BODY, is_too_large};
use crate::{AppState, ConnectionRuntime};

/// The prefix of a connection's served API, after the public URL: its
/// provider's `ProviderDef::push_path`, e.g. `/scim/{connection}/v2`.
pub fn prefix(provider: &Provider, connection: &str) -> String {
    registry::lookup(provider.info().name)
        .map_or(WEBHOOK_PATH, |def| def.push_path())
        .replace("{connection}", connection)
}

/// The routes of every registered provider whose pushes arrive somewhere
/// other than the webhook path, i.e. that serve an API of their own.
pub fn router() -> Router<AppState> {
    let mut mounted = BTreeSet::new();
    let mut router = Router::new();
    for def in registry::PROVIDERS {
        let path = def.push_path();
        if path != WEBHOOK_PATH && mounted.insert(path) {
            router = router
                .route(path, any(root))
                .route(&format!("{path}/{{*rest}}"), any(serve));
        }
    }
    router
}

async fn root(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    handle(state, name, String::new(), request).await
}

async fn serve(
    State(state): State<AppState>,
    Path((name, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    handle(state, name, rest, request).await
}

#[tracing::instrument(skip_all, fields(connection = %name))]
async fn handle(state: AppState, name: String, rest: String, request: Request) -> Response {
    let conn = state.connection(&name);
    let Some((api, tables)) = conn
        .as_deref()
        .and_then(|c| c.provider.served().zip(c.resources.as_ref()))
    else {
        return HttpError::new(
            StatusCode::NOT_FOUND,
            format!("no connection named {name:?} serves this API"),
        )
        .into_response();
    };
    let (parts, body) = request.into_parts();
    // The path as received (percent-encoded), after the prefix.
    let mounted = conn
        .as_deref()
        .map(|c| prefix(&c.provider, &name))
        .unwrap_or_default();
    let path = parts
        .uri
        .path()
        .strip_prefix(&mounted)
        .unwrap_or(&rest)
        .to_owned();
    let answer = answer(&state, &mounted, api, tables, &parts, &path, body).await;
    tracing::info!(
        method = %parts.method,
        path,
        status = answer.status.as_u16(),
        outcome = answer.outcome,
        "served request"
    );
    metrics::counter!("idsync_served_requests_total",
        "connection" => name.clone(), "status" => answer.status.as_u16().to_string())
    .increment(1);
    record(&state, &name, parts.method.as_str(), &path, &answer);
    let mut response = (answer.status, answer.body).into_response();
    response.headers_mut().extend(answer.headers);
    response
}

async fn answer(
    state: &AppState,
    mounted: &str,
    api: &dyn ServedApi,
    tables: &ResourceTables,
    parts: &axum::http::request::Parts,
    path: &str,
    body: Body,
) -> ServedResponse {
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) if is_too_large(&e) => {
            return api.refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {MAX_BODY} bytes"),
            );
        }
        Err(e) => {
            return api.refuse(
                StatusCode::BAD_REQUEST,
                &format!("could not read the body: {e}"),
            );
        }
    };
    let base_url = format!("{}{mounted}", state.public_url);
    let request = ServedRequest {
        method: &parts.method,
        path,
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
        base_url: &base_url,
    };
    let store = PgStore {
        pool: &state.pool,
        tables,
    };
    api.handle(request, &store).await
}

/// The store a served API reads and writes through.
struct PgStore<'a> {
    pool: &'a PgPool,
    tables: &'a ResourceTables,
}

type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreFailure>> + Send + 'a>>;

fn failure(e: ResourceError) -> StoreFailure {
    match e {
        ResourceError::Conflict(detail) => StoreFailure::Conflict(detail),
        ResourceError::Store(e @ StoreError::Unavailable(_)) => {
            tracing::warn!(error = %e, "database unavailable for a served request");
            StoreFailure::Unavailable(e.to_string())
        }
        e => {
            tracing::error!(error = %e, "a served request could not be stored");
            StoreFailure::Failed(e.to_string())
        }
    }
}

impl ResourceStore for PgStore<'_> {
    fn insert<'a>(&'a self, kind: ResourceKind, resource: Resource) -> Call<'a, Stored> {
        Box::pin(async move {
            resources::insert(self.pool, self.tables, kind, resource)
                .await
                .map_err(failure)
        })
    }

    fn get<'a>(&'a self, kind: ResourceKind, id: &'a str) -> Call<'a, Option<Stored>> {
        Box::pin(async move {
            resources::get(self.pool, self.tables, kind, id)
                .await
                .map_err(failure)
        })
    }

    fn list<'a>(&'a self, kind: ResourceKind, query: &'a Query) -> Call<'a, Listed> {
        Box::pin(async move {
            resources::list(self.pool, self.tables, kind, query)
                .await
                .map_err(failure)
        })
    }

    fn modify<'a>(
        &'a self,
        kind: ResourceKind,
        id: &'a str,
        edit: &'a mut Edit<'a>,
    ) -> Call<'a, Option<Stored>> {
        Box::pin(async move {
            resources::modify(self.pool, self.tables, kind, id, edit)
                .await
                .map_err(failure)
        })
    }

    fn delete<'a>(&'a self, kind: ResourceKind, id: &'a str) -> Call<'a, bool> {
        Box::pin(async move {
            resources::delete(self.pool, self.tables, kind, id)
                .await
                .map_err(failure)
        })
    }
}

/// At most this many request records are written at once, and this many
/// wait; beyond that a record is skipped, so a flood of requests cannot
/// take the pool's connections from the writes themselves.
static WRITING: Semaphore = Semaphore::const_new(2);
static PENDING: Semaphore = Semaphore::const_new(256);

/// Logs the request in the background; losing a record when the database
/// is down or under a flood is acceptable.
fn record(state: &AppState, connection: &str, method: &str, path: &str, answer: &ServedResponse) {
    let Ok(pending) = PENDING.try_acquire() else {
        return;
    };
    let pool = state.pool.clone();
    let connection = connection.to_owned();
    let method = method.to_owned();
    let path = path.to_owned();
    let (status, outcome) = (answer.status.as_u16(), answer.outcome);
    tokio::spawn(async move {
        let Ok(_writing) = WRITING.acquire().await else {
            return;
        };
        if let Err(e) =
            idsync_store::served_log::record(&pool, &connection, &method, &path, status, outcome)
                .await
        {
            tracing::debug!(error = %e, "could not record the served request");
        }
        drop(pending);
    });
}

/// The tables of a connection whose provider serves an API.
pub fn tables_of(
    conn_name: &str,
    table: &idsync_store::UsersTable,
    provider: &idsync_providers::Provider,
) -> Option<ResourceTables> {
    let served = provider.served()?;
    let t = served.tables();
    Some(ResourceTables {
        connection: conn_name.to_owned(),
        users: table.clone(),
        groups: t.groups.clone(),
        members: t.members.clone(),
    })
}

impl ConnectionRuntime {
    /// Where the provider pushes to, or (served) the base URL of the API.
    pub fn push_url(&self, public_url: &str) -> String {
        format!("{public_url}{}", prefix(&self.provider, self.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use idsync_providers::registry;

    /// The routes and what `idsync providers` tells people agree.
    #[test]
    fn the_prefix_is_what_served_providers_announce() {
        let mut served = 0;
        for def in registry::PROVIDERS {
            let Ok(provider) = registry::configure(
                def.info().name,
                "t",
                def.info()
                    .keys
                    .iter()
                    .filter(|k| k.default.is_none())
                    .map(|k| (k.name, "https://x.example.com")),
            ) else {
                continue;
            };
            if provider.served().is_some() {
                served += 1;
                assert_eq!(
                    def.push_path().replace("{connection}", "c"),
                    super::prefix(&provider, "c")
                );
            }
        }
        assert!(served > 0, "no provider serves an API");
    }
}
