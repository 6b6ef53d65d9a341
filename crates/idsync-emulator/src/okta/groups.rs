//! Okta's Groups API, the part `idsync create-app --group` and the OIDC
//! issuer's assignment check need: list (`q`, `search`, `filter`, paging),
//! read, create an `OKTA_GROUP`, list members, add and remove members.
//! `Everyone` (`BUILT_IN`) holds every user and its members cannot be
//! changed.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde_json::{Value, json};

use super::directory::{GROUP_USERS, GROUPS, directory, group_id, group_json};
use super::errors::{
    ApiError, Reply, bad_json, error, invalid, invalid_search, missing, not_found,
};
use super::filter::{Attributes, Filter};
use super::paging;
use super::routes::authorize;
use super::user::iso;
use crate::emulator::Core;
use crate::state::Order;

const LIST_PATH: &str = "/api/v1/groups";
/// Okta's largest page of groups (and the default).
const MAX_GROUPS: usize = 10_000;
/// Okta's default page of group members.
const DEFAULT_MEMBERS: usize = 1000;

/// Groups: `filter` and `search` on these.
const ATTRIBUTES: Attributes = Attributes {
    text: &["id", "type", "profile.name", "profile.description"],
    times: &["created", "lastUpdated", "lastMembershipUpdated"],
};

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route(LIST_PATH, get(list).post(create))
        .route("/api/v1/groups/{id}", get(read))
        .route("/api/v1/groups/{id}/users", get(members))
        .route(
            "/api/v1/groups/{id}/users/{user}",
            put(add_member).delete(remove_member),
        )
}

fn group_missing(id: &str) -> ApiError {
    missing(id, "UserGroup")
}

async fn list(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Reply {
    authorize(&core, &headers)?;
    let limit = paging::limit(&q, MAX_GROUPS, MAX_GROUPS)?;
    let filters = ["filter", "search"]
        .into_iter()
        .filter_map(|name| q.get(name))
        .map(|text| Filter::parse(text, &ATTRIBUTES))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid_search)?;
    // `q` matches the start of the name, ignoring case.
    let prefix = q.get("q").map(|p| p.to_lowercase());
    let dir = directory(&core);
    let groups: Vec<Value> = dir
        .all(GROUPS)
        .iter()
        .filter(|g| filters.iter().all(|f| f.matches(g)))
        .filter(|g| {
            prefix.as_ref().is_none_or(|p| {
                g["profile"]["name"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().starts_with(p))
            })
        })
        .cloned()
        .collect();
    let url = format!("{}{LIST_PATH}", core.base_url);
    Ok(paging::page(
        &url,
        &q,
        raw.as_deref(),
        &groups,
        limit,
        &["q", "filter", "search"],
    ))
}

async fn read(State(core): State<Arc<Core>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&core, &headers)?;
    let dir = directory(&core);
    let group = dir.find(GROUPS, &id).ok_or_else(|| group_missing(&id))?;
    Ok(Json(group).into_response())
}

/// `POST /api/v1/groups` with `{"profile": {"name", "description"}}`.
async fn create(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Reply {
    authorize(&core, &headers)?;
    let body: Value = serde_json::from_slice(&body).map_err(|_| bad_json())?;
    let name = body["profile"]["name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name", &["name: The field cannot be left blank"]))?
        .to_owned();
    let description = body["profile"]["description"].as_str().unwrap_or_default();
    let now = core.lock().now().timestamp_millis();
    let mut dir = directory(&core);
    if dir
        .all(GROUPS)
        .iter()
        .any(|g| g["profile"]["name"].as_str() == Some(name.as_str()))
    {
        return Err(invalid(
            "name",
            &["name: An object with this field already exists in the current organization"],
        ));
    }
    let id = group_id(&mut rand::rng());
    let group = group_json(&core, &id, "OKTA_GROUP", &name, description, now);
    dir.all_mut(GROUPS).push(group.clone());
    Ok(Json(group).into_response())
}

/// The group's members in sign-up order: every user for `Everyone`.
async fn members(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Reply {
    authorize(&core, &headers)?;
    let limit = paging::limit(&q, DEFAULT_MEMBERS, MAX_GROUPS)?;
    let (everyone, stored): (bool, Vec<String>) = {
        let dir = directory(&core);
        dir.find(GROUPS, &id).ok_or_else(|| group_missing(&id))?;
        let stored = dir
            .all(GROUP_USERS)
            .iter()
            .filter(|m| m["groupId"] == id.as_str())
            .filter_map(|m| m["userId"].as_str().map(str::to_owned))
            .collect();
        (dir.everyone_id() == Some(id.as_str()), stored)
    };
    let users: Vec<Value> = {
        let inner = core.lock();
        inner
            .store
            .ids(Order::Created)
            .iter()
            .filter(|(_, user)| everyone || stored.contains(user))
            .filter_map(|(_, user)| inner.store.get(user).map(|u| u.json.clone()))
            .collect()
    };
    let url = format!("{}{LIST_PATH}/{id}/users", core.base_url);
    Ok(paging::page(&url, &q, raw.as_deref(), &users, limit, &[]))
}

/// Checks that the group can have its members changed and the user exists.
fn changeable(core: &Core, group: &str, user: &str) -> Result<(), ApiError> {
    if core.lock().store.get(user).is_none() {
        return Err(not_found(user));
    }
    let dir = directory(core);
    let found = dir
        .find(GROUPS, group)
        .ok_or_else(|| group_missing(group))?;
    if found["type"] != "OKTA_GROUP" {
        return Err(error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        ));
    }
    Ok(())
}

fn membership_changed(core: &Core, group: &str) {
    let now = iso(core.lock().now().timestamp_millis());
    if let Some(g) = directory(core).find_mut(GROUPS, group) {
        g["lastMembershipUpdated"] = json!(now);
    }
}

async fn add_member(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((group, user)): Path<(String, String)>,
) -> Reply {
    authorize(&core, &headers)?;
    changeable(&core, &group, &user)?;
    let added = {
        let mut dir = directory(&core);
        let new = !dir.is_stored_member(&group, &user);
        if new {
            dir.all_mut(GROUP_USERS)
                .push(json!({ "groupId": group, "userId": user }));
        }
        new
    };
    if added {
        membership_changed(&core, &group);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_member(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((group, user)): Path<(String, String)>,
) -> Reply {
    authorize(&core, &headers)?;
    changeable(&core, &group, &user)?;
    directory(&core)
        .all_mut(GROUP_USERS)
        .retain(|m| !(m["groupId"] == group.as_str() && m["userId"] == user.as_str()));
    membership_changed(&core, &group);
    Ok(StatusCode::NO_CONTENT.into_response())
}
