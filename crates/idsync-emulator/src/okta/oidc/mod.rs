//! Okta's org authorization server: the OpenID Connect issuer at the org
//! URL itself (`issuer` = the org URL, endpoints under `/oauth2/v1/`), for
//! the org's users, so an app signs in against the emulator as it would
//! against Okta.
//!
//! As Okta does it (the org authorization server's documentation):
//! - `GET /.well-known/openid-configuration`: the metadata, with the
//!   supported values Okta publishes (endpoints the emulator does not
//!   serve, such as introspect and revoke, are left out).
//! - `GET /oauth2/v1/authorize`: the authorization code flow
//!   (`response_type=code`, `response_mode=query`), `state` required,
//!   `nonce` optional, PKCE with `S256` when a `code_challenge` is sent.
//!   An unknown `client_id` or an unregistered `redirect_uri` gets an error
//!   page; every other error goes back to the redirect URI as `error=`.
//!   Without a session (cookie `sid`), or with `prompt=login`, the sign-in
//!   page asks for a username and a password; `prompt=none` without a
//!   session answers `login_required`.
//! - Only `ACTIVE` users sign in; a user not assigned to the app is sent
//!   back with `access_denied`.
//! - `POST /oauth2/v1/token`: `authorization_code` with the app's
//!   `client_secret_basic` or `client_secret_post`; codes live 300 s and
//!   are single-use; the redirect URI must match and PKCE verify. The ID
//!   token is RS256 with `ver`, `jti`, `amr`, `idp`, `auth_time`,
//!   `at_hash`, `nonce`, and `name`, `preferred_username` (scope
//!   `profile`) and `email` (scope `email`); it and the access token live
//!   an hour.
//! - `GET|POST /oauth2/v1/userinfo` with the bearer access token: every
//!   claim of the granted scopes.
//! - `GET /oauth2/v1/keys`: the JWKS.
//! - `GET /oauth2/v1/logout`: `id_token_hint` (one of ours, expired or
//!   not), `post_logout_redirect_uri` registered for the token's client,
//!   `state` passed back; ends the session.
//!
//! Where the emulator differs: access tokens are opaque (Okta's org
//! authorization server issues JWTs that only Okta may read, so no client
//! can tell); the sign-in page is a plain form (posting to
//! [`SIGN_IN_PATH`]), with no MFA; token timestamps are real time (clients
//! check them against their own clocks) while codes, sessions and tokens
//! expire on the emulator's clock, so tests can age them.

mod authorize;
mod claims;
mod clients;
mod discovery;
mod errors;
mod keys;
mod logout;
mod pages;
mod passwords;
mod token;
mod userinfo;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::routing::{get, post};
use axum::{Extension, Router};
use url::Url;

pub use clients::{Assignment, OidcClient, TokenAuthMethod};
pub use passwords::DEV_PASSWORD;
pub(super) use passwords::remember as remember_password;

use crate::config::alphanumeric;
use crate::emulator::Core;
use keys::{KeyError, SigningKey};

/// Where the sign-in form posts (the emulator's own path).
pub(super) const SIGN_IN_PATH: &str = "/emulator/sign-in";
/// Okta's authorization code lifetime.
const CODE_TTL_MS: i64 = 300_000;
/// ID and access tokens: an hour, fixed for the org authorization server.
const TOKEN_TTL_S: i64 = 3600;
/// How long the sign-in form stays usable.
const SIGN_IN_TTL_MS: i64 = 600_000;
/// Okta's default session lifetime: two hours.
const SESSION_TTL_MS: i64 = 2 * 3600 * 1000;

pub(super) fn routes() -> Router<Arc<Core>> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::configuration),
        )
        .route("/oauth2/v1/keys", get(discovery::keys))
        .route("/oauth2/v1/authorize", get(authorize::authorize))
        .route(SIGN_IN_PATH, post(authorize::sign_in))
        .route("/oauth2/v1/token", post(token::token))
        .route(
            "/oauth2/v1/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/oauth2/v1/logout", get(logout::logout))
        .layer(Extension(Arc::new(Issuer::default())))
}

/// An authorize request that passed its checks.
#[derive(Debug, Clone)]
pub(super) struct AuthRequest {
    pub client_id: String,
    /// As sent (the token request must repeat it exactly) ...
    pub redirect_uri: String,
    /// ... and parsed, to answer at.
    pub redirect_to: Url,
    pub scopes: Vec<String>,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
}

/// What a code stands for until it is redeemed.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub request: AuthRequest,
    pub user_id: String,
    /// When the user signed in (Unix seconds, real time).
    pub auth_time: i64,
}

/// What an access token stands for.
#[derive(Debug, Clone)]
pub(super) struct Access {
    pub user_id: String,
    pub scopes: Vec<String>,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub user_id: String,
    pub auth_time: i64,
}

/// Something handed out, until it expires (emulator clock, ms).
struct Expiring<T> {
    value: T,
    until_ms: i64,
}

#[derive(Default)]
struct Grants {
    pending: HashMap<String, Expiring<AuthRequest>>,
    codes: HashMap<String, Expiring<Grant>>,
    tokens: HashMap<String, Expiring<Access>>,
    sessions: HashMap<String, Expiring<Session>>,
}

/// The issuer's own state, beside the org's users.
#[derive(Default)]
pub(super) struct Issuer {
    key: Mutex<Option<Arc<SigningKey>>>,
    grants: Mutex<Grants>,
}

/// A fresh unguessable value (codes, tokens, session ids).
fn secret() -> String {
    alphanumeric(&mut rand::rng(), 43)
}

fn put<T>(map: &mut HashMap<String, Expiring<T>>, value: T, now_ms: i64, ttl_ms: i64) -> String {
    map.retain(|_, e| e.until_ms > now_ms);
    let key = secret();
    map.insert(
        key.clone(),
        Expiring {
            value,
            until_ms: now_ms + ttl_ms,
        },
    );
    key
}

fn live<T: Clone>(map: &HashMap<String, Expiring<T>>, key: &str, now_ms: i64) -> Option<T> {
    map.get(key)
        .filter(|e| e.until_ms > now_ms)
        .map(|e| e.value.clone())
}

impl Issuer {
    fn grants(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The signing key, made on first use.
    pub(super) fn key(&self) -> Result<Arc<SigningKey>, KeyError> {
        let mut key = self.key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = key.as_ref() {
            return Ok(Arc::clone(key));
        }
        let made = Arc::new(SigningKey::generate()?);
        *key = Some(Arc::clone(&made));
        Ok(made)
    }

    /// Holds an authorize request while the user signs in; its token.
    pub(super) fn hold(&self, request: AuthRequest, now_ms: i64) -> String {
        put(&mut self.grants().pending, request, now_ms, SIGN_IN_TTL_MS)
    }

    pub(super) fn held(&self, token: &str, now_ms: i64) -> Option<AuthRequest> {
        live(&self.grants().pending, token, now_ms)
    }

    pub(super) fn release(&self, token: &str) {
        self.grants().pending.remove(token);
    }

    pub(super) fn issue_code(&self, grant: Grant, now_ms: i64) -> String {
        put(&mut self.grants().codes, grant, now_ms, CODE_TTL_MS)
    }

    /// The grant of a live code. A code is redeemed once: it is gone
    /// after this, whatever the outcome.
    pub(super) fn redeem(&self, code: &str, now_ms: i64) -> Option<Grant> {
        let entry = self.grants().codes.remove(code)?;
        (entry.until_ms > now_ms).then_some(entry.value)
    }

    pub(super) fn issue_token(&self, access: Access, now_ms: i64) -> String {
        put(
            &mut self.grants().tokens,
            access,
            now_ms,
            TOKEN_TTL_S * 1000,
        )
    }

    pub(super) fn access(&self, token: &str, now_ms: i64) -> Option<Access> {
        live(&self.grants().tokens, token, now_ms)
    }

    pub(super) fn start_session(&self, session: Session, now_ms: i64) -> String {
        put(&mut self.grants().sessions, session, now_ms, SESSION_TTL_MS)
    }

    pub(super) fn session(&self, sid: &str, now_ms: i64) -> Option<Session> {
        live(&self.grants().sessions, sid, now_ms)
    }

    pub(super) fn end_session(&self, sid: &str) -> Option<Session> {
        self.grants().sessions.remove(sid).map(|e| e.value)
    }
}

/// The emulator clock in milliseconds.
fn now_ms(core: &Core) -> i64 {
    core.lock().now().timestamp_millis()
}

#[cfg(test)]
mod tests;
