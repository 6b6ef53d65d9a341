//! Okta's Users API: list (with `limit`, `after`, `filter`, `search` and
//! `link` headers), read, create, update, lifecycle operations, delete.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header::LINK};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::errors::{
    Reply, bad_json, error, internal, invalid, invalid_search, invalid_token, not_found,
};
use super::events::{
    ACTIVATE, CREATE, DEACTIVATE, REACTIVATE, SUSPEND, UNSUSPEND, UPDATE_PROFILE, event,
};
use super::filter::{self, Filter};
use super::paging::{encode, link};
use super::user::{Fields, Status, id_time, iso, set_status, stored, touch, user_id, user_json};
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::request::{Body, BodyError};
use crate::state::{Inner, Order};

pub(super) const LIST_PATH: &str = "/api/v1/users";
/// Okta's default and largest page.
const MAX_LIMIT: usize = 200;

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route(LIST_PATH, get(list_users).post(create_user))
        .route(
            "/api/v1/users/{id}",
            get(read_user)
                .post(update_user)
                .put(replace_user)
                .delete(delete_user),
        )
        .route("/api/v1/users/{id}/lifecycle/{operation}", post(lifecycle))
        .merge(super::event_hooks::routes())
        .merge(super::groups::routes())
        .merge(super::apps_api::routes())
        .merge(super::oidc::routes())
}

/// `Authorization: SSWS <API token>`, compared in constant time.
pub(super) fn authorize(core: &Core, headers: &HeaderMap) -> Result<(), super::errors::ApiError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        // Okta's Python SDK 3.x sends `SSWS<token>`, without the space,
        // and Okta accepts it.
        .and_then(|v| v.strip_prefix("SSWS"))
        .map(|v| v.trim_start_matches(' '));
    let expected = core.config.api_key.as_bytes();
    if token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(expected))) {
        Ok(())
    } else {
        Err(invalid_token())
    }
}

async fn list_users(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Reply {
    authorize(&core, &headers)?;
    let limit = match q.get("limit") {
        None => MAX_LIMIT,
        // Okta caps larger pages at its maximum.
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => return Err(invalid("limit", &["limit: must be a positive integer"])),
        },
    };
    let filters = ["filter", "search"]
        .into_iter()
        .filter_map(|name| q.get(name).map(|text| (name, text)))
        .map(|(name, text)| Filter::parse(text, &filter::USERS).map(|f| (name, text, f)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid_search)?;
    let after = match q.get("after") {
        None => None,
        Some(id) => Some((
            id_time(id).ok_or_else(|| invalid("after", &["after: not a valid cursor"]))?,
            id.clone(),
        )),
    };

    let mut inner = core.lock();
    if !core.list_permit(&mut inner) {
        return Err(internal());
    }
    let store = &inner.store;
    let order = store.ids(Order::Created);
    let start = after.map_or(0, |(ms, id)| {
        order.partition_point(|(m, i)| (*m, i.as_str()) <= (ms, id.as_str()))
    });
    let wanted = |user: &Value| {
        if filters.is_empty() {
            // The default list leaves deactivated users out.
            Status::of(user) != Some(Status::Deprovisioned)
        } else {
            filters.iter().all(|(_, _, f)| f.matches(user))
        }
    };
    let mut matching = order[start..]
        .iter()
        .filter_map(|(_, id)| store.get(id).map(|u| &u.json))
        .filter(|u| wanted(u));
    let page: Vec<&Value> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();

    let list_url = format!("{}{LIST_PATH}", core.base_url);
    let mut response = Json(&page).into_response();
    let links = response.headers_mut();
    let self_url = match raw.filter(|r| !r.is_empty()) {
        Some(raw) => format!("{list_url}?{raw}"),
        None => list_url.clone(),
    };
    links.append(LINK, link(&self_url, "self"));
    if let Some(last) = page.last().and_then(|u| u["id"].as_str()).filter(|_| more) {
        let mut next = format!("{list_url}?after={}&limit={limit}", encode(last));
        for (name, text, _) in &filters {
            next.push_str(&format!("&{name}={}", encode(text)));
        }
        links.append(LINK, link(&next, "next"));
    }
    Ok(response)
}

/// A user by id, or by login as Okta also allows.
fn find<'a>(inner: &'a Inner, id_or_login: &str) -> Option<(String, &'a Value)> {
    let id = match inner.store.get(id_or_login) {
        Some(_) => id_or_login.to_owned(),
        None => inner.store.email_owner(id_or_login)?.to_owned(),
    };
    let user = &inner.store.get(&id)?.json;
    Some((id, user))
}

async fn read_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let inner = core.lock();
    let (_, user) = find(&inner, &id).ok_or_else(|| not_found(&id))?;
    Ok(Json(user).into_response())
}

fn parse_body(bytes: &[u8]) -> Result<Body, super::errors::ApiError> {
    Body::parse(bytes).map_err(|e| match e {
        BodyError::InvalidJson | BodyError::NotAnObject => bad_json(),
    })
}

/// The `profile` of a request body, if it has one.
fn profile_of(body: &Body) -> Result<Option<Map<String, Value>>, super::errors::ApiError> {
    match body.object("profile") {
        Ok(Some(Value::Object(map))) => Ok(Some(map)),
        Ok(_) => Ok(None),
        Err(_) => Err(invalid("profile", &["profile: must be an object"])),
    }
}

/// The password a body sets (`credentials.password.value`), if any.
fn password_of(body: &Body) -> Result<Option<String>, super::errors::ApiError> {
    let credentials = body
        .object("credentials")
        .map_err(|_| invalid("credentials", &["credentials: must be an object"]))?;
    match credentials
        .as_ref()
        .and_then(|c| c.pointer("/password/value"))
    {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if p.chars().count() >= 8 => Ok(Some(p.clone())),
        Some(_) => Err(invalid(
            "password",
            &[
                "password: Password requirements were not met. Password requirements: at least 8 characters.",
            ],
        )),
    }
}

/// Okta's default profile: login and email look like addresses, first and
/// last name are required, and no other user has the login.
fn check_profile(
    inner: &Inner,
    id: Option<&str>,
    profile: &Map<String, Value>,
) -> Result<(), super::errors::ApiError> {
    for field in ["firstName", "lastName", "email", "login"] {
        let blank = profile
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(|v| v.trim().is_empty());
        if blank {
            return Err(invalid(
                field,
                &[&format!("{field}: The field cannot be left blank")],
            ));
        }
    }
    for field in ["email", "login"] {
        if !profile[field].as_str().is_some_and(|v| v.contains('@')) {
            return Err(invalid(
                field,
                &[&format!("{field}: Does not match required pattern")],
            ));
        }
    }
    let login = profile["login"].as_str().unwrap_or_default();
    if inner
        .store
        .email_owner(login)
        .is_some_and(|owner| Some(owner) != id)
    {
        return Err(invalid(
            "login",
            &["login: An object with this field already exists in the current organization"],
        ));
    }
    Ok(())
}

/// Okta answers every base attribute, the unset ones as `null`.
fn complete(mut profile: Map<String, Value>) -> Value {
    for field in ["mobilePhone", "secondEmail"] {
        profile.entry(field).or_insert(Value::Null);
    }
    Value::Object(profile)
}

fn flag(q: &HashMap<String, String>, name: &str, default: bool) -> bool {
    q.get(name).map_or(default, |v| v != "false")
}

async fn create_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let body = parse_body(&bytes)?;
    let profile = profile_of(&body)?.unwrap_or_default();
    let password = password_of(&body)?;
    let activate = flag(&q, "activate", true);

    let mut inner = core.lock();
    check_profile(&inner, None, &profile)?;
    let now = inner.now().timestamp_millis();
    let id = user_id(now, &mut inner.rng);
    // Activation without a password waits for the user to set one.
    let status = match (activate, password.is_some()) {
        (false, _) => Status::Staged,
        (true, true) => Status::Active,
        (true, false) => Status::Provisioned,
    };
    let fields = Fields {
        profile: complete(profile),
        status,
        has_password: password.is_some(),
        created_ms: now,
        activated_ms: activate.then_some(now),
        status_changed_ms: activate.then_some(now),
        last_login_ms: None,
        updated_ms: now,
    };
    let json = user_json(&core, &id, fields);
    inner.store.put(&id, stored(json.clone()));
    if let Some(password) = &password {
        super::oidc::remember_password(&core, &id, password);
    }
    let mut events = vec![event(&core, CREATE, &json, now)];
    if activate {
        events.push(event(&core, ACTIVATE, &json, now));
    }
    core.publish(&mut inner, events);
    Ok(Json(json).into_response())
}

/// `POST` merges the profile given into the user's; `PUT` replaces it.
fn change_user(core: &Core, id: &str, bytes: &[u8], merge: bool) -> Reply {
    let body = parse_body(bytes)?;
    let given = profile_of(&body)?;
    let password = password_of(&body)?;
    let mut inner = core.lock();
    let (id, user) = find(&inner, id).ok_or_else(|| not_found(id))?;
    let mut json = user.clone();
    if let Some(given) = &given {
        let mut profile = if merge {
            json["profile"].as_object().cloned().unwrap_or_default()
        } else {
            Map::new()
        };
        profile.extend(given.clone());
        check_profile(&inner, Some(&id), &profile)?;
        json["profile"] = complete(profile);
    }
    let now = inner.now().timestamp_millis();
    let at = touch(&mut json, now);
    if let Some(password) = &password {
        super::oidc::remember_password(core, &id, password);
        json["credentials"]["password"] = json!({});
        json["passwordChanged"] = json!(iso(at));
    }
    inner.store.put(&id, stored(json.clone()));
    if given.is_some() {
        let event = event(core, UPDATE_PROFILE, &json, now);
        core.publish(&mut inner, vec![event]);
    }
    Ok(Json(json).into_response())
}

async fn update_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    change_user(&core, &id, &bytes, true)
}

async fn replace_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    change_user(&core, &id, &bytes, false)
}

fn not_allowed() -> super::errors::ApiError {
    error(
        StatusCode::FORBIDDEN,
        "E0000038",
        "This operation is not allowed in the user's current status.",
    )
}

/// The answer to an activation: the link to send when Okta is told not
/// to send its email.
fn activation(core: &Core, send_email: bool) -> Value {
    if send_email {
        return json!({});
    }
    let token = alphanumeric(&mut rand::rng(), 20);
    json!({
        "activationUrl": format!("{}/welcome/{token}", core.base_url),
        "activationToken": token,
    })
}

async fn lifecycle(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((id, operation)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut inner = core.lock();
    let (id, user) = find(&inner, &id).ok_or_else(|| not_found(&id))?;
    let mut json = user.clone();
    let status = Status::of(&json);
    let has_password = json["credentials"].get("password").is_some();
    let send_email = flag(&q, "sendEmail", true);
    let (next, event_type, answer) = match (operation.as_str(), status) {
        // Deactivating a deactivated user changes nothing.
        ("deactivate", Some(Status::Deprovisioned)) => {
            return Ok(Json(json!({})).into_response());
        }
        ("deactivate", _) => (Status::Deprovisioned, DEACTIVATE, json!({})),
        ("activate", Some(Status::Staged | Status::Deprovisioned)) => {
            let next = if has_password {
                Status::Active
            } else {
                Status::Provisioned
            };
            (next, ACTIVATE, activation(&core, send_email))
        }
        ("activate", _) => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "E0000016",
                "Activation failed because the user is already active",
            ));
        }
        ("reactivate", Some(Status::Provisioned)) => (
            Status::Provisioned,
            REACTIVATE,
            activation(&core, send_email),
        ),
        ("suspend", Some(Status::Active)) => (Status::Suspended, SUSPEND, json!({})),
        ("unsuspend", Some(Status::Suspended)) => (Status::Active, UNSUSPEND, json!({})),
        ("reactivate" | "suspend" | "unsuspend", _) => return Err(not_allowed()),
        _ => {
            return Err(error(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {operation} (Operation)"),
            ));
        }
    };
    let now = inner.now().timestamp_millis();
    set_status(&core, &mut json, next, now);
    inner.store.put(&id, stored(json.clone()));
    let event = event(&core, event_type, &json, now);
    core.publish(&mut inner, vec![event]);
    Ok(Json(answer).into_response())
}

/// The first `DELETE` deactivates, the second deletes.
async fn delete_user(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut inner = core.lock();
    let (id, user) = find(&inner, &id).ok_or_else(|| not_found(&id))?;
    if Status::of(user) == Some(Status::Deprovisioned) {
        core.remove(&mut inner, &id);
    } else {
        let mut json = user.clone();
        let now = inner.now().timestamp_millis();
        set_status(&core, &mut json, Status::Deprovisioned, now);
        inner.store.put(&id, stored(json.clone()));
        let event = event(&core, DEACTIVATE, &json, now);
        core.publish(&mut inner, vec![event]);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
