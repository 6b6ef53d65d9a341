//! Okta's Apps API for OpenID Connect app integrations (`name:
//! "oidc_client"`, `signOnMode: "OPENID_CONNECT"`): create, list (`q`,
//! `filter`, paging), read, replace, activate/deactivate, delete; the
//! client secrets (`/credentials/secrets`); group assignments.
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
use rand::Rng;
use serde_json::{Map, Value, json};

use super::directory::{APP_GROUPS, APP_SECRETS, APPS, Directory, GROUPS, directory};
use super::errors::{ApiError, Reply, bad_json, error, invalid, invalid_search, missing};
use super::filter::{Attributes, Filter};
use super::paging;
use super::routes::authorize;
use super::user::{iso, org_ids};
use crate::config::alphanumeric;
use crate::emulator::Core;

const LIST_PATH: &str = "/api/v1/apps";
/// Okta's largest page of apps.
const MAX_APPS: usize = 200;
/// Okta keeps at most two client secrets per app.
const MAX_SECRETS: usize = 2;

const ATTRIBUTES: Attributes = Attributes {
    text: &["id", "status", "name"],
    times: &[],
};

const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "client_credentials",
    "implicit",
    "interaction_code",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:openid:params:grant-type:ciba",
    "urn:okta:params:oauth:grant-type:otp",
    "urn:okta:params:oauth:grant-type:oob",
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob",
];
const RESPONSE_TYPES: &[&str] = &["code", "id_token", "token"];
const APPLICATION_TYPES: &[&str] = &["browser", "native", "service", "web"];
const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_jwt",
    "client_secret_post",
    "none",
    "private_key_jwt",
];

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

fn app_missing(id: &str) -> ApiError {
    missing(id, "AppInstance")
}

fn now(core: &Core) -> i64 {
    core.lock().now().timestamp_millis()
}

/// A list of strings from `allowed`, or the error naming `field`.
fn string_list(value: &Value, field: &str, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let bad = || invalid(field, &[&format!("{field}: contains an unsupported value")]);
    let Some(items) = value.as_array() else {
        return Err(bad());
    };
    items
        .iter()
        .map(|v| {
            v.as_str()
                .filter(|s| allowed.is_empty() || allowed.contains(s))
                .map(str::to_owned)
                .ok_or_else(bad)
        })
        .collect()
}

fn one_of(value: &Value, field: &str, allowed: &[&str], default: &str) -> Result<String, ApiError> {
    match value {
        Value::Null => Ok(default.to_owned()),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(s.clone()),
        _ => Err(invalid(
            field,
            &[&format!("{field}: must be one of {}", allowed.join(", "))],
        )),
    }
}

fn is_url(uri: &str) -> bool {
    uri.starts_with("https://") || uri.starts_with("http://") || uri.contains(":/")
}

/// What a create or replace asks for, checked as Okta checks it.
struct Definition {
    label: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    oauth_client: Map<String, Value>,
    settings_client: Map<String, Value>,
    accessibility: Option<Value>,
    visibility: Option<Value>,
    profile: Option<Value>,
}

fn definition(bytes: &[u8]) -> Result<Definition, ApiError> {
    let body: Value = serde_json::from_slice(bytes).map_err(|_| bad_json())?;
    if !body.is_object() {
        return Err(bad_json());
    }
    if body["name"] != "oidc_client" {
        return Err(invalid(
            "name",
            &["name: the emulator's Apps API supports only \"oidc_client\" apps"],
        ));
    }
    if !body["signOnMode"].is_null() && body["signOnMode"] != "OPENID_CONNECT" {
        return Err(invalid(
            "signOnMode",
            &["signOnMode: must be OPENID_CONNECT for oidc_client"],
        ));
    }
    let label = body["label"]
        .as_str()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid("label", &["label: The field cannot be left blank"]))?
        .to_owned();

    let given = &body["credentials"]["oauthClient"];
    let method = one_of(
        &given["token_endpoint_auth_method"],
        "token_endpoint_auth_method",
        AUTH_METHODS,
        "client_secret_basic",
    )?;
    let client_id = match &given["client_id"] {
        Value::Null => None,
        Value::String(id) if valid_client_id(id) => Some(id.clone()),
        _ => {
            return Err(invalid(
                "client_id",
                &[
                    "client_id: must be 6 to 100 of the characters A-Z a-z 0-9 $-_.+!*'(), and not ALL_CLIENTS",
                ],
            ));
        }
    };
    let client_secret = match &given["client_secret"] {
        Value::Null => None,
        Value::String(s) => Some(check_secret(s, &method)?),
        _ => {
            return Err(invalid(
                "client_secret",
                &["client_secret: must be a string"],
            ));
        }
    };
    let mut oauth_client = Map::new();
    oauth_client.insert(
        "autoKeyRotation".into(),
        json!(given["autoKeyRotation"].as_bool().unwrap_or(true)),
    );
    oauth_client.insert("token_endpoint_auth_method".into(), json!(method));
    let pkce = given["pkce_required"].as_bool().unwrap_or(true);
    if method == "none" && !pkce {
        return Err(invalid(
            "pkce_required",
            &["pkce_required: must be true when token_endpoint_auth_method is none"],
        ));
    }
    oauth_client.insert("pkce_required".into(), json!(pkce));

    let settings = &body["settings"]["oauthClient"];
    let mut settings_client = settings.as_object().cloned().unwrap_or_default();
    let grant_types = string_list(&settings["grant_types"], "grant_types", GRANT_TYPES)?;
    if grant_types.is_empty() {
        return Err(invalid(
            "grant_types",
            &["grant_types: The field cannot be left blank"],
        ));
    }
    let response_types = match &settings["response_types"] {
        Value::Null => vec!["code".to_owned()],
        v => string_list(v, "response_types", RESPONSE_TYPES)?,
    };
    let redirect_uris = match &settings["redirect_uris"] {
        Value::Null => Vec::new(),
        v => string_list(v, "redirect_uris", &[])?,
    };
    let post_logout = match &settings["post_logout_redirect_uris"] {
        Value::Null => Vec::new(),
        v => string_list(v, "post_logout_redirect_uris", &[])?,
    };
    for uri in redirect_uris.iter().chain(&post_logout) {
        if !is_url(uri) {
            return Err(invalid(
                "redirect_uris",
                &[&format!("redirect_uris: {uri} is not a valid URI")],
            ));
        }
    }
    let redirects = ["authorization_code", "implicit"];
    if redirect_uris.is_empty() && grant_types.iter().any(|g| redirects.contains(&g.as_str())) {
        return Err(invalid(
            "redirect_uris",
            &[
                "redirect_uris: Must specify redirect_uris when using the authorization_code or implicit grant",
            ],
        ));
    }
    let application_type = one_of(
        &settings["application_type"],
        "application_type",
        APPLICATION_TYPES,
        "web",
    )?;
    settings_client.insert("grant_types".into(), json!(grant_types));
    settings_client.insert("response_types".into(), json!(response_types));
    settings_client.insert("redirect_uris".into(), json!(redirect_uris));
    if !post_logout.is_empty() {
        settings_client.insert("post_logout_redirect_uris".into(), json!(post_logout));
    }
    settings_client.insert("application_type".into(), json!(application_type));
    for (key, default) in [
        ("consent_method", json!("TRUSTED")),
        ("issuer_mode", json!("DYNAMIC")),
        (
            "idp_initiated_login",
            json!({ "mode": "DISABLED", "default_scope": [] }),
        ),
        ("wildcard_redirect", json!("DISABLED")),
        ("dpop_bound_access_tokens", json!(false)),
    ] {
        settings_client.entry(key).or_insert(default);
    }
    Ok(Definition {
        label,
        client_id,
        client_secret,
        oauth_client,
        settings_client,
        accessibility: body.get("accessibility").filter(|v| v.is_object()).cloned(),
        visibility: body.get("visibility").filter(|v| v.is_object()).cloned(),
        profile: body.get("profile").filter(|v| v.is_object()).cloned(),
    })
}

fn valid_client_id(id: &str) -> bool {
    (6..=100).contains(&id.len())
        && id != "ALL_CLIENTS"
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "$-_.+!*'(),".contains(c))
}

/// A client secret Okta accepts, with its documented messages.
fn check_secret(secret: &str, method: &str) -> Result<String, ApiError> {
    let fail = |why: &str| invalid("client_secret", &[why]);
    if method == "private_key_jwt" {
        return Err(fail(
            "'client_secret' can't be used when 'token_endpoint_auth_method' is 'private_key_jwt'.",
        ));
    }
    if !secret.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(fail(
            "client_secret: ''client_secret'' must only contain printable ASCII: [x20-x7E]+",
        ));
    }
    if secret.len() > 100 {
        return Err(fail(
            "client_secret: 'client_secret' can't be more than '100' characters long.",
        ));
    }
    if secret.len() < 14 {
        return Err(fail(
            "client_secret: 'client_secret' must be at least '14' characters long.",
        ));
    }
    if method == "client_secret_jwt" && secret.len() < 32 {
        return Err(fail(
            "client_secret: 'client_secret' must be at least '32' characters long when 'token_endpoint_auth_method' is 'client_secret_jwt'.",
        ));
    }
    Ok(secret.to_owned())
}

/// Whether the app's authentication method uses a client secret.
fn uses_secret(app: &Value) -> bool {
    matches!(
        app["credentials"]["oauthClient"]["token_endpoint_auth_method"].as_str(),
        Some("client_secret_basic" | "client_secret_post" | "client_secret_jwt")
    )
}

/// Okta's generated secrets: 64 letters, digits, `-` and `_`.
fn generated_secret() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..64)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

fn secret_object(core: &Core, app_id: &str, secret: String, at_ms: i64) -> Value {
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

/// The app as a create or replace answers it: with its newest active
/// secret.
fn with_secret(dir: &Directory<'_>, app: &Value) -> Value {
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

async fn list_secrets(
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
async fn create_secret(
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
async fn assign(
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

async fn list_assignments(
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

async fn read_assignment(
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

async fn unassign(
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
