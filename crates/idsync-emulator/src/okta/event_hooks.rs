//! Okta's Event Hooks API: list, create, get, replace, delete, and the
//! verify and activate/deactivate lifecycle. Verifying calls the hook's URI
//! with a challenge, as Okta does, and succeeds only if the answer echoes
//! it. Events go to every hook that is `ACTIVE` and `VERIFIED` and lists
//! their type (see [`registered`]); only an `INACTIVE` hook can be deleted
//! (else 403).

use std::sync::{Arc, MutexGuard, PoisonError};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::errors::{Reply, error, invalid};
use super::events::EventHook;
use super::routes::authorize;
use super::user::iso;
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::hook_delivery::RegisteredEndpoint;

const KIND: &str = "eventHooks";

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route("/api/v1/eventHooks", get(list).post(create))
        .route(
            "/api/v1/eventHooks/{id}",
            get(get_one).put(replace).delete(remove),
        )
        .route(
            "/api/v1/eventHooks/{id}/lifecycle/{operation}",
            post(lifecycle),
        )
}

fn hooks(core: &Core) -> MutexGuard<'_, std::collections::BTreeMap<&'static str, Vec<Value>>> {
    core.resources
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A hook as Okta shows it: the header's secret is never returned.
fn shown(hook: &Value) -> Value {
    let mut hook = hook.clone();
    if let Some(auth) = hook
        .pointer_mut("/channel/config/authScheme")
        .and_then(Value::as_object_mut)
    {
        auth.remove("value");
        // Okta answers the header name lowercased.
        if let Some(Value::String(key)) = auth.get_mut("key") {
            *key = key.to_ascii_lowercase();
        }
    }
    hook
}

/// The writable part of a hook, checked as Okta checks it.
fn definition(body: &Bytes) -> Result<Value, super::errors::ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|_| invalid("body", &["The request body was not well-formed."]))?;
    let uri = body.pointer("/channel/config/uri").and_then(Value::as_str);
    if !uri.is_some_and(|u| u.starts_with("http://") || u.starts_with("https://")) {
        return Err(invalid(
            "channel.config.uri",
            &["channel.config.uri: must be an URL"],
        ));
    }
    if body.pointer("/events/type") != Some(&json!("EVENT_TYPE"))
        || !body.pointer("/events/items").is_some_and(Value::is_array)
    {
        return Err(invalid("events", &["events: must list EVENT_TYPE items"]));
    }
    if body
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid("name", &["name: must not be empty"]));
    }
    Ok(json!({
        "name": body["name"],
        "events": body["events"],
        "channel": body["channel"],
    }))
}

async fn list(State(core): State<Arc<Core>>, headers: HeaderMap) -> Reply {
    authorize(&core, &headers)?;
    let all: Vec<Value> = hooks(&core)
        .get(KIND)
        .map(|h| h.iter().map(shown).collect())
        .unwrap_or_default();
    Ok(Json(all).into_response())
}

async fn create(State(core): State<Arc<Core>>, headers: HeaderMap, body: Bytes) -> Reply {
    authorize(&core, &headers)?;
    let mut hook = definition(&body)?;
    let now = iso(chrono::Utc::now().timestamp_millis());
    hook["id"] = json!(format!("who{}", alphanumeric(&mut rand::rng(), 17)));
    hook["status"] = json!("ACTIVE");
    hook["verificationStatus"] = json!("UNVERIFIED");
    hook["created"] = json!(now);
    hook["lastUpdated"] = json!(now);
    hooks(&core).entry(KIND).or_default().push(hook.clone());
    Ok((StatusCode::OK, Json(shown(&hook))).into_response())
}

async fn replace(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    authorize(&core, &headers)?;
    let definition = definition(&body)?;
    let mut all = hooks(&core);
    let hook = find(&mut all, &id)?;
    for key in ["name", "events", "channel"] {
        hook[key] = definition[key].clone();
    }
    hook["lastUpdated"] = json!(iso(chrono::Utc::now().timestamp_millis()));
    Ok(Json(shown(hook)).into_response())
}

async fn get_one(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut all = hooks(&core);
    Ok(Json(shown(find(&mut all, &id)?)).into_response())
}

async fn remove(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    authorize(&core, &headers)?;
    let mut all = hooks(&core);
    if find(&mut all, &id)?["status"] != "INACTIVE" {
        // Okta deletes only deactivated hooks, as a safety precaution; 403
        // is the refusal its API reference lists for this operation.
        return Err(error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
        ));
    }
    all.entry(KIND)
        .or_default()
        .retain(|h| h["id"] != id.as_str());
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The hooks events are delivered to: `ACTIVE` and `VERIFIED` ones, each
/// for the event types in its `events.items`, with its `authScheme` and
/// `headers`.
pub(super) fn registered(core: &Core) -> Vec<RegisteredEndpoint> {
    hooks(core)
        .get(KIND)
        .into_iter()
        .flatten()
        .filter(|h| h["status"] == "ACTIVE" && h["verificationStatus"] == "VERIFIED")
        .filter_map(|hook| {
            Some(RegisteredEndpoint {
                id: hook["id"].as_str()?.to_owned(),
                url: hook.pointer("/channel/config/uri")?.as_str()?.to_owned(),
                event_types: hook["events"]["items"]
                    .as_array()?
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                deliverer: Arc::new(EventHook::registered(core, hook)),
            })
        })
        .collect()
}

fn find<'a>(
    all: &'a mut std::collections::BTreeMap<&'static str, Vec<Value>>,
    id: &str,
) -> Result<&'a mut Value, super::errors::ApiError> {
    all.get_mut(KIND)
        .and_then(|h| h.iter_mut().find(|h| h["id"] == id))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {id} (EventHook)"),
            )
        })
}

async fn lifecycle(
    State(core): State<Arc<Core>>,
    headers: HeaderMap,
    Path((id, operation)): Path<(String, String)>,
) -> Reply {
    authorize(&core, &headers)?;
    let hook = {
        let mut all = hooks(&core);
        find(&mut all, &id)?.clone()
    };
    let update = match operation.as_str() {
        "activate" => json!({ "status": "ACTIVE" }),
        "deactivate" => json!({ "status": "INACTIVE" }),
        "verify" => {
            verify(&hook).await?;
            json!({ "verificationStatus": "VERIFIED" })
        }
        _ => {
            return Err(error(
                StatusCode::NOT_FOUND,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
            ));
        }
    };
    let mut all = hooks(&core);
    let hook = find(&mut all, &id)?;
    for (k, v) in update.as_object().into_iter().flatten() {
        hook[k] = v.clone();
    }
    Ok(Json(shown(hook)).into_response())
}

/// Okta's one-time verification: a GET with a challenge (and the hook's
/// header), answered by echoing it.
async fn verify(hook: &Value) -> Result<(), super::errors::ApiError> {
    let failed = || {
        invalid(
            "verify",
            &["Your endpoint did not return the verification value within the required time"],
        )
    };
    let uri = hook
        .pointer("/channel/config/uri")
        .and_then(Value::as_str)
        .ok_or_else(failed)?;
    let challenge = alphanumeric(&mut rand::rng(), 24);
    let mut request = reqwest::Client::new()
        .get(uri)
        .timeout(std::time::Duration::from_secs(3))
        .header("x-okta-verification-challenge", &challenge);
    if let (Some(key), Some(value)) = (
        hook.pointer("/channel/config/authScheme/key")
            .and_then(Value::as_str),
        hook.pointer("/channel/config/authScheme/value")
            .and_then(Value::as_str),
    ) {
        request = request.header(key, value);
    }
    let answer: Value = request
        .send()
        .await
        .map_err(|_| failed())?
        .json()
        .await
        .map_err(|_| failed())?;
    if answer == json!({ "verification": challenge }) {
        Ok(())
    } else {
        Err(failed())
    }
}
