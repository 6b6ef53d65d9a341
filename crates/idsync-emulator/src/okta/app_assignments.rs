//! An app's group assignments: `PUT`, `GET` and `DELETE
//! /api/v1/apps/{id}/groups/{groupId}`, and the list of them. The app and
//! the group must exist.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::apps_api::{LIST_PATH, MAX_APPS, app_missing, now};
use super::directory::{APP_GROUPS, APPS, GROUPS, directory};
use super::errors::{ApiError, Reply, bad_json, missing};
use super::paging;
use super::routes::authorize;
use super::user::iso;
use crate::emulator::Core;

fn assignment_json(core: &Core, app: &str, group: &str, body: &Value, at_ms: i64) -> Value {
    json!({
        "id": group,
        "priority": body["priority"].as_u64().unwrap_or(0),
        "lastUpdated": iso(at_ms),
        "profile": body.get("profile").filter(|p| p.is_object()).cloned().unwrap_or_else(|| json!({})),
        "_links": {
            "app": { "href": format!("{}/api/v1/apps/{app}", core.base_url) },
            "self": { "href": format!("{}/api/v1/apps/{app}/groups/{group}", core.base_url) },
            "group": { "href": format!("{}/api/v1/groups/{group}", core.base_url) },
        },
    })
}

/// `PUT /api/v1/apps/{id}/groups/{group}`: the body is optional.
pub(super) async fn assign(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((id, group)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| bad_json())?
    };
    if !body.is_object() {
        return Err(bad_json());
    }
    let at = now(&core);
    let mut dir = directory(&core);
    dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    dir.find(GROUPS, &group)
        .ok_or_else(|| missing(&group, "UserGroup"))?;
    let assignment = assignment_json(&core, &id, &group, &body, at);
    let all = dir.all_mut(APP_GROUPS);
    all.retain(|a| !(a["appId"] == id.as_str() && a["assignment"]["id"] == group.as_str()));
    all.push(json!({ "appId": id, "assignment": assignment }));
    Ok(Json(assignment).into_response())
}

pub(super) async fn list_assignments(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Reply {
    authorize(&core, &headers)?;
    let limit = paging::limit(&q, MAX_APPS, MAX_APPS)?;
    let dir = directory(&core);
    dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    let assignments: Vec<Value> = dir
        .all(APP_GROUPS)
        .iter()
        .filter(|a| a["appId"] == id.as_str())
        .map(|a| a["assignment"].clone())
        .collect();
    let url = format!("{}{LIST_PATH}/{id}/groups", core.base_url);
    Ok(paging::page(
        &url,
        &q,
        raw.as_deref(),
        &assignments,
        limit,
        &[],
    ))
}

fn assignment_missing(group: &str) -> ApiError {
    missing(group, "ApplicationGroupAssignment")
}

pub(super) async fn read_assignment(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((id, group)): Path<(String, String)>,
) -> Reply {
    authorize(&core, &headers)?;
    let dir = directory(&core);
    dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    let assignment = dir
        .all(APP_GROUPS)
        .iter()
        .find(|a| a["appId"] == id.as_str() && a["assignment"]["id"] == group.as_str())
        .ok_or_else(|| assignment_missing(&group))?;
    Ok(Json(&assignment["assignment"]).into_response())
}

pub(super) async fn unassign(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((id, group)): Path<(String, String)>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut dir = directory(&core);
    dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    dir.all_mut(APP_GROUPS)
        .retain(|a| !(a["appId"] == id.as_str() && a["assignment"]["id"] == group.as_str()));
    Ok(StatusCode::NO_CONTENT.into_response())
}
