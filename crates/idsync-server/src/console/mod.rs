//! The web console: server-rendered pages (maud, plain forms, no
//! JavaScript) over the same store and provider calls as the admin API.
//!
//! Access is a session cookie obtained by logging in with the admin token
//! (see [`session`]) or, when configured, by an admin's OpenID Connect
//! sign-in (see [`oidc`]); every state-changing form carries the session's
//! CSRF token. Every console response gets a strict CSP and friends, which is why
//! the stylesheet is a file of its own rather than inline.

mod connections;
mod flash;
mod layout;
mod oidc;
mod session;
mod users;

pub use oidc::{AdminOidc, AdminOidcConfig, AdminOidcError, DEFAULT_NAME as DEFAULT_OIDC_NAME};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use idsync_providers::ApiError;

use crate::AppState;
use crate::admin::input::InvalidInput;
use crate::admin::service::AdminError;
use crate::error::{log_failure, status_of};

/// Every console page, the login and the stylesheet; with admin OIDC
/// configured, also the login layer's `/api/auth/*`.
pub fn router() -> Router<AppState> {
    // Literal paths, not `/api/auth/{*rest}`: the login layer's own path
    // parameters must be the only ones its handlers see.
    let login_layer = Router::new()
        .route("/api/auth/signin", any(oidc::login_layer))
        .route(oidc::CALLBACK_PATH, any(oidc::login_layer))
        .route("/api/auth/signout", any(oidc::login_layer))
        .layer(map_response(login_layer_headers));
    Router::new()
        .route("/console/style.css", get(style))
        .route("/console/favicon.svg", get(favicon))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route(oidc::LANDING_PATH, get(oidc::landing))
        .route("/", get(connections::overview_page))
        .route("/connections/{name}", get(connections::connection_page))
        .route("/connections/{name}/backfill", post(connections::backfill))
        .route("/connections/{name}/connect", post(connections::connect))
        .route(
            "/connections/{name}/reconcile",
            post(connections::reconcile),
        )
        .route("/connections/{name}/errors", get(connections::errors_page))
        .route(
            "/connections/{name}/errors/{id}",
            get(connections::error_page),
        )
        .route(
            "/connections/{name}/users",
            get(users::list_page).post(users::create),
        )
        .route("/connections/{name}/users/{id}", get(users::detail_page))
        .route(
            "/connections/{name}/users/{id}/delete",
            get(users::delete_page).post(users::delete),
        )
        .layer(map_response(security_headers))
        .merge(login_layer)
}

const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    // Pages show user data and carry the CSRF token: never cache them.
    (header::CACHE_CONTROL, "no-store"),
];

/// Adds the security headers a handler did not set itself (the stylesheet
/// sets its own `Cache-Control`).
async fn security_headers(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    resp
}

/// The login layer's own pages carry inline styles, and its sign-out form
/// ends at the issuer: they get everything above but the content policy's
/// `default-src` and `form-action`.
const LOGIN_LAYER_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::CACHE_CONTROL, "no-store"),
];

async fn login_layer_headers(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    for (name, value) in LOGIN_LAYER_HEADERS {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    resp
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("style.css"),
    )
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("favicon.svg"),
    )
}

/// Why a console page could not be shown; rendered as a page, never as a
/// stack trace. Its status is the admin API's for the same failure.
enum PageError {
    /// A page that exists only in some configurations.
    NotFound(String),
    /// A form without the session's CSRF token.
    Forbidden,
    Admin(AdminError),
}

impl From<AdminError> for PageError {
    fn from(e: AdminError) -> Self {
        Self::Admin(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            Self::NotFound(what) => (StatusCode::NOT_FOUND, "Not found", what),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "This form has expired or did not come from this console. Go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::Admin(e) => {
                let status = status_of(&e);
                if status.is_server_error() {
                    log_failure(status, &e);
                }
                let (title, text) = page_words(status, &e);
                (status, title, text)
            }
        };
        (status, layout::error_page(title, &text)).into_response()
    }
}

/// An admin operation's failure as the console says it.
fn page_words(status: StatusCode, e: &AdminError) -> (&'static str, String) {
    match e {
        AdminError::NoConnection(name) => (
            "Not found",
            format!("There is no connection named “{name}”."),
        ),
        AdminError::NoUser { connection, id } => (
            "Not found",
            format!("“{connection}” has no user with id “{id}”."),
        ),
        AdminError::NoError { connection, id } => (
            "Not found",
            format!("Error {id} of “{connection}” is not (or no longer) recorded."),
        ),
        AdminError::Store(_) if status == StatusCode::SERVICE_UNAVAILABLE => (
            "Database unavailable",
            "idsync could not read its database. Try again in a moment.".to_owned(),
        ),
        AdminError::Store(_) => (
            "Internal error",
            "idsync's database refused a query; the details are in idsync's log.".to_owned(),
        ),
        other => ("Could not do that", failure_words(other)),
    }
}

/// A failed action in words an operator can act on, for its banner.
fn failure_words(e: &AdminError) -> String {
    match e {
        AdminError::Invalid(InvalidInput::Email { given }) => {
            format!("“{given}” is not an email address.")
        }
        AdminError::Busy => {
            "A backfill or reconcile of this connection is already running.".to_owned()
        }
        AdminError::Provider(e) | AdminError::ProviderHasNoUser { source: e, .. } => {
            provider_failure(e)
        }
        other => other.to_string(),
    }
}

/// A provider API failure in words an operator can act on.
fn provider_failure(e: &ApiError) -> String {
    // Provider error bodies can be long JSON documents; the gist fits in a line.
    fn clip(body: &str) -> String {
        const MAX: usize = 300;
        match body.char_indices().nth(MAX) {
            Some((at, _)) => format!("{}…", &body[..at]),
            None => body.to_owned(),
        }
    }
    match e {
        ApiError::Unreachable { reason, .. } => {
            format!(
                "Could not reach the provider's API ({reason}). Is it up, and is api_url right?"
            )
        }
        ApiError::Unauthorized { status, .. } => format!(
            "The provider refused idsync's credentials (HTTP {status}). Check the connection's secret key."
        ),
        ApiError::Status { status, body } if (400..500).contains(status) => {
            format!("The provider refused (HTTP {status}): {}", clip(body))
        }
        ApiError::Status { status, body } => {
            format!("The provider failed (HTTP {status}): {}", clip(body))
        }
        ApiError::Body(why) => format!("The provider answered something unexpected: {}", clip(why)),
        ApiError::Decode(why) => format!("The provider answered a user idsync cannot read: {why}"),
        ApiError::RateLimited(_) => {
            "The provider is rate-limiting requests; try again in a minute.".to_owned()
        }
        ApiError::Unsupported(why) => format!("Not available for this provider: {why}"),
        ApiError::NotFound(why) => format!("Not found at the provider: {why}"),
    }
}

/// Percent-encodes one path segment or query value.
fn enc(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn connection_url(name: &str) -> String {
    format!("/connections/{}", enc(name))
}

fn user_url(name: &str, id: &str) -> String {
    format!("/connections/{}/users/{}", enc(name), enc(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enc_escapes_everything_but_unreserved() {
        assert_eq!(enc("user_2Ab-9.~"), "user_2Ab-9.~");
        assert_eq!(enc("a b/c?d&e=é"), "a%20b%2Fc%3Fd%26e%3D%C3%A9");
    }

    #[test]
    fn long_provider_bodies_are_clipped() {
        let msg = provider_failure(&ApiError::Status {
            status: 400,
            body: "x".repeat(1000),
        });
        assert!(msg.starts_with("The provider refused (HTTP 400): xxx"));
        assert!(msg.ends_with('…'));
        assert!(msg.len() < 400);
    }
}
