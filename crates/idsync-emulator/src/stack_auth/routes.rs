//! Stack Auth's server API user routes: list, read, create, update, delete.

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

use super::auth::authorize;
use super::errors::{
    ApiError, Reply, known_error, schema_error, status_error, user_not_found, wrong_type,
};
use super::user::{AdminRestriction, Fields, no_risk, set_restricted, stored, user_json};
use crate::emulator::Core;
use crate::request::{Body, BodyError};
use crate::state::{Inner, Order};
use crate::uuid::{is_uuid, uuid_v4};

pub(super) const LIST_PATH: &str = "/api/v1/users";

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route(LIST_PATH, get(list_users).post(create_user))
        .route(
            "/api/v1/users/{user_id}",
            get(read_user).patch(update_user).delete(delete_user),
        )
}

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
        restriction: AdminRestriction::default(),
        // Set from the sign-up request, which an API call is not.
        country_code: None,
        risk_scores: no_risk(),
    };
    let extras = Extras::parse(&body, "POST", LIST_PATH)?;
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
    let mut json = user_json(&id, fields, now, now);
    extras.apply(&mut json);
    let json = core.add(&mut inner, &id, stored(json, now));
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
    let extras = Extras::parse(&body, "PATCH", &path)?;
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
    extras.apply(&mut json);
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

/// The admin-restriction, country and risk fields, which create and update
/// take alike. Absent = unchanged; `Some(None)` = set to null.
struct Extras {
    restricted_by_admin: Option<bool>,
    reason: Option<Option<String>>,
    private_details: Option<Option<String>>,
    country_code: Option<Option<String>>,
    risk_scores: Option<Value>,
}

impl Extras {
    fn parse(body: &Body, method: &str, path: &str) -> Result<Self, ApiError> {
        let bad = |e| wrong_type(method, path, e);
        let invalid = |what: &str| {
            schema_error(&format!(
                "Request validation failed on {method} {path}:\n  - {what}"
            ))
        };
        let extras = Self {
            restricted_by_admin: body.bool("restricted_by_admin").map_err(bad)?,
            reason: body.string("restricted_by_admin_reason").map_err(bad)?,
            private_details: body
                .string("restricted_by_admin_private_details")
                .map_err(bad)?,
            country_code: body.string("country_code").map_err(bad)?,
            risk_scores: body.object("risk_scores").map_err(bad)?,
        };
        // Stack's `restricted_by_admin_consistency` test, on the body alone.
        if extras.restricted_by_admin != Some(true) {
            for (field, value) in [
                ("restricted_by_admin_reason", &extras.reason),
                (
                    "restricted_by_admin_private_details",
                    &extras.private_details,
                ),
            ] {
                if matches!(value, Some(Some(_))) {
                    return Err(invalid(&format!(
                        "{field} must be null when restricted_by_admin is not true"
                    )));
                }
            }
        }
        let country_code = match extras.country_code {
            Some(Some(code)) => {
                let code = code.trim().to_uppercase();
                if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(invalid("body.country_code must be a 2-letter country code"));
                }
                Some(Some(code))
            }
            other => other,
        };
        if let Some(scores) = &extras.risk_scores {
            let valid = |name: &str| {
                scores["sign_up"][name]
                    .as_u64()
                    .is_some_and(|score| score <= 100)
            };
            if !(valid("bot") && valid("free_trial_abuse")) {
                return Err(invalid(
                    "body.risk_scores.sign_up.bot and free_trial_abuse must be integers from 0 to 100",
                ));
            }
        }
        Ok(Self {
            country_code,
            ..extras
        })
    }

    fn apply(self, user: &mut Value) {
        if let Some(on) = self.restricted_by_admin {
            user["restricted_by_admin"] = json!(on);
            if !on {
                // The reason and notes exist only while restricted.
                user["restricted_by_admin_reason"] = Value::Null;
                user["restricted_by_admin_private_details"] = Value::Null;
            }
        }
        let fields = [
            ("restricted_by_admin_reason", self.reason),
            ("restricted_by_admin_private_details", self.private_details),
            ("country_code", self.country_code),
        ];
        for (field, value) in fields {
            if let Some(value) = value {
                user[field] = json!(value);
            }
        }
        if let Some(scores) = self.risk_scores {
            user["risk_scores"] = json!({ "sign_up": {
                "bot": scores["sign_up"]["bot"],
                "free_trial_abuse": scores["sign_up"]["free_trial_abuse"],
            } });
        }
        set_restricted(user);
    }
}
