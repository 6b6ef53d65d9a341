//! An app's client secrets: made when an app that needs one is created,
//! listed (with their values) and added through
//! `/api/v1/apps/{id}/credentials/secrets`, and shown in the answer to a
//! create or a replace of the app, never by a read or a list.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rand::Rng;
use serde_json::{Value, json};

use super::app_definition::check_secret;
use super::apps_api::{app_missing, now};
use super::directory::{APP_SECRETS, APPS, Directory, directory};
use super::errors::{Reply, bad_json, invalid};
use super::routes::authorize;
use super::user::iso;
use crate::config::alphanumeric;
use crate::emulator::Core;

/// Okta keeps at most two client secrets per app.
const MAX_SECRETS: usize = 2;

/// Whether the app's authentication method uses a client secret.
pub(super) fn uses_secret(app: &Value) -> bool {
    matches!(
        app["credentials"]["oauthClient"]["token_endpoint_auth_method"].as_str(),
        Some("client_secret_basic" | "client_secret_post" | "client_secret_jwt")
    )
}

/// Okta's generated secrets: 64 letters, digits, `-` and `_`.
pub(super) fn generated_secret() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..64)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

pub(super) fn secret_object(core: &Core, app_id: &str, secret: String, at_ms: i64) -> Value {
    let mut rng = rand::rng();
    let id = format!("ocs{}", alphanumeric(&mut rng, 17));
    json!({
        "id": id,
        "status": "ACTIVE",
        "client_secret": secret,
        "secret_hash": alphanumeric(&mut rng, 22),
        "created": iso(at_ms),
        "lastUpdated": iso(at_ms),
        "_links": {
            "deactivate": {
                "href": format!("{}/api/v1/apps/{app_id}/credentials/secrets/{id}/lifecycle/deactivate", core.base_url),
                "hints": { "allow": ["POST"] },
            },
        },
    })
}

/// The app as a create or replace answers it: with its newest active
/// secret.
pub(super) fn with_secret(dir: &Directory<'_>, app: &Value) -> Value {
    let mut shown = app.clone();
    let secret = dir
        .all(APP_SECRETS)
        .iter()
        .rev()
        .find(|s| s["appId"] == app["id"] && s["secret"]["status"] == "ACTIVE")
        .map(|s| s["secret"]["client_secret"].clone());
    if let Some(secret) = secret {
        shown["credentials"]["oauthClient"]["client_secret"] = secret;
    }
    shown
}

pub(super) async fn list_secrets(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let dir = directory(&core);
    dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    let secrets: Vec<&Value> = dir
        .all(APP_SECRETS)
        .iter()
        .filter(|s| s["appId"] == id.as_str())
        .map(|s| &s["secret"])
        .collect();
    Ok(Json(secrets).into_response())
}

/// `POST …/credentials/secrets`: `{}` for a generated secret, or
/// `{"client_secret": …}`; 201.
pub(super) async fn create_secret(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| bad_json())?
    };
    let at = now(&core);
    let mut dir = directory(&core);
    let app = dir.find(APPS, &id).ok_or_else(|| app_missing(&id))?;
    let method = app["credentials"]["oauthClient"]["token_endpoint_auth_method"]
        .as_str()
        .unwrap_or("client_secret_basic")
        .to_owned();
    let secret = match body["client_secret"].as_str() {
        Some(s) => check_secret(s, &method)?,
        None => generated_secret(),
    };
    let count = dir
        .all(APP_SECRETS)
        .iter()
        .filter(|s| s["appId"] == id.as_str())
        .count();
    if count >= MAX_SECRETS {
        return Err(invalid(
            "client_secret",
            &["client_secret: You can't create more than two secrets for an app"],
        ));
    }
    let object = secret_object(&core, &id, secret, at);
    dir.all_mut(APP_SECRETS)
        .push(json!({ "appId": id, "secret": object }));
    Ok((StatusCode::CREATED, Json(object)).into_response())
}
