//! Extractors: [`CurrentUser`] (a signed-in user, or a rejection) and
//! [`MaybeUser`] / `Option<CurrentUser>` (a user if signed in).
//!
//! Both find the [`Auth`] in the request's extensions, put there by
//! [`Auth::layer`]. For requests with an unsafe method (POST, PUT, PATCH,
//! DELETE) from a browser, they also check that the request comes from the
//! application's own origin (`Origin`, else `Sec-Fetch-Site`): together with
//! the `SameSite=Lax` session cookie this makes handlers that take a
//! `CurrentUser` safe from cross-site request forgery without tokens.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use idsync_core::UserId;

use crate::Auth;

/// The signed-in user.
///
/// Rejection when nobody is signed in: a `GET`/`HEAD` request that accepts
/// HTML (a browser navigating) is redirected (303) to
/// `/api/auth/signin?return_to=<this path>`, and comes back here after
/// signing in; any other request gets `401 Unauthorized`. A cross-site
/// unsafe request gets `403 Forbidden`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// The `sub` claim: the user's id at the provider, and in the users
    /// table.
    pub id: UserId,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The provider id the user signed in with (`okta`, `oidc`, ...).
    pub provider: String,
    /// The `email_verified` claim, when the issuer sent one. An email
    /// marked unverified (`Some(false)`) must not be trusted to identify
    /// the user.
    pub email_verified: Option<bool>,
    /// The `groups` claim (empty when the issuer sent none, or too many to
    /// fit in the session cookie; a warning is logged then).
    pub groups: Vec<String>,
}

impl CurrentUser {
    /// The name, else the email, else the id: something to greet with.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(self.id.as_str())
    }
}

/// The signed-in user if there is one; never rejects (but for a missing
/// [`Auth::layer`]). The same as `Option<CurrentUser>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeUser(pub Option<CurrentUser>);

/// Why [`CurrentUser`] rejected a request.
#[derive(Debug)]
pub enum AuthRejection {
    /// Nobody is signed in; a browser navigation is sent to sign in.
    SignInRequired { redirect_to: Option<String> },
    /// An unsafe request from another site.
    CrossSite,
    /// The application did not add `.layer(auth.layer())`.
    MissingLayer,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::SignInRequired {
                redirect_to: Some(url),
            } => Redirect::to(&url).into_response(),
            Self::SignInRequired { redirect_to: None } => (
                StatusCode::UNAUTHORIZED,
                Html("<!doctype html><title>Sign in required</title><p>Sign in required.</p>"),
            )
                .into_response(),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                Html("<!doctype html><title>Request refused</title><p>Cross-site request refused.</p>"),
            )
                .into_response(),
            Self::MissingLayer => {
                tracing::error!(
                    "idsync-login: CurrentUser used without the Auth layer; add `.layer(auth.layer())` to the router"
                );
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

fn auth_of(parts: &Parts) -> Result<&Auth, AuthRejection> {
    parts
        .extensions
        .get::<Auth>()
        .ok_or(AuthRejection::MissingLayer)
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether a browser would show the response as a page.
fn wants_html(parts: &Parts) -> bool {
    matches!(parts.method, Method::GET | Method::HEAD)
        && parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
}

/// Whether a request comes from `origin` (e.g. `https://app.example.com`).
/// Browsers send `Origin` with every POST, but `null` from pages with
/// `Referrer-Policy: no-referrer` or sandboxed frames; then (and for older
/// browsers without `Origin`) `Sec-Fetch-Site` decides. A request with
/// neither header is not from a browser, so cross-site forgery does not
/// apply (it still needs the cookie).
pub(crate) fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    match headers.get(header::ORIGIN).map(|v| v.as_bytes()) {
        Some(b"null") => fetch_site == Some(b"same-origin"),
        Some(o) => o == origin.as_bytes(),
        None => matches!(fetch_site, None | Some(b"same-origin" | b"none")),
    }
}

/// The user, or `None`, for a request whose origin has been checked.
fn user_of(parts: &Parts, auth: &Auth) -> Option<CurrentUser> {
    if is_unsafe(&parts.method) && !auth.is_same_origin(&parts.headers) {
        tracing::warn!(method = %parts.method, path = %parts.uri.path(), "cross-site request: session ignored");
        return None;
    }
    auth.user(&parts.headers)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        if is_unsafe(&parts.method) && !auth.is_same_origin(&parts.headers) {
            tracing::warn!(method = %parts.method, path = %parts.uri.path(), "cross-site request refused");
            return Err(AuthRejection::CrossSite);
        }
        if let Some(user) = auth.user(&parts.headers) {
            return Ok(user);
        }
        let redirect_to = wants_html(parts).then(|| {
            let here = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            auth.signin_url(None, Some(here))
        });
        Err(AuthRejection::SignInRequired { redirect_to })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for CurrentUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = auth_of(parts)?;
        Ok(user_of(parts, auth))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let auth = auth_of(parts)?;
        Ok(Self(user_of(parts, auth)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_check() {
        let me = "http://127.0.0.1:3000";
        assert!(same_origin(
            &headers(&[("origin", "http://127.0.0.1:3000")]),
            me
        ));
        assert!(!same_origin(
            &headers(&[("origin", "http://evil.example")]),
            me
        ));
        assert!(!same_origin(&headers(&[("origin", "null")]), me));
        // `null` (no-referrer pages, sandboxed frames): Sec-Fetch-Site decides.
        assert!(same_origin(
            &headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]),
            me
        ));
        assert!(!same_origin(
            &headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
            me
        ));
        // A different port is a different origin.
        assert!(!same_origin(
            &headers(&[("origin", "http://127.0.0.1:3001")]),
            me
        ));
        // Origin wins over Sec-Fetch-Site.
        assert!(!same_origin(
            &headers(&[
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "same-origin")
            ]),
            me
        ));
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            me
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "cross-site")]),
            me
        ));
        assert!(!same_origin(
            &headers(&[("sec-fetch-site", "same-site")]),
            me
        ));
        assert!(same_origin(&headers(&[]), me));
    }

    #[test]
    fn display_name_falls_back() {
        let mut u = CurrentUser {
            id: UserId::parse("u1").unwrap(),
            name: None,
            email: Some("a@example.com".into()),
            provider: "okta".into(),
            email_verified: None,
            groups: Vec::new(),
        };
        assert_eq!(u.display_name(), "a@example.com");
        u.email = None;
        assert_eq!(u.display_name(), "u1");
        u.name = Some("Ada".into());
        assert_eq!(u.display_name(), "Ada");
    }
}
