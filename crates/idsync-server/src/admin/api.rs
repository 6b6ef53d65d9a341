//! JSON admin API under `/api/v1`. Every route requires the admin bearer
//! token except the OpenAPI document itself.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::WithRejection;
use idsync_providers::ApiError;
use idsync_providers::manage::{NewUser, UserUpdate};
use idsync_store::users::{self, UserQuery};
use idsync_sync::SyncError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiAdmin;
use super::dto::{Connection, Delivery, RecordedError, User, UserWithRaw};
use super::input::UserState;
use super::overview::overview;
use crate::error::HttpError;
use crate::jobs;
use crate::{AppState, ConnectionRuntime};
use idsync_store::runs::JobKind;

#[derive(OpenApi)]
#[openapi(
    info(title = "idsync admin API", description = "Connections, synced users, deliveries and user management. Send `Authorization: Bearer <IDSYNC_ADMIN_TOKEN>`."),
    modifiers(&BearerAuth),
    // Used only in query parameters, which utoipa-axum does not collect.
    components(schemas(UserState)),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes plus `GET /api/v1/openapi.json`.
pub fn router() -> Router<AppState> {
    let (routes, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .routes(routes!(list_connections))
                .routes(routes!(get_connection))
                .routes(routes!(start_backfill))
                .routes(routes!(start_reconcile))
                .routes(routes!(list_users, create_user))
                .routes(routes!(get_user, update_user, delete_user))
                .routes(routes!(list_deliveries)),
        )
        .split_for_parts();
    let doc = Arc::new(doc);
    routes.route(
        "/api/v1/openapi.json",
        get(move || {
            let doc = Arc::clone(&doc);
            async move { Json(doc.as_ref().clone()) }
        }),
    )
}

// axum's extractors, answering a malformed path, query or body with the
// API's JSON error body instead of axum's plain text.
type ApiPath<T> = WithRejection<Path<T>, HttpError>;
type ApiQuery<T> = WithRejection<Query<T>, HttpError>;
type ApiJson<T> = WithRejection<Json<T>, HttpError>;

fn find(state: &AppState, name: &str) -> Result<Arc<ConnectionRuntime>, HttpError> {
    state.connection(name).ok_or_else(|| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            format!("no connection named {name:?}"),
        )
    })
}

fn internal(e: impl std::fmt::Display) -> HttpError {
    tracing::error!(error = %e, "admin API error");
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database unavailable, try again",
    )
}

/// A provider API failure, passed on with a status that says whose fault it is.
fn provider_error(e: ApiError) -> HttpError {
    match e {
        ApiError::Status { status, body } if (400..500).contains(&status) => HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the provider refused: {body}"),
        ),
        ApiError::Unsupported(why) => HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, why),
        other => HttpError::new(StatusCode::BAD_GATEWAY, format!("provider API: {other}")),
    }
}

/// [`provider_error`] for a call about one user, where the provider's 404
/// means it has no such user: the caller's mistake, not a refusal.
fn user_provider_error(id: &str) -> impl FnOnce(ApiError) -> HttpError + '_ {
    move |e| match e {
        ApiError::Status { status: 404, .. } => HttpError::new(
            StatusCode::NOT_FOUND,
            format!("the provider has no user {id:?}"),
        ),
        other => provider_error(other),
    }
}

/// The same check for a new user's email and a changed one.
fn checked_email(email: String) -> Result<String, HttpError> {
    if email.contains('@') {
        Ok(email)
    } else {
        Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "email is not an email address",
        ))
    }
}

#[derive(Serialize, ToSchema)]
struct ErrorBody {
    error: String,
}

/// All connections with their health.
#[utoipa::path(get, path = "/connections", tag = "connections",
    responses((status = 200, body = [Connection]), (status = 401, body = ErrorBody)))]
async fn list_connections(
    _: ApiAdmin,
    State(state): State<AppState>,
) -> Result<Json<Vec<Connection>>, HttpError> {
    let mut all = Vec::new();
    for conn in state.ordered() {
        all.push(overview(&state, conn).await.map_err(internal)?.into());
    }
    Ok(Json(all))
}

/// One connection: health, counts, last webhook, last jobs, recent errors.
#[utoipa::path(get, path = "/connections/{name}", tag = "connections",
    params(("name" = String, Path, description = "connection name")),
    responses((status = 200, body = Connection), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_connection(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
) -> Result<Json<Connection>, HttpError> {
    let conn = find(&state, &name)?;
    Ok(Json(
        overview(&state, &conn).await.map_err(internal)?.into(),
    ))
}

#[derive(Serialize, ToSchema)]
struct JobStarted {
    /// Follow progress in `last_backfill` / `last_reconcile` of the connection.
    started: String,
}

async fn start(
    state: AppState,
    name: String,
    kind: JobKind,
) -> Result<(StatusCode, Json<JobStarted>), HttpError> {
    let conn = find(&state, &name)?;
    match jobs::start_now(&state, conn, kind).await {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(JobStarted {
                started: kind.as_str().to_owned(),
            }),
        )),
        Err(SyncError::Busy(_)) => Err(HttpError::new(
            StatusCode::CONFLICT,
            "a backfill or reconcile of this connection is already running",
        )),
        Err(e) => Err(internal(e)),
    }
}

/// Start a backfill in the background (resumes an interrupted one).
#[utoipa::path(post, path = "/connections/{name}/backfill", tag = "connections",
    params(("name" = String, Path, description = "connection name")),
    responses((status = 202, body = JobStarted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn start_backfill(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
) -> Result<(StatusCode, Json<JobStarted>), HttpError> {
    start(state, name, JobKind::Backfill).await
}

/// Start a reconcile pass in the background.
#[utoipa::path(post, path = "/connections/{name}/reconcile", tag = "connections",
    params(("name" = String, Path, description = "connection name")),
    responses((status = 202, body = JobStarted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn start_reconcile(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
) -> Result<(StatusCode, Json<JobStarted>), HttpError> {
    start(state, name, JobKind::Reconcile).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UserListParams {
    /// Exact id, or a prefix of the email or name (case-insensitive).
    search: Option<String>,
    /// all (default), active or deleted.
    state: Option<UserState>,
    /// Continue after this id (`next_cursor` of the previous page).
    after: Option<String>,
    /// Page size, 1-500 (default 50).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct UserPage {
    users: Vec<User>,
    /// Pass as `after` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// Synced users, in id order, with keyset pagination.
#[utoipa::path(get, path = "/connections/{name}/users", tag = "users",
    params(("name" = String, Path, description = "connection name"), UserListParams),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_users(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
    WithRejection(Query(p), _): ApiQuery<UserListParams>,
) -> Result<Json<UserPage>, HttpError> {
    let conn = find(&state, &name)?;
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let query = UserQuery {
        search: p.search,
        state: p.state.unwrap_or_default().into(),
        after: p.after,
        limit,
    };
    let users = users::list(&state.pool, &conn.table, &query)
        .await
        .map_err(internal)?;
    let next_cursor = (users.len() as i64 == limit)
        .then(|| users.last().map(|u| u.id.clone()))
        .flatten();
    let users = users.into_iter().map(User::from).collect();
    Ok(Json(UserPage { users, next_cursor }))
}

/// One synced user with the provider's raw JSON.
#[utoipa::path(get, path = "/connections/{name}/users/{id}", tag = "users",
    params(("name" = String, Path, description = "connection name"), ("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserWithRaw), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path((name, id)), _): ApiPath<(String, String)>,
) -> Result<Json<UserWithRaw>, HttpError> {
    let conn = find(&state, &name)?;
    users::get(&state.pool, &conn.table, &id)
        .await
        .map_err(internal)?
        .map(|u| Json(u.into()))
        .ok_or_else(|| HttpError::new(StatusCode::NOT_FOUND, format!("no user {id:?}")))
}

#[derive(Deserialize, ToSchema)]
struct CreateUserBody {
    email: String,
    name: Option<String>,
    /// Optional; sent to the provider, never stored or logged by idsync.
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct ProviderUser {
    /// The id the provider gave the user; the row appears once the change
    /// arrives through the webhook (or the next reconcile).
    id: String,
    #[schema(value_type = Object)]
    provider_response: serde_json::Value,
}

/// Create a user at the provider. The synced row follows through the
/// normal sync path.
#[utoipa::path(post, path = "/connections/{name}/users", tag = "users",
    params(("name" = String, Path, description = "connection name")),
    request_body = CreateUserBody,
    responses((status = 201, body = ProviderUser), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn create_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
    WithRejection(Json(body), _): ApiJson<CreateUserBody>,
) -> Result<(StatusCode, Json<ProviderUser>), HttpError> {
    let conn = find(&state, &name)?;
    let email = checked_email(body.email)?;
    let created = conn
        .provider
        .create_user(&NewUser {
            email,
            name: body.name.filter(|n| !n.trim().is_empty()),
            password: body.password.filter(|p| !p.is_empty()),
        })
        .await
        .map_err(provider_error)?;
    let id = created
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    Ok((
        StatusCode::CREATED,
        Json(ProviderUser {
            id,
            provider_response: created,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
struct UpdateUserBody {
    name: Option<String>,
    email: Option<String>,
}

/// Change a user's name or email at the provider.
#[utoipa::path(patch, path = "/connections/{name}/users/{id}", tag = "users",
    params(("name" = String, Path, description = "connection name"), ("id" = String, Path, description = "user id")),
    request_body = UpdateUserBody,
    responses((status = 200, body = ProviderUser), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn update_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path((name, id)), _): ApiPath<(String, String)>,
    WithRejection(Json(body), _): ApiJson<UpdateUserBody>,
) -> Result<Json<ProviderUser>, HttpError> {
    let conn = find(&state, &name)?;
    let email = body.email.map(checked_email).transpose()?;
    let updated = conn
        .provider
        .update_user(
            &id,
            &UserUpdate {
                name: body.name,
                email,
            },
        )
        .await
        .map_err(user_provider_error(&id))?;
    Ok(Json(ProviderUser {
        id,
        provider_response: updated,
    }))
}

/// Delete a user at the provider; the row is soft-deleted when the change
/// arrives.
#[utoipa::path(delete, path = "/connections/{name}/users/{id}", tag = "users",
    params(("name" = String, Path, description = "connection name"), ("id" = String, Path, description = "user id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn delete_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path((name, id)), _): ApiPath<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let conn = find(&state, &name)?;
    conn.provider
        .delete_user(&id)
        .await
        .map_err(user_provider_error(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryParams {
    /// Most recent first; 1-500 (default 50).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct Deliveries {
    /// Accepted webhook messages with their outcome.
    deliveries: Vec<Delivery>,
    /// Rejected deliveries and failed jobs, with the reason.
    rejected: Vec<RecordedError>,
}

/// Recent webhook deliveries and rejections.
#[utoipa::path(get, path = "/connections/{name}/deliveries", tag = "deliveries",
    params(("name" = String, Path, description = "connection name"), DeliveryParams),
    responses((status = 200, body = Deliveries), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
    WithRejection(Query(p), _): ApiQuery<DeliveryParams>,
) -> Result<Json<Deliveries>, HttpError> {
    let conn = find(&state, &name)?;
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    let name = conn.name.as_str();
    Ok(Json(Deliveries {
        deliveries: idsync_store::deliveries::recent(&state.pool, name, limit)
            .await
            .map_err(internal)?
            .into_iter()
            .map(Delivery::from)
            .collect(),
        rejected: idsync_store::errors::recent(&state.pool, name, limit)
            .await
            .map_err(internal)?
            .into_iter()
            .map(RecordedError::from)
            .collect(),
    }))
}
