//! Clerk: the Backend API's user routes (`/v1/users`), its user object,
//! errors and webhook envelopes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde_json::{Value, json};

use crate::emulator::Core;
use crate::request::{Body, BodyError, WrongType};
use crate::state::{Inner, Order, StoredUser};
use crate::{ksuid, seed};

const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 10;
const MIN_PASSWORD_LEN: usize = 8;
/// Clerk's webhook `event_attributes.http_request.user_agent`: the browser
/// of whoever caused the change.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

pub(crate) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/count", get(count_users))
        .route(
            "/v1/users/{user_id}",
            get(read_user).patch(update_user).delete(delete_user),
        )
}

/// Clerk's error shape: `{"errors":[{message, long_message, code, meta?}],
/// "clerk_trace_id"}`. Built into a response only at the end, which keeps
/// the `Result`s small.
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    long_message: String,
    meta: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut entry = json!({
            "message": self.message,
            "long_message": self.long_message,
            "code": self.code,
        });
        if let Some(meta) = self.meta {
            entry["meta"] = meta;
        }
        let trace = format!("{:032x}", rand::rng().random::<u128>());
        let body = json!({ "errors": [entry], "clerk_trace_id": trace });
        (self.status, Json(body)).into_response()
    }
}

type Reply = Result<Response, ApiError>;

fn error(
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    long_message: &str,
    meta: Option<Value>,
) -> ApiError {
    ApiError {
        status,
        code,
        message,
        long_message: long_message.to_owned(),
        meta,
    }
}

fn invalid_param(param: &str, long_message: &str) -> ApiError {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "form_param_value_invalid",
        "is invalid",
        long_message,
        Some(json!({ "param_name": param })),
    )
}

fn wrong_type(e: WrongType) -> ApiError {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "form_param_format_invalid",
        "is invalid",
        &format!("{} must be a {}", e.field, e.expected),
        Some(json!({ "param_name": e.field })),
    )
}

fn not_found() -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "resource_not_found",
        "not found",
        "Resource not found",
        None,
    )
}

pub(crate) fn rate_limited() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "Too many requests",
        "Too many requests, please retry later",
        None,
    )
    .into_response()
}

fn authorize(core: &Core, headers: &HeaderMap) -> Result<(), ApiError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token == Some(core.config.api_key.as_str()) {
        return Ok(());
    }
    Err(error(
        StatusCode::UNAUTHORIZED,
        "authentication_invalid",
        "Invalid authentication",
        "Unable to authenticate the request, you need to supply an active API key",
        None,
    ))
}

// ---- the user object ----

fn email_json(id: &str, address: &str, strategy: &str) -> Value {
    json!({
        "id": id,
        "object": "email_address",
        "email_address": address,
        "reserved": false,
        "verification": { "status": "verified", "strategy": strategy, "attempts": null, "expire_at": null },
        "linked_to": [],
    })
}

fn email_id(inner: &mut Inner, at_ms: i64) -> String {
    format!(
        "idn_{}",
        ksuid::generate(at_ms.div_euclid(1000), &mut inner.rng)
    )
}

struct Fields {
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    emails: Vec<Value>,
    primary_email_address_id: Option<String>,
    password_enabled: bool,
    external_id: Option<String>,
    public_metadata: Value,
    private_metadata: Value,
    unsafe_metadata: Value,
    last_sign_in_ms: Option<i64>,
}

fn user_json(core: &Core, id: &str, f: Fields, created_ms: i64, updated_ms: i64) -> Value {
    // Clerk's default avatar URL encodes which instance and user it is for.
    let avatar = json!({ "type": "default", "iid": core.instance_id, "rid": id }).to_string();
    json!({
        "id": id,
        "object": "user",
        "username": f.username,
        "first_name": f.first_name,
        "last_name": f.last_name,
        "image_url": format!("https://img.clerk.com/{}", URL_SAFE_NO_PAD.encode(avatar)),
        "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
        "has_image": false,
        "primary_email_address_id": f.primary_email_address_id,
        "primary_phone_number_id": null,
        "primary_web3_wallet_id": null,
        "password_enabled": f.password_enabled,
        "two_factor_enabled": false,
        "totp_enabled": false,
        "backup_code_enabled": false,
        "email_addresses": f.emails,
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "external_accounts": [],
        "saml_accounts": [],
        "external_id": f.external_id,
        "public_metadata": f.public_metadata,
        "private_metadata": f.private_metadata,
        "unsafe_metadata": f.unsafe_metadata,
        "last_sign_in_at": f.last_sign_in_ms,
        "last_active_at": f.last_sign_in_ms,
        "banned": false,
        "locked": false,
        "lockout_expires_in_seconds": null,
        "verification_attempts_remaining": 100,
        "delete_self_enabled": true,
        "create_organization_enabled": true,
        "created_at": created_ms,
        "updated_at": updated_ms,
    })
}

/// Wraps a user object for the store; every address must be unique.
fn stored(json: Value) -> StoredUser {
    let emails = json["email_addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["email_address"].as_str())
        .map(str::to_lowercase)
        .collect();
    StoredUser {
        created_ms: json["created_at"].as_i64().unwrap_or_default(),
        updated_ms: json["updated_at"].as_i64().unwrap_or_default(),
        emails,
        json,
    }
}

pub(crate) fn generate(
    core: &Core,
    inner: &mut Inner,
    created_ms: i64,
    until_ms: i64,
) -> (String, StoredUser) {
    let id = format!(
        "user_{}",
        ksuid::generate(created_ms.div_euclid(1000), &mut inner.rng)
    );
    let person = seed::person(&mut inner.rng);
    let email_count = match inner.rng.random_range(0..100) {
        0..4 => 0,
        4..16 => inner.rng.random_range(2..=3),
        _ => 1,
    };
    let mut emails = Vec::new();
    for _ in 0..email_count {
        let idn = email_id(inner, created_ms);
        let address = seed::fresh_email(inner, &person.handle);
        emails.push(email_json(&idn, &address, "email_code"));
    }
    // With several addresses the primary is often not the first one.
    let primary = match emails.len() {
        0 => None,
        1 => Some(0),
        n => Some(inner.rng.random_range(1..n)),
    };
    let username = inner.rng.random_bool(0.3).then(|| {
        let serial = inner.next_serial();
        format!("{}{serial}", person.handle.replace('.', "_"))
    });
    let rng = &mut inner.rng;
    let until_ms = until_ms.max(created_ms);
    let updated_ms = rng.random_range(created_ms..=until_ms);
    let fields = Fields {
        first_name: person.first,
        last_name: person.last,
        username,
        primary_email_address_id: primary.and_then(|i| emails[i]["id"].as_str().map(str::to_owned)),
        emails,
        password_enabled: rng.random_bool(0.7),
        external_id: None,
        public_metadata: json!({}),
        private_metadata: json!({}),
        unsafe_metadata: json!({}),
        last_sign_in_ms: rng
            .random_bool(0.85)
            .then(|| rng.random_range(created_ms..=until_ms)),
    };
    let json = user_json(core, &id, fields, created_ms, updated_ms);
    (id, stored(json))
}

/// `updated_at` strictly increases per user, even within one millisecond.
fn touch(json: &mut Value, now_ms: i64) {
    let previous = json["updated_at"].as_i64().unwrap_or(i64::MIN);
    json["updated_at"] = json!(now_ms.max(previous.saturating_add(1)));
}

/// A new name, and now and then a new primary email address.
pub(crate) fn changed(inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
    let mut json = user.json.clone();
    let current = [json["first_name"].as_str(), json["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let person = loop {
        let person = seed::person(&mut inner.rng);
        let name = [person.first.as_deref(), person.last.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name != current {
            break person;
        }
    };
    json["first_name"] = json!(person.first);
    json["last_name"] = json!(person.last);
    if inner.rng.random_bool(0.3) {
        let idn = email_id(inner, now_ms);
        let address = seed::fresh_email(inner, &person.handle);
        if let Some(list) = json["email_addresses"].as_array_mut() {
            list.push(email_json(&idn, &address, "email_code"));
            // Keep at most three: drop the oldest, which is never the new primary.
            if list.len() > 3 {
                list.remove(0);
            }
        }
        json["primary_email_address_id"] = json!(idn);
    }
    touch(&mut json, now_ms);
    stored(json)
}

pub(crate) fn deleted(id: &str) -> Value {
    json!({ "object": "user", "id": id, "deleted": true })
}

pub(crate) fn event_body(core: &Core, event_type: &str, data: Value, now_ms: i64) -> String {
    json!({
        "data": data,
        "object": "event",
        "type": event_type,
        "timestamp": now_ms,
        "instance_id": core.instance_id,
        "event_attributes": {
            "http_request": { "client_ip": "127.0.0.1", "user_agent": USER_AGENT },
        },
    })
    .to_string()
}

// ---- routes ----

struct ListQuery {
    limit: usize,
    offset: usize,
    order: Order,
    desc: bool,
}

fn parse_list_query(q: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    if let Some(unknown) = q
        .keys()
        .find(|k| !matches!(k.as_str(), "limit" | "offset" | "order_by"))
    {
        // Clerk has many more filters; failing loudly beats ignoring one.
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_unknown",
            "is unknown",
            &format!("{unknown} is not supported by the idsync emulator"),
            Some(json!({ "param_name": unknown })),
        ));
    }
    let number = |name: &str, default: usize| match q.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .map_err(|_| invalid_param(name, &format!("{name} must be a non-negative integer"))),
    };
    let limit = number("limit", DEFAULT_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid_param(
            "limit",
            &format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = number("offset", 0)?;
    let order_by = q.get("order_by").map_or("-created_at", String::as_str);
    // An unencoded `+` arrives as a space.
    let (desc, field) = match order_by.as_bytes().first() {
        Some(b'-') => (true, &order_by[1..]),
        Some(b'+' | b' ') => (false, &order_by[1..]),
        _ => (false, order_by),
    };
    let order = match field {
        "created_at" => Order::Created,
        "updated_at" => Order::Updated,
        _ => {
            return Err(invalid_param(
                "order_by",
                "order_by must be created_at or updated_at, optionally prefixed with + or - (the idsync emulator supports no others)",
            ));
        }
    };
    Ok(ListQuery {
        limit,
        offset,
        order,
        desc,
    })
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
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_clerk_error",
            "Oops, an unexpected error occurred",
            "There was an internal error on our servers. We've been notified and are working on fixing it.",
            None,
        ));
    }
    let store = &inner.store;
    let order = store.ids(params.order);
    let len = order.len();
    let (start, end) = if params.desc {
        let end = len.saturating_sub(params.offset);
        (end.saturating_sub(params.limit), end)
    } else {
        let start = params.offset.min(len);
        (start, (start + params.limit).min(len))
    };
    let slice = &order[start..end];
    let ids: Box<dyn Iterator<Item = &(i64, String)>> = if params.desc {
        Box::new(slice.iter().rev())
    } else {
        Box::new(slice.iter())
    };
    let page: Vec<&Value> = ids
        .filter_map(|(_, id)| store.get(id).map(|u| &u.json))
        .collect();
    Ok(Json(page).into_response())
}

async fn count_users(State(core): State<Arc<Core>>, headers: HeaderMap) -> Reply {
    authorize(&core, &headers)?;
    let total = core.lock().store.len();
    Ok(Json(json!({ "object": "total_count", "total_count": total })).into_response())
}

async fn read_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let inner = core.lock();
    let user = inner.store.get(&user_id).ok_or_else(not_found)?;
    Ok(Json(user.json.clone()).into_response())
}

fn parse_body(bytes: &[u8]) -> Result<Body, ApiError> {
    Body::parse(bytes).map_err(|e| {
        let long_message = match e {
            BodyError::InvalidJson => "The request body is not valid JSON",
            BodyError::NotAnObject => "The request body must be a JSON object",
        };
        error(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "malformed request",
            long_message,
            None,
        )
    })
}

fn identifier_taken(param: &str) -> ApiError {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "form_identifier_exists",
        "That email address is taken. Please try another.",
        "That email address is taken. Please try another.",
        Some(json!({ "param_name": param })),
    )
}

fn check_password(password: &Option<String>) -> Result<(), ApiError> {
    match password {
        Some(p) if p.chars().count() < MIN_PASSWORD_LEN => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_password_length_too_short",
            "Passwords must be 8 characters or more.",
            "Passwords must be 8 characters or more.",
            Some(json!({ "param_name": "password" })),
        )),
        _ => Ok(()),
    }
}

async fn create_user(State(core): State<Arc<Core>>, headers: HeaderMap, bytes: Bytes) -> Reply {
    authorize(&core, &headers)?;
    let body = parse_body(&bytes)?;
    let addresses: Vec<String> = body
        .strings("email_address")
        .map_err(wrong_type)?
        .unwrap_or_default()
        .iter()
        .map(|a| a.trim().to_lowercase())
        .collect();
    let password = body.string("password").map_err(wrong_type)?.flatten();
    check_password(&password)?;
    let metadata = |field| {
        body.object(field)
            .map_err(wrong_type)
            .map(|m| m.unwrap_or_else(|| json!({})))
    };
    let public_metadata = metadata("public_metadata")?;
    let private_metadata = metadata("private_metadata")?;
    let unsafe_metadata = metadata("unsafe_metadata")?;
    let text = |field| body.string(field).map_err(wrong_type).map(Option::flatten);
    let (first_name, last_name, username, external_id) = (
        text("first_name")?,
        text("last_name")?,
        text("username")?,
        text("external_id")?,
    );

    let mut inner = core.lock();
    for (i, address) in addresses.iter().enumerate() {
        if inner.store.email_owner(address).is_some() || addresses[..i].contains(address) {
            return Err(identifier_taken("email_address"));
        }
    }
    let now = inner.now().timestamp_millis();
    let id = format!(
        "user_{}",
        ksuid::generate(now.div_euclid(1000), &mut inner.rng)
    );
    let emails: Vec<Value> = addresses
        .iter()
        .map(|address| email_json(&email_id(&mut inner, now), address, "admin"))
        .collect();
    let fields = Fields {
        first_name,
        last_name,
        username,
        // The first address given becomes the primary one.
        primary_email_address_id: emails
            .first()
            .and_then(|e| e["id"].as_str())
            .map(str::to_owned),
        emails,
        password_enabled: password.is_some(),
        external_id,
        public_metadata,
        private_metadata,
        unsafe_metadata,
        last_sign_in_ms: None,
    };
    let user = stored(user_json(&core, &id, fields, now, now));
    let json = core.add(&mut inner, &id, user);
    Ok(Json(json).into_response())
}

async fn update_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    bytes: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let body = parse_body(&bytes)?;
    let mut inner = core.lock();
    let mut json = inner
        .store
        .get(&user_id)
        .ok_or_else(not_found)?
        .json
        .clone();
    for field in ["first_name", "last_name", "username", "external_id"] {
        if let Some(value) = body.string(field).map_err(wrong_type)? {
            json[field] = json!(value);
        }
    }
    for field in ["public_metadata", "private_metadata", "unsafe_metadata"] {
        if let Some(value) = body.object(field).map_err(wrong_type)? {
            json[field] = value;
        }
    }
    if let Some(primary) = body
        .string("primary_email_address_id")
        .map_err(wrong_type)?
        .flatten()
    {
        let owned = json["email_addresses"]
            .as_array()
            .is_some_and(|list| list.iter().any(|e| e["id"] == json!(primary)));
        if !owned {
            return Err(invalid_param(
                "primary_email_address_id",
                "primary_email_address_id must be the id of one of the user's email addresses",
            ));
        }
        json["primary_email_address_id"] = json!(primary);
    }
    if let Some(password) = body.string("password").map_err(wrong_type)? {
        check_password(&password)?;
        json["password_enabled"] = json!(password.is_some());
    }
    let now = inner.now().timestamp_millis();
    touch(&mut json, now);
    let json = core.replace(&mut inner, &user_id, stored(json));
    Ok(Json(json).into_response())
}

async fn delete_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut inner = core.lock();
    if !core.remove(&mut inner, &user_id) {
        return Err(not_found());
    }
    Ok(Json(deleted(&user_id)).into_response())
}
