//! Clerk's Backend API user routes: list, count, read, create, update,
//! delete.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use super::errors::{ApiError, Reply, error, invalid_param, not_found, wrong_type};
use super::events::deleted;
use super::user::{Fields, Verified, email_id, email_json, stored, touch, user_json};
use crate::emulator::Core;
use crate::ksuid;
use crate::request::{Body, BodyError};
use crate::state::Order;

pub(super) const LIST_PATH: &str = "/v1/users";
const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 10;
const MIN_PASSWORD_LEN: usize = 8;

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route(LIST_PATH, get(list_users).post(create_user))
        .route("/v1/users/count", get(count_users))
        .route(
            "/v1/users/{user_id}",
            get(read_user).patch(update_user).delete(delete_user),
        )
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
        .map(|address| email_json(&email_id(&mut inner, now), address, Verified::Admin, now))
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
    let now = inner.now().timestamp_millis();
    if let Some(password) = body.string("password").map_err(wrong_type)? {
        check_password(&password)?;
        json["password_enabled"] = json!(password.is_some());
        json["password_last_updated_at"] = json!(password.is_some().then_some(now));
    }
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
