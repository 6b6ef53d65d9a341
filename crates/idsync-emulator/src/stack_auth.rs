//! Stack Auth: the server API's user routes (`/api/v1/users`), its user
//! object, errors and webhook payloads, as its backend produces them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use serde_json::{Value, json};

use crate::config::{is_uuid, uuid_v4};
use crate::emulator::Core;
use crate::request::{Body, BodyError, WrongType};
use crate::seed;
use crate::state::{Inner, Order, StoredUser};

pub(crate) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(create_user))
        .route(
            "/api/v1/users/{user_id}",
            get(read_user).patch(update_user).delete(delete_user),
        )
}

/// An error answer. Built into a response only at the end, which keeps
/// the `Result`s small.
enum ApiError {
    /// Stack's "known error": `{code, details?, error}` plus the
    /// `x-stack-known-error` header.
    Known {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// A plain `StatusError`, which Stack answers as text.
    Plain {
        status: StatusCode,
        message: &'static str,
    },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Known {
                status,
                code,
                message,
                details,
            } => {
                let mut body = json!({ "code": code, "error": message });
                if let Some(details) = details {
                    body["details"] = details;
                }
                let mut response = (status, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert("x-stack-known-error", HeaderValue::from_static(code));
                response
            }
            Self::Plain { status, message } => (status, message).into_response(),
        }
    }
}

type Reply = Result<Response, ApiError>;

fn known_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    details: Option<Value>,
) -> ApiError {
    ApiError::Known {
        status,
        code,
        message: message.to_owned(),
        details,
    }
}

fn schema_error(message: &str) -> ApiError {
    known_error(
        StatusCode::BAD_REQUEST,
        "SCHEMA_ERROR",
        message,
        Some(json!({ "message": message })),
    )
}

fn wrong_type(method: &str, path: &str, e: WrongType) -> ApiError {
    schema_error(&format!(
        "Request validation failed on {method} {path}:\n  - body.{} must be a `{}` type",
        e.field, e.expected
    ))
}

fn user_not_found() -> ApiError {
    known_error(
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
        "User not found.",
        None,
    )
}

fn status_error(status: StatusCode, message: &'static str) -> ApiError {
    ApiError::Plain { status, message }
}

pub(crate) fn rate_limited() -> Response {
    known_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        "Too many requests. Please wait a moment and try again.",
        None,
    )
    .into_response()
}

/// Checks the server-key headers in the order Stack's backend does.
fn authorize(core: &Core, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let server_key = header("x-stack-secret-server-key");
    let admin_key = header("x-stack-super-secret-admin-key");
    let client_key = header("x-stack-publishable-client-key");
    let any_key = server_key.is_some()
        || admin_key.is_some()
        || client_key.is_some()
        || header("x-stack-admin-access-token").is_some();
    let bad_request = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let Some(access_type) = header("x-stack-access-type") else {
        return Err(if any_key {
            known_error(
                bad_request,
                "PROJECT_KEY_WITHOUT_ACCESS_TYPE",
                "Either an API key or an admin access token was provided, but the x-stack-access-type header is missing. Set it to 'client', 'server', or 'admin' as appropriate.",
                None,
            )
        } else {
            known_error(
                bad_request,
                "ACCESS_TYPE_REQUIRED",
                "You must specify an access level for this Stack project. Make sure project API keys are provided (eg. x-stack-publishable-client-key) and you set the x-stack-access-type header to 'client', 'server', or 'admin'.",
                None,
            )
        });
    };
    if !matches!(access_type, "client" | "server" | "admin") {
        return Err(known_error(
            bad_request,
            "INVALID_ACCESS_TYPE",
            &format!(
                "The x-stack-access-type header must be 'client', 'server', or 'admin', but was '{access_type}'."
            ),
            None,
        ));
    }
    let Some(project_id) = header("x-stack-project-id") else {
        return Err(known_error(
            bad_request,
            "ACCESS_TYPE_WITHOUT_PROJECT_ID",
            &format!(
                "The x-stack-access-type header was '{access_type}', but the x-stack-project-id header was not provided."
            ),
            Some(json!({ "request_type": access_type })),
        ));
    };
    let details = Some(json!({ "project_id": project_id }));
    // Only the server key exists here: client and admin access always fail.
    match (access_type, client_key, server_key, admin_key) {
        ("client", None, _, _) => Err(known_error(
            unauthorized,
            "CLIENT_AUTHENTICATION_REQUIRED",
            "The publishable client key must be provided.",
            None,
        )),
        ("client", Some(_), _, _) => Err(known_error(
            unauthorized,
            "INVALID_PUBLISHABLE_CLIENT_KEY",
            &format!(
                "The publishable key is not valid for the project {project_id:?}. Does the project and/or the key exist?"
            ),
            details,
        )),
        ("admin", _, _, None) => Err(known_error(
            unauthorized,
            "ADMIN_AUTHENTICATION_REQUIRED",
            "The super secret admin key must be provided.",
            None,
        )),
        ("admin", _, _, Some(_)) => Err(known_error(
            unauthorized,
            "INVALID_SUPER_SECRET_ADMIN_KEY",
            &format!(
                "The super secret admin key is not valid for the project {project_id:?}. Does the project and/or the key exist?"
            ),
            details,
        )),
        (_, _, None, _) => Err(known_error(
            unauthorized,
            "SERVER_AUTHENTICATION_REQUIRED",
            "The secret server key must be provided.",
            None,
        )),
        (_, _, Some(key), _)
            if key == core.config.api_key && project_id == core.config.project_id =>
        {
            Ok(())
        }
        (_, _, Some(_), _) => Err(known_error(
            unauthorized,
            "INVALID_SECRET_SERVER_KEY",
            &format!(
                "The secret server key is not valid for the project {project_id:?}. Does the project and/or the key exist?"
            ),
            details,
        )),
    }
}

// ---- the user object ----

/// The pieces of a user that the server API lets one set.
struct Fields {
    display_name: Option<String>,
    primary_email: Option<String>,
    primary_email_verified: bool,
    primary_email_auth_enabled: bool,
    has_password: bool,
    otp_auth_enabled: bool,
    passkey_auth_enabled: bool,
    is_anonymous: bool,
    client_metadata: Value,
    client_read_only_metadata: Value,
    server_metadata: Value,
}

fn user_json(id: &str, f: Fields, signed_up_ms: i64, last_active_ms: i64) -> Value {
    json!({
        "id": id,
        "primary_email": f.primary_email,
        "primary_email_verified": f.primary_email_verified,
        "primary_email_auth_enabled": f.primary_email_auth_enabled,
        "display_name": f.display_name,
        "selected_team": null,
        "selected_team_id": null,
        "profile_image_url": null,
        "signed_up_at_millis": signed_up_ms,
        "has_password": f.has_password,
        "otp_auth_enabled": f.otp_auth_enabled,
        "passkey_auth_enabled": f.passkey_auth_enabled,
        "auth_with_email": f.has_password || f.otp_auth_enabled,
        "requires_totp_mfa": false,
        "client_metadata": f.client_metadata,
        "client_read_only_metadata": f.client_read_only_metadata,
        "server_metadata": f.server_metadata,
        "last_active_at_millis": last_active_ms,
        "is_anonymous": f.is_anonymous,
        // Stack counts anonymous users as restricted (they must sign up first).
        "is_restricted": f.is_anonymous,
        "oauth_providers": [],
    })
}

/// Wraps a user object for the store. Only an address used for sign-in
/// must be unique in Stack Auth.
fn stored(json: Value, updated_ms: i64) -> StoredUser {
    let auth_email = json["primary_email_auth_enabled"]
        .as_bool()
        .unwrap_or(false)
        .then(|| json["primary_email"].as_str().map(str::to_lowercase))
        .flatten();
    StoredUser {
        created_ms: json["signed_up_at_millis"].as_i64().unwrap_or_default(),
        updated_ms,
        emails: auth_email.into_iter().collect(),
        json,
    }
}

pub(crate) fn generate(inner: &mut Inner, created_ms: i64, until_ms: i64) -> (String, StoredUser) {
    let id = uuid_v4(&mut inner.rng);
    let anonymous = inner.rng.random_bool(0.05);
    let person = seed::person(&mut inner.rng);
    let email = (!anonymous && inner.rng.random_bool(0.96))
        .then(|| seed::fresh_email(inner, &person.handle));
    let rng = &mut inner.rng;
    let fields = Fields {
        display_name: if anonymous { None } else { person.display },
        primary_email_verified: email.is_some() && rng.random_bool(0.85),
        primary_email_auth_enabled: email.is_some() && rng.random_bool(0.9),
        primary_email: email,
        has_password: !anonymous && rng.random_bool(0.6),
        otp_auth_enabled: !anonymous && rng.random_bool(0.2),
        passkey_auth_enabled: !anonymous && rng.random_bool(0.05),
        is_anonymous: anonymous,
        client_metadata: json!({}),
        client_read_only_metadata: json!({}),
        server_metadata: json!({}),
    };
    let last_active = rng.random_range(created_ms..=until_ms.max(created_ms));
    let json = user_json(&id, fields, created_ms, last_active);
    (id, stored(json, created_ms))
}

/// A new name, and now and then a new (unverified) primary email.
pub(crate) fn changed(inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
    let mut json = user.json.clone();
    let person = seed::different_person(&mut inner.rng, json["display_name"].as_str());
    json["display_name"] = json!(person.display);
    if !json["is_anonymous"].as_bool().unwrap_or(false) && inner.rng.random_bool(0.3) {
        let handle = seed::person(&mut inner.rng).handle;
        json["primary_email"] = json!(seed::fresh_email(inner, &handle));
        json["primary_email_verified"] = json!(false);
    }
    stored(json, now_ms)
}

pub(crate) fn deleted(id: &str) -> Value {
    json!({ "id": id, "teams": [] })
}

pub(crate) fn event_body(event_type: &str, data: Value) -> String {
    json!({ "type": event_type, "data": data }).to_string()
}

// ---- routes ----

/// Validated list query.
struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    desc: bool,
    include_anonymous: bool,
    include_restricted: bool,
    only_anonymous: bool,
    query: Option<String>,
}

fn parse_list_query(q: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let fail = |what: String| {
        schema_error(&format!(
            "Request validation failed on GET /api/v1/users:\n  - {what}"
        ))
    };
    const KNOWN: [&str; 9] = [
        "limit",
        "cursor",
        "order_by",
        "desc",
        "query",
        "include_anonymous",
        "include_restricted",
        "only_anonymous",
        "team_id",
    ];
    if let Some(unknown) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(fail(format!(
            "query contains unknown properties: {unknown}"
        )));
    }
    let flag = |name: &str| match q.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(fail(format!(
            "query.{name} must be one of the following values: true, false"
        ))),
    };
    let limit = match q.get("limit") {
        None => None,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(fail(
                    "query.limit must be an integer greater than or equal to 1".into(),
                ));
            }
        },
    };
    if let Some(cursor) = q.get("cursor").filter(|c| !is_uuid(c)) {
        return Err(fail(format!(
            "query.cursor must be a valid UUID (got {cursor:?})"
        )));
    }
    if q.get("order_by").is_some_and(|o| o != "signed_up_at") {
        return Err(fail(
            "query.order_by must be one of the following values: signed_up_at".into(),
        ));
    }
    if q.contains_key("team_id") {
        // The emulator has no teams: refuse rather than pretend.
        return Err(fail(
            "query.team_id is not supported by the idsync emulator".into(),
        ));
    }
    let parsed = ListQuery {
        limit,
        cursor: q.get("cursor").cloned(),
        desc: flag("desc")?,
        include_anonymous: flag("include_anonymous")?,
        include_restricted: flag("include_restricted")?,
        only_anonymous: flag("only_anonymous")?,
        query: q.get("query").filter(|s| !s.is_empty()).cloned(),
    };
    if parsed.only_anonymous && !parsed.include_anonymous {
        return Err(status_error(
            StatusCode::BAD_REQUEST,
            "only_anonymous=true requires include_anonymous=true",
        ));
    }
    Ok(parsed)
}

impl ListQuery {
    fn admits(&self, user: &Value) -> bool {
        let anonymous = user["is_anonymous"].as_bool().unwrap_or(false);
        let restricted = user["is_restricted"].as_bool().unwrap_or(false);
        if (self.only_anonymous && !anonymous)
            || (anonymous && !self.include_anonymous)
            || (restricted && !(self.include_restricted || self.include_anonymous))
        {
            return false;
        }
        let Some(query) = &self.query else {
            return true;
        };
        // Stack matches the id exactly, and name and email case-insensitively.
        let needle = query.to_lowercase();
        let contains = |field: &str| {
            user[field]
                .as_str()
                .is_some_and(|v| v.to_lowercase().contains(&needle))
        };
        user["id"].as_str() == Some(query.as_str())
            || contains("display_name")
            || contains("primary_email")
    }
}

async fn list_users(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    authorize(&core, &headers)?;
    let params = parse_list_query(&q)?;
    let mut inner = core.lock();
    if !core.list_permit(&mut inner) {
        return Err(status_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
        ));
    }
    let store = &inner.store;
    let order = store.ids(Order::Created);
    // The cursor is the first item of the page. Like Stack's Prisma query,
    // a cursor that names no listed user (deleted, or filtered out) gives
    // an empty page, not an error.
    let start = match &params.cursor {
        None => Some(if params.desc {
            order.len().checked_sub(1)
        } else {
            Some(0)
        }),
        Some(cursor) => store
            .created_position(cursor)
            .filter(|_| store.get(cursor).is_some_and(|u| params.admits(&u.json)))
            .map(Some),
    };
    let keys: Box<dyn Iterator<Item = &(i64, String)>> = match start {
        None | Some(None) => Box::new(std::iter::empty()),
        Some(Some(at)) if params.desc => Box::new(order[..=at].iter().rev()),
        Some(Some(at)) => Box::new(order[at..].iter()),
    };
    let wanted = params.limit.map_or(usize::MAX, |n| n + 1);
    let mut page: Vec<&Value> = keys
        .filter_map(|(_, id)| store.get(id).map(|u| &u.json))
        .filter(|u| params.admits(u))
        .take(wanted)
        .collect();
    let next_cursor = match params.limit {
        Some(limit) if page.len() > limit => page.pop().map(|u| u["id"].clone()),
        _ => None,
    };
    Ok(Json(json!({
        "items": page,
        "is_paginated": true,
        "pagination": { "next_cursor": next_cursor },
    }))
    .into_response())
}

/// Path ids must be UUIDs; `me` needs a signed-in user, which a server
/// key request never has.
fn check_user_id(method: &str, user_id: &str) -> Result<(), ApiError> {
    if user_id == "me" {
        return Err(known_error(
            StatusCode::BAD_REQUEST,
            "CANNOT_GET_OWN_USER_WITHOUT_USER",
            "You have specified 'me' as a userId, but did not provide authentication for a user.",
            None,
        ));
    }
    if !is_uuid(user_id) {
        return Err(schema_error(&format!(
            "Request validation failed on {method} /api/v1/users/{user_id}:\n  - params.user_id must be a valid UUID"
        )));
    }
    Ok(())
}

async fn read_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    check_user_id("GET", &user_id)?;
    let inner = core.lock();
    let user = inner.store.get(&user_id).ok_or_else(user_not_found)?;
    Ok(Json(user.json.clone()).into_response())
}

fn parse_body(bytes: &[u8]) -> Result<Body, ApiError> {
    Body::parse(bytes).map_err(|e| match e {
        BodyError::InvalidJson => known_error(
            StatusCode::BAD_REQUEST,
            "BODY_PARSING_ERROR",
            "Invalid JSON in request body",
            None,
        ),
        BodyError::NotAnObject => {
            schema_error("Request validation failed:\n  - body must be a `object` type")
        }
    })
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Stack's own checks on the primary email settings.
fn check_email_settings(
    inner: &Inner,
    user_id: &str,
    email: Option<&str>,
    verified: bool,
    auth_enabled: bool,
) -> Result<(), ApiError> {
    let Some(email) = email else {
        if auth_enabled {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "primary_email_auth_enabled cannot be true without primary_email",
            ));
        }
        if verified {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "primary_email_verified cannot be true without primary_email",
            ));
        }
        return Ok(());
    };
    match inner.store.email_owner(email) {
        Some(owner) if auth_enabled && owner != user_id => Err(known_error(
            StatusCode::CONFLICT,
            "USER_EMAIL_ALREADY_EXISTS",
            &format!("A user with email {email:?} already exists."),
            Some(json!({ "email": email, "would_work_if_email_was_verified": false })),
        )),
        _ => Ok(()),
    }
}

async fn create_user(State(core): State<Arc<Core>>, headers: HeaderMap, bytes: Bytes) -> Reply {
    authorize(&core, &headers)?;
    let body = parse_body(&bytes)?;
    let bad = |e| wrong_type("POST", "/api/v1/users", e);
    let email = body
        .string("primary_email")
        .map_err(bad)?
        .flatten()
        .map(|e| normalize_email(&e));
    let verified = body
        .bool("primary_email_verified")
        .map_err(bad)?
        .unwrap_or(false);
    let auth_enabled = body
        .bool("primary_email_auth_enabled")
        .map_err(bad)?
        .unwrap_or(false);
    let metadata = |field| {
        body.object(field)
            .map_err(bad)
            .map(|m| m.unwrap_or_else(|| json!({})))
    };
    let fields = Fields {
        // Stack stores an empty name as none.
        display_name: body
            .string("display_name")
            .map_err(bad)?
            .flatten()
            .filter(|n| !n.is_empty()),
        has_password: body.string("password").map_err(bad)?.flatten().is_some(),
        otp_auth_enabled: body.bool("otp_auth_enabled").map_err(bad)?.unwrap_or(false),
        passkey_auth_enabled: false,
        is_anonymous: body.bool("is_anonymous").map_err(bad)?.unwrap_or(false),
        client_metadata: metadata("client_metadata")?,
        client_read_only_metadata: metadata("client_read_only_metadata")?,
        server_metadata: metadata("server_metadata")?,
        primary_email_verified: verified,
        primary_email_auth_enabled: auth_enabled,
        primary_email: email,
    };
    let mut inner = core.lock();
    check_email_settings(
        &inner,
        "",
        fields.primary_email.as_deref(),
        verified,
        auth_enabled,
    )?;
    let id = uuid_v4(&mut inner.rng);
    let now = inner.now().timestamp_millis();
    let user = stored(user_json(&id, fields, now, now), now);
    let json = core.add(&mut inner, &id, user);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

async fn update_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    bytes: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    check_user_id("PATCH", &user_id)?;
    let body = parse_body(&bytes)?;
    let path = format!("/api/v1/users/{user_id}");
    let bad = |e| wrong_type("PATCH", &path, e);
    let mut inner = core.lock();
    let mut json = inner
        .store
        .get(&user_id)
        .ok_or_else(user_not_found)?
        .json
        .clone();
    if let Some(name) = body.string("display_name").map_err(bad)? {
        json["display_name"] = json!(name.filter(|n| !n.is_empty()));
    }
    let old_email = json["primary_email"].as_str().map(str::to_owned);
    if let Some(email) = body.string("primary_email").map_err(bad)? {
        let email = email.map(|e| normalize_email(&e));
        if email != old_email {
            // A new address starts unverified, and none can't be used to sign in.
            json["primary_email_verified"] = json!(false);
            if email.is_none() {
                json["primary_email_auth_enabled"] = json!(false);
            }
        }
        json["primary_email"] = json!(email);
    }
    for flag in ["primary_email_verified", "primary_email_auth_enabled"] {
        if let Some(on) = body.bool(flag).map_err(bad)? {
            json[flag] = json!(on);
        }
    }
    for field in [
        "client_metadata",
        "client_read_only_metadata",
        "server_metadata",
    ] {
        if let Some(value) = body.object(field).map_err(bad)? {
            json[field] = value;
        }
    }
    if let Some(password) = body.string("password").map_err(bad)? {
        json["has_password"] = json!(password.is_some());
        json["auth_with_email"] =
            json!(password.is_some() || json["otp_auth_enabled"] == json!(true));
    }
    check_email_settings(
        &inner,
        &user_id,
        json["primary_email"].as_str(),
        json["primary_email_verified"].as_bool().unwrap_or(false),
        json["primary_email_auth_enabled"]
            .as_bool()
            .unwrap_or(false),
    )?;
    let now = inner.now().timestamp_millis();
    let json = core.replace(&mut inner, &user_id, stored(json, now));
    Ok(Json(json).into_response())
}

async fn delete_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    check_user_id("DELETE", &user_id)?;
    let mut inner = core.lock();
    if !core.remove(&mut inner, &user_id) {
        return Err(user_not_found());
    }
    Ok(Json(json!({ "success": true })).into_response())
}
