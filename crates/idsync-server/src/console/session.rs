//! Console sessions: the admin token, presented once at `/login`, or an
//! OpenID Connect sign-in by an admin (see [`super::oidc`]), buys an
//! encrypted cookie holding an expiry and a CSRF token. The cookie is
//! encrypted and authenticated with a key derived from the token, so it
//! cannot be read or forged, and every replica with the same token accepts
//! it.

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, PrivateCookieJar, SameSite};
use chrono::Utc;
use maud::Markup;
use rand::Rng;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{PageError, layout, oidc};
use crate::AppState;

const COOKIE: &str = "idsync_session";
const LIFETIME_SECS: i64 = 12 * 3600;

/// A logged-in console user. Extracting it from a request without a valid
/// session redirects to the login page.
pub(super) struct Session {
    csrf: String,
}

impl Session {
    /// The token every state-changing form must send back as `csrf`.
    pub(super) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Constant-time check of a form's `csrf` field.
    pub(super) fn check(&self, presented: &str) -> Result<(), PageError> {
        if bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes())) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Reads the session from the cookie: `"{expires_unix}:{csrf}"`,
    /// decrypted and authenticated by the jar.
    pub(super) fn from_jar(jar: &PrivateCookieJar) -> Option<Self> {
        let cookie = jar.get(COOKIE)?;
        let (expires, csrf) = cookie.value().split_once(':')?;
        let expires: i64 = expires.parse().ok()?;
        (expires > Utc::now().timestamp() && !csrf.is_empty()).then(|| Self {
            csrf: csrf.to_owned(),
        })
    }
}

fn jar(parts: &Parts, state: &AppState) -> PrivateCookieJar {
    PrivateCookieJar::from_headers(&parts.headers, state.admin.cookie_key().clone())
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Redirect;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Redirect> {
        Session::from_jar(&jar(parts, state)).ok_or_else(|| Redirect::to("/login"))
    }
}

/// The cookie jar, keyed for this server's sessions.
pub(super) struct Jar(pub(super) PrivateCookieJar);

impl FromRequestParts<AppState> for Jar {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(jar(parts, state)))
    }
}

/// A new session cookie; `Secure` when the console is served over https.
pub(super) fn session_cookie(state: &AppState) -> Cookie<'static> {
    let csrf: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let expires = Utc::now().timestamp() + LIFETIME_SECS;
    Cookie::build((COOKIE, format!("{expires}:{csrf}")))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.public_url.starts_with("https://"))
        .max_age(cookie::time::Duration::seconds(LIFETIME_SECS))
        .build()
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    /// The one-time login URL `serve` prints carries the token here.
    token: Option<String>,
}

/// `GET /login`: the form, or, with `?token=`, the login itself followed by
/// a redirect so the token leaves the address bar.
pub(super) async fn login_page(
    State(state): State<AppState>,
    Jar(jar): Jar,
    Query(q): Query<LoginQuery>,
) -> Response {
    match q.token {
        Some(token) => attempt(
            &state,
            jar,
            &token,
            "This login link is not valid. When no admin token is configured, a new one is generated at every start: use the link printed most recently.",
        ),
        None if Session::from_jar(&jar).is_some() => Redirect::to("/").into_response(),
        None => login_form(&state, None).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    token: String,
}

/// `POST /login`.
pub(super) async fn login(
    State(state): State<AppState>,
    Jar(jar): Jar,
    Form(form): Form<LoginForm>,
) -> Response {
    attempt(&state, jar, &form.token, "That is not the admin token.")
}

fn attempt(state: &AppState, jar: PrivateCookieJar, token: &str, refused: &str) -> Response {
    if state.admin.accepts(token.trim()) {
        (jar.add(session_cookie(state)), Redirect::to("/")).into_response()
    } else {
        tracing::warn!("console login refused: wrong admin token");
        (StatusCode::UNAUTHORIZED, login_form(state, Some(refused))).into_response()
    }
}

/// The login page: the single sign-on button when admin OIDC is configured,
/// and the token form unless the only token is a generated one nobody was
/// shown (`serve` prints it only without admin OIDC).
fn login_form(state: &AppState, refused: Option<&str>) -> Markup {
    let sso = oidc::login_button(state);
    let token_form = !(state.admin.generated && sso.is_some());
    layout::login_page(refused, sso.as_ref(), token_form)
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

/// `POST /logout`.
pub(super) async fn logout(
    session: Session,
    Jar(jar): Jar,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    session.check(&form.csrf)?;
    let gone = jar.remove(Cookie::build(COOKIE).path("/"));
    Ok((gone, Redirect::to("/login")).into_response())
}
