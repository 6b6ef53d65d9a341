//! The ways the org authorization server says no: OAuth 2.0 error JSON
//! from the token endpoint, errors sent back to the client's redirect URI
//! from the authorize endpoint, `WWW-Authenticate` from userinfo, and an
//! error page when there is no trustworthy place to redirect to.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use super::pages;

/// An OAuth 2.0 error: its code and Okta's description of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
}

pub(super) fn oauth(status: StatusCode, code: &'static str, description: &str) -> OAuthError {
    OAuthError {
        status,
        code,
        description: description.to_owned(),
    }
}

pub(super) fn invalid_request(description: &str) -> OAuthError {
    oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

pub(super) fn invalid_grant(description: &str) -> OAuthError {
    oauth(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

pub(super) fn invalid_client(description: &str) -> OAuthError {
    oauth(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

pub(super) fn invalid_scope(description: &str) -> OAuthError {
    oauth(StatusCode::BAD_REQUEST, "invalid_scope", description)
}

pub(super) fn access_denied(description: &str) -> OAuthError {
    oauth(StatusCode::FORBIDDEN, "access_denied", description)
}

/// Token answers are never cached (RFC 6749 §5.1).
pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

impl IntoResponse for OAuthError {
    /// The token endpoint's JSON error (RFC 6749 §5.2).
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        no_store((self.status, Json(body)).into_response())
    }
}

/// A 302 to `to` with `params` added to its query.
pub(super) fn redirect(to: &Url, params: &[(&str, &str)]) -> Response {
    let mut url = to.clone();
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(LOCATION, location);
            response
        }
        // A parsed URL is ASCII; nothing to send the browser to otherwise.
        Err(_) => page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Bad redirect URI.",
        ),
    }
}

/// The authorization error response (RFC 6749 §4.1.2.1), back at the
/// client's registered redirect URI.
pub(super) fn to_client(to: &Url, error: &OAuthError, state: Option<&str>) -> Response {
    let mut params = vec![
        ("error", error.code),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect(to, &params)
}

/// An error shown in the browser, for requests that cannot be sent back to
/// a client (unknown client, unregistered redirect URI, bad logout).
pub(super) fn page(status: StatusCode, code: &str, description: &str) -> Response {
    (status, pages::error(code, description)).into_response()
}

/// Userinfo's refusal (RFC 6750 §3).
pub(super) fn bearer(status: StatusCode, code: &str, description: &str) -> Response {
    let mut response = status.into_response();
    let challenge = format!(r#"Bearer error="{code}", error_description="{description}""#);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}
