//! JSON admin API under `/api/v1`. Every route requires the admin bearer
//! token except the OpenAPI document itself.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::WithRejection;
use idsync_store::runs::JobKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiAdmin;
use super::dto::{Connection, Delivery, RecordedError, User, UserWithRaw};
use super::input::{Email, PageSize, UserState};
use super::service::{self, NewAccount, UserChanges, UserSearch};
use crate::AppState;
use crate::error::HttpError;

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

#[derive(Serialize, ToSchema)]
struct ErrorBody {
    error: String,
}

/// All connections with their health.
#[utoipa::path(get, path = "/connections", tag = "connections",
    responses((status = 200, body = [Connection]), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list_connections(
    _: ApiAdmin,
    State(state): State<AppState>,
) -> Result<Json<Vec<Connection>>, HttpError> {
    let all = service::overviews(&state).await?;
    Ok(Json(all.into_iter().map(Connection::from).collect()))
}

/// One connection: health, counts, last webhook, last jobs, recent errors.
#[utoipa::path(get, path = "/connections/{name}", tag = "connections",
    params(("name" = String, Path, description = "connection name")),
    responses((status = 200, body = Connection), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_connection(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
) -> Result<Json<Connection>, HttpError> {
    let conn = service::connection(&state, &name)?;
    Ok(Json(
        service::connection_overview(&state, &conn).await?.into(),
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
    let conn = service::connection(&state, &name)?;
    service::start_job(&state, conn, kind).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobStarted {
            started: kind.as_str().to_owned(),
        }),
    ))
}

/// Start a backfill in the background (resumes an interrupted one).
#[utoipa::path(post, path = "/connections/{name}/backfill", tag = "connections",
    params(("name" = String, Path, description = "connection name")),
    responses((status = 202, body = JobStarted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
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
    responses((status = 202, body = JobStarted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
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
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 500, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list_users(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
    WithRejection(Query(p), _): ApiQuery<UserListParams>,
) -> Result<Json<UserPage>, HttpError> {
    let conn = service::connection(&state, &name)?;
    let search = UserSearch {
        search: p.search,
        state: p.state.unwrap_or_default(),
        after: p.after,
        limit: PageSize::new(p.limit),
    };
    let page = service::search_users(&state, &conn, search).await?;
    Ok(Json(UserPage {
        users: page.users.into_iter().map(User::from).collect(),
        next_cursor: page.next,
    }))
}

/// One synced user with the provider's raw JSON.
#[utoipa::path(get, path = "/connections/{name}/users/{id}", tag = "users",
    params(("name" = String, Path, description = "connection name"), ("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserWithRaw), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path((name, id)), _): ApiPath<(String, String)>,
) -> Result<Json<UserWithRaw>, HttpError> {
    let conn = service::connection(&state, &name)?;
    Ok(Json(service::user(&state, &conn, &id).await?.into()))
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
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn create_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
    WithRejection(Json(body), _): ApiJson<CreateUserBody>,
) -> Result<(StatusCode, Json<ProviderUser>), HttpError> {
    let conn = service::connection(&state, &name)?;
    let account = NewAccount::new(Email::parse(&body.email)?, body.name, body.password);
    let created = service::create_user(&conn, account).await?;
    Ok((
        StatusCode::CREATED,
        Json(ProviderUser {
            id: created.id.unwrap_or_default(),
            provider_response: created.response,
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
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn update_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path((name, id)), _): ApiPath<(String, String)>,
    WithRejection(Json(body), _): ApiJson<UpdateUserBody>,
) -> Result<Json<ProviderUser>, HttpError> {
    let conn = service::connection(&state, &name)?;
    let changes = UserChanges {
        name: body.name,
        email: body.email.as_deref().map(Email::parse).transpose()?,
    };
    let updated = service::update_user(&conn, &id, changes).await?;
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
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn delete_user(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path((name, id)), _): ApiPath<(String, String)>,
) -> Result<StatusCode, HttpError> {
    let conn = service::connection(&state, &name)?;
    service::delete_user(&conn, &id).await?;
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
    responses((status = 200, body = Deliveries), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn list_deliveries(
    _: ApiAdmin,
    State(state): State<AppState>,
    WithRejection(Path(name), _): ApiPath<String>,
    WithRejection(Query(p), _): ApiQuery<DeliveryParams>,
) -> Result<Json<Deliveries>, HttpError> {
    let conn = service::connection(&state, &name)?;
    let limit = PageSize::new(p.limit);
    let deliveries = service::recent_deliveries(&state, &conn, limit).await?;
    let rejected = service::recent_errors(&state, &conn, limit.get()).await?;
    Ok(Json(Deliveries {
        deliveries: deliveries.into_iter().map(Delivery::from).collect(),
        rejected: rejected.into_iter().map(RecordedError::from).collect(),
    }))
}
