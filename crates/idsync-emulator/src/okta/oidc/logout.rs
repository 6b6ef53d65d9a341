//! `/oauth2/v1/logout`: RP-initiated logout. The ID token hint names the
//! user and the client; the browser's session ends when it is that user's,
//! then the browser goes to the client's registered sign-out redirect URI.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::authorize::{clear_session_cookie, session_id};
use super::clients::lookup;
use super::errors::{page, redirect};
use super::{Issuer, now_ms, pages};
use crate::emulator::Core;

#[derive(Debug, Deserialize)]
pub(super) struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

pub(super) async fn logout(
    State(core): State<Arc<Core>>,
    Extension(issuer): Extension<Arc<Issuer>>,
    headers: HeaderMap,
    Query(q): Query<LogoutQuery>,
) -> Response {
    let Some(hint) = q.id_token_hint.filter(|h| !h.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'id_token_hint' parameter is required.",
        );
    };
    // One of ours, expired or not, as Okta accepts.
    let claims = issuer
        .key()
        .ok()
        .and_then(|key| key.verified_claims(&hint))
        .filter(|c| c.get("iss").and_then(Value::as_str) == Some(core.base_url.as_str()));
    let client = claims
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(|aud| match aud {
            Value::String(id) => Some(id.as_str()),
            Value::Array(ids) => ids.first().and_then(Value::as_str),
            _ => None,
        })
        .and_then(|id| lookup(&core, id));
    let (Some(claims), Some(client)) = (claims, client) else {
        return page(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "The id token is invalid.",
        );
    };
    let to = match q.post_logout_redirect_uri.filter(|u| !u.is_empty()) {
        None => None,
        Some(uri) => {
            let registered = client.post_logout_redirect_uris.contains(&uri);
            match Url::parse(&uri).ok().filter(|_| registered) {
                Some(url) => Some(url),
                None => {
                    return page(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "The 'post_logout_redirect_uri' parameter must be a Logout redirect URI in the client app settings.",
                    );
                }
            }
        }
    };
    if let Some(sid) = session_id(&headers) {
        let subject = claims.get("sub").and_then(Value::as_str);
        match issuer.session(&sid, now_ms(&core)) {
            Some(session) if Some(session.user_id.as_str()) != subject => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "id_token_does_not_match_session",
                    "The ID token subject does not match the current session's user.",
                );
            }
            _ => {
                issuer.end_session(&sid);
            }
        }
    }
    let mut response = match to {
        Some(to) => {
            let state: Vec<(&str, &str)> = q
                .state
                .as_deref()
                .map(|s| ("state", s))
                .into_iter()
                .collect();
            redirect(&to, &state)
        }
        None => pages::signed_out().into_response(),
    };
    response
        .headers_mut()
        .append(SET_COOKIE, clear_session_cookie());
    response
}
