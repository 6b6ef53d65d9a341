//! Okta's Apps API for OpenID Connect app integrations (`name:
//! "oidc_client"`, `signOnMode: "OPENID_CONNECT"`): create, list (`q`,
//! `filter`, paging), read, replace, activate/deactivate, delete; its
//! routes also serve the client secrets (`app_secrets`) and group
//! assignments (`app_assignments`).
//!
//! As Okta documents it, `credentials.oauthClient.client_secret` is shown
//! only in the answers to a create or a replace, never by a read or a list;
//! afterwards it is read through `GET /api/v1/apps/{id}/credentials/secrets`.
//! A `client_id` not given is the app's id.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::app_assignments::{assign, list_assignments, read_assignment, unassign};
use super::app_definition::{Definition, definition};
use super::app_secrets::{
    create_secret, generated_secret, list_secrets, secret_object, uses_secret, with_secret,
};
use super::directory::{APP_GROUPS, APP_SECRETS, APPS, directory};
use super::errors::{ApiError, Reply, error, invalid, invalid_search, missing};
use super::filter::{Attributes, Filter};
use super::paging;
use super::routes::authorize;
use super::user::{iso, org_ids};
use crate::config::alphanumeric;
use crate::emulator::Core;

pub(super) const LIST_PATH: &str = "/api/v1/apps";
/// Okta's largest page of apps.
pub(super) const MAX_APPS: usize = 200;

const ATTRIBUTES: Attributes = Attributes {
    text: &["id", "status", "name"],
    times: &[],
};

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route(LIST_PATH, get(list).post(create))
        .route("/api/v1/apps/{id}", get(read).put(replace).delete(delete))
        .route("/api/v1/apps/{id}/lifecycle/{operation}", post(lifecycle))
        .route(
            "/api/v1/apps/{id}/credentials/secrets",
            get(list_secrets).post(create_secret),
        )
        .route("/api/v1/apps/{id}/groups", get(list_assignments))
        .route(
            "/api/v1/apps/{id}/groups/{group}",
            put(assign).get(read_assignment).delete(unassign),
        )
}

pub(super) fn app_missing(id: &str) -> ApiError {
    missing(id, "AppInstance")
}

pub(super) fn now(core: &Core) -> i64 {
    core.lock().now().timestamp_millis()
}

fn app_links(core: &Core, id: &str, active: bool) -> Value {
    let me = format!("{}/api/v1/apps/{id}", core.base_url);
    let operation = if active { "deactivate" } else { "activate" };
    json!({
        "uploadLogo": { "href": format!("{me}/logo"), "hints": { "allow": ["POST"] } },
        "appLinks": [{
            "name": "oidc_client_link",
            "href": format!("{}/home/oidc_client/{id}/aln{}", core.base_url, &id[3.min(id.len())..]),
            "type": "text/html",
        }],
        "groups": { "href": format!("{me}/groups") },
        "logo": [{
            "name": "medium",
            "href": format!("{}/assets/img/logos/default.png", core.base_url),
            "type": "image/png",
        }],
        "users": { "href": format!("{me}/users") },
        operation: { "href": format!("{me}/lifecycle/{operation}") },
    })
}

/// The stored app (without its secret) for a definition.
fn app_json(
    core: &Core,
    id: &str,
    def: &Definition,
    client_id: &str,
    active: bool,
    created_ms: i64,
    at_ms: i64,
) -> Value {
    let org = org_ids(core);
    let mut oauth_client = def.oauth_client.clone();
    oauth_client.insert("client_id".into(), json!(client_id));
    let mut app = json!({
        "id": id,
        "name": "oidc_client",
        "label": def.label,
        "status": if active { "ACTIVE" } else { "INACTIVE" },
        "created": iso(created_ms),
        "lastUpdated": iso(at_ms),
        "accessibility": def.accessibility.clone().unwrap_or_else(|| json!({
            "selfService": false, "errorRedirectUrl": null, "loginRedirectUrl": null,
        })),
        "visibility": def.visibility.clone().unwrap_or_else(|| json!({
            "autoLaunch": false,
            "autoSubmitToolbar": false,
            "hide": { "iOS": true, "web": true },
            "appLinks": { "oidc_client_link": true },
        })),
        "features": [],
        "signOnMode": "OPENID_CONNECT",
        "orn": format!("orn:okta:idp:{}:apps:oidc_client:{id}", org.org),
        "credentials": {
            "userNameTemplate": { "template": "${source.login}", "type": "BUILT_IN" },
            "signing": { "kid": org.signing_kid },
            "oauthClient": oauth_client,
        },
        "settings": {
            "app": {},
            "oauthClient": def.settings_client,
            "notifications": {
                "vpn": { "network": { "connection": "DISABLED" }, "message": null, "helpUrl": null },
            },
            "manualProvisioning": false,
            "implicitAssignment": false,
            "notes": { "admin": null, "enduser": null },
            "emOptInStatus": "DISABLED",
        },
        "_links": app_links(core, id, active),
    });
    if let Some(profile) = &def.profile {
        app["profile"] = profile.clone();
    }
    app
}

async fn create(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let def = definition(&body)?;
    let activate = q.get("activate").is_none_or(|v| v != "false");
    let at = now(&core);
    let id = format!("0oa{}", alphanumeric(&mut rand::rng(), 17));
    let client_id = def.client_id.clone().unwrap_or_else(|| id.clone());
    let app = app_json(&core, &id, &def, &client_id, activate, at, at);
    let mut dir = directory(&core);
    if dir
        .all(APPS)
        .iter()
        .any(|a| a["credentials"]["oauthClient"]["client_id"] == client_id.as_str())
    {
        return Err(invalid(
            "client_id",
            &["client_id: An object with this field already exists in the current organization"],
        ));
    }
    if uses_secret(&app) {
        let secret = def.client_secret.clone().unwrap_or_else(generated_secret);
        let object = secret_object(&core, &id, secret, at);
        dir.all_mut(APP_SECRETS)
            .push(json!({ "appId": id, "secret": object }));
    }
    dir.all_mut(APPS).push(app.clone());
    Ok(Json(with_secret(&dir, &app)).into_response())
}

async fn list(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Reply {
    authorize(&core, &headers)?;
    let limit = paging::limit(&q, MAX_APPS, MAX_APPS)?;
    let filter = q
        .get("filter")
        .map(|text| Filter::parse(text, &ATTRIBUTES).ok_or_else(invalid_search))
        .transpose()?;
    // `q` matches the start of the name or the label.
    let prefix = q.get("q").map(|p| p.to_lowercase());
    let starts = |app: &Value, key: &str| {
        prefix.as_ref().is_none_or(|p| {
            app[key]
                .as_str()
                .is_some_and(|v| v.to_lowercase().starts_with(p))
        })
    };
    let dir = directory(&core);
    let apps: Vec<Value> = dir
        .all(APPS)
        .iter()
        .filter(|a| filter.as_ref().is_none_or(|f| f.matches(a)))
        .filter(|a| starts(a, "name") || starts(a, "label"))
        .cloned()
        .collect();
    let url = format!("{}{LIST_PATH}", core.base_url);
    Ok(paging::page(
        &url,
        &q,
        raw.as_deref(),
        &apps,
        limit,
        &["q", "filter"],
    ))
}

async fn read(State(core): State<Arc<Core>>, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    authorize(&core, &headers)?;
    let dir = directory(&core);
    let app = dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    Ok(Json(app).into_response())
}

/// `PUT`: the app becomes the definition given; its id, `client_id`,
/// status and creation time stay. A `client_secret` given replaces the
/// active secret.
async fn replace(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let def = definition(&body)?;
    let at = now(&core);
    let mut dir = directory(&core);
    let current = dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?.clone();
    let client_id = current["credentials"]["oauthClient"]["client_id"]
        .as_str()
        .unwrap_or(&id)
        .to_owned();
    if def.client_id.as_ref().is_some_and(|c| *c != client_id) {
        return Err(invalid(
            "client_id",
            &["client_id: The client_id of an app cannot be changed"],
        ));
    }
    let created = current["created"]
        .as_str()
        .and_then(super::user::parse_iso)
        .unwrap_or(at);
    let app = app_json(
        &core,
        &id,
        &def,
        &client_id,
        current["status"] == "ACTIVE",
        created,
        at,
    );
    if uses_secret(&app) {
        let has_active = dir
            .all(APP_SECRETS)
            .iter()
            .any(|s| s["appId"] == id.as_str() && s["secret"]["status"] == "ACTIVE");
        if def.client_secret.is_some() || !has_active {
            let secret = def.client_secret.clone().unwrap_or_else(generated_secret);
            let object = secret_object(&core, &id, secret, at);
            let secrets = dir.all_mut(APP_SECRETS);
            secrets.retain(|s| s["appId"] != id.as_str());
            secrets.push(json!({ "appId": id, "secret": object }));
        }
    } else {
        dir.all_mut(APP_SECRETS)
            .retain(|s| s["appId"] != id.as_str());
    }
    if let Some(stored) = dir.find_mut(APPS, &id) {
        *stored = app.clone();
    }
    Ok(Json(with_secret(&dir, &app)).into_response())
}

async fn lifecycle(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((id, operation)): Path<(String, String)>,
) -> Reply {
    authorize(&core, &headers)?;
    let active = match operation.as_str() {
        "activate" => true,
        "deactivate" => false,
        _ => return Err(missing(&operation, "Operation")),
    };
    let at = iso(now(&core));
    let links = app_links(&core, &id, active);
    let mut dir = directory(&core);
    let app = dir.find_mut(APPS, &id).ok_or_else(|| app_missing(&id))?;
    let status = if active { "ACTIVE" } else { "INACTIVE" };
    if app["status"] != status {
        app["status"] = json!(status);
        app["lastUpdated"] = json!(at);
        app["_links"] = links;
    }
    Ok(Json(json!({})).into_response())
}

/// Only a deactivated app can be deleted.
async fn delete(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut dir = directory(&core);
    let app = dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    if app["status"] == "ACTIVE" {
        return Err(error(
            StatusCode::FORBIDDEN,
            "E0000056",
            "Delete application forbidden.",
        ));
    }
    dir.all_mut(APPS).retain(|a| a["id"] != id.as_str());
    for kind in [APP_SECRETS, APP_GROUPS] {
        dir.all_mut(kind).retain(|v| v["appId"] != id.as_str());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
