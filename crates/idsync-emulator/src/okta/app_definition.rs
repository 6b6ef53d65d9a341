//! What a create or replace of an app asks for (`POST`/`PUT
//! /api/v1/apps`), checked as Okta checks it, with Okta's validation
//! errors (`E0000001`, a cause per field).

use serde_json::{Map, Value, json};

use super::errors::{ApiError, bad_json, invalid};

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
pub(super) struct Definition {
    pub(super) label: String,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
    pub(super) oauth_client: Map<String, Value>,
    pub(super) settings_client: Map<String, Value>,
    pub(super) accessibility: Option<Value>,
    pub(super) visibility: Option<Value>,
    pub(super) profile: Option<Value>,
}

pub(super) fn definition(bytes: &[u8]) -> Result<Definition, ApiError> {
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
pub(super) fn check_secret(secret: &str, method: &str) -> Result<String, ApiError> {
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
