//! `/.well-known/openid-configuration` and `/oauth2/v1/keys`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::Issuer;
use super::errors::oauth;
use crate::emulator::Core;

/// The org authorization server's metadata. The supported values are the
/// ones Okta publishes for it; endpoints the emulator does not serve are
/// left out.
pub(super) fn metadata(org: &str) -> Value {
    let v1 = format!("{org}/oauth2/v1");
    let auth_methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none"
    ]);
    json!({
        "issuer": org,
        "authorization_endpoint": format!("{v1}/authorize"),
        "token_endpoint": format!("{v1}/token"),
        "userinfo_endpoint": format!("{v1}/userinfo"),
        "jwks_uri": format!("{v1}/keys"),
        "response_types_supported": [
            "code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"
        ],
        "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
        "grant_types_supported": [
            "authorization_code",
            "implicit",
            "refresh_token",
            "password",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone", "offline_access", "groups"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "claims_supported": [
            "iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce",
            "name", "nickname", "preferred_username", "given_name", "middle_name", "family_name",
            "email", "email_verified", "profile", "zoneinfo", "locale", "address", "phone_number",
            "picture", "website", "gender", "birthdate", "updated_at", "at_hash", "c_hash"
        ],
        "code_challenge_methods_supported": ["S256"],
        "end_session_endpoint": format!("{v1}/logout"),
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": [
            "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"
        ],
    })
}

pub(super) async fn configuration(State(core): State<Arc<Core>>) -> Json<Value> {
    Json(metadata(&core.base_url))
}

pub(super) async fn keys(Extension(issuer): Extension<Arc<Issuer>>) -> Response {
    match issuer.key() {
        Ok(key) => {
            let mut response = Json(json!({ "keys": [key.jwk()] })).into_response();
            // Okta marks its keys cacheable, to be revalidated; the
            // emulator's key lives as long as the run.
            response.headers_mut().insert(
                CACHE_CONTROL,
                HeaderValue::from_static("max-age=3600, must-revalidate"),
            );
            response
        }
        Err(e) => oauth(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &e.to_string(),
        )
        .into_response(),
    }
}
