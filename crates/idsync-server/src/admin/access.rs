//! Who may use the admin API and the console.
//!
//! An admin token (`IDSYNC_ADMIN_TOKEN`, or one generated at start) is the
//! credential: a bearer token for the API; for the console, a login form
//! that exchanges it for an encrypted session cookie holding an expiry and a
//! CSRF token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::Key;
use idsync_core::Secret;
use rand::Rng;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::HttpError;

/// The admin credential and the key of console sessions, derived from it
/// (so every replica with the same token accepts the same sessions).
pub struct AdminAccess {
    token: Secret,
    cookie_key: Key,
    /// Whether the token was generated at start (no token configured).
    pub generated: bool,
}

impl AdminAccess {
    pub fn new(token: Secret) -> Self {
        Self {
            cookie_key: session_key(&token, ""),
            token,
            generated: false,
        }
    }

    /// The same credential, with sessions bound to `scope`: a session
    /// issued under another scope is not accepted. Serve binds sessions to
    /// the console's OpenID Connect allow-lists, so changing who is an
    /// admin signs everyone out instead of leaving removed admins signed in.
    pub fn scoped(&self, scope: &str) -> Self {
        Self {
            token: self.token.clone(),
            cookie_key: session_key(&self.token, scope),
            generated: self.generated,
        }
    }

    /// A fresh random token, for a server started without one.
    pub fn generate() -> Self {
        let token: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        Self {
            generated: true,
            ..Self::new(Secret::new(token))
        }
    }

    pub fn token(&self) -> &Secret {
        &self.token
    }

    pub fn cookie_key(&self) -> &Key {
        &self.cookie_key
    }

    /// Constant-time check of a presented token. Both sides are hashed
    /// first so neither the content nor the length leaks through timing.
    pub fn accepts(&self, presented: &str) -> bool {
        let a = Sha256::digest(presented.as_bytes());
        let b = Sha256::digest(self.token.expose().as_bytes());
        a.ct_eq(&b).into()
    }
}

/// 64 bytes of key material (signing and encryption halves) from the token
/// and the scope.
fn session_key(token: &Secret, scope: &str) -> Key {
    let mut hasher = Sha512::new();
    hasher.update(b"idsync console session key:");
    hasher.update(token.expose().as_bytes());
    if !scope.is_empty() {
        // Length-prefixed, so no token/scope pair reads as another.
        hasher.update(b"\0scope:");
        hasher.update((scope.len() as u64).to_be_bytes());
        hasher.update(scope.as_bytes());
    }
    Key::from(&hasher.finalize())
}

/// Proof that the request carries the admin bearer token.
pub struct ApiAdmin;

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Unauthorized> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or(Unauthorized {
                message: "missing bearer token: send Authorization: Bearer <IDSYNC_ADMIN_TOKEN>",
                challenge: "Bearer",
            })?;
        if state.admin.accepts(presented) {
            Ok(Self)
        } else {
            Err(Unauthorized {
                message: "invalid admin token",
                challenge: r#"Bearer error="invalid_token""#,
            })
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is
/// case-insensitive (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then_some(token.trim())
}

/// A 401 of the admin API: the usual JSON error, plus the
/// `WWW-Authenticate` challenge RFC 6750 requires.
pub struct Unauthorized {
    message: &'static str,
    challenge: &'static str,
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut resp = HttpError::new(StatusCode::UNAUTHORIZED, self.message).into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(self.challenge),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_token() {
        let a = AdminAccess::new(Secret::new("s3cret-token"));
        assert!(a.accepts("s3cret-token"));
        assert!(!a.accepts("s3cret-toke"));
        assert!(!a.accepts(""));
        assert!(!a.accepts("s3cret-token "));
    }

    #[test]
    fn scoped_sessions_have_their_own_key() {
        let a = AdminAccess::new(Secret::new("s3cret-token"));
        let same = AdminAccess::new(Secret::new("s3cret-token"));
        assert_eq!(a.cookie_key().master(), same.cookie_key().master());
        let one = a.scoped("emails:ada@example.com");
        let other = a.scoped("emails:bob@example.com");
        assert_ne!(one.cookie_key().master(), a.cookie_key().master());
        assert_ne!(one.cookie_key().master(), other.cookie_key().master());
        assert_eq!(
            one.cookie_key().master(),
            a.scoped("emails:ada@example.com").cookie_key().master()
        );
        assert!(one.accepts("s3cret-token"), "the token itself is unchanged");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in ["Bearer t0k", "bearer t0k", "BEARER  t0k "] {
            assert_eq!(bearer_token(value), Some("t0k"), "{value}");
        }
        assert_eq!(bearer_token("Basic t0k"), None);
        assert_eq!(bearer_token("Bearert0k"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn generated_tokens_differ() {
        let (a, b) = (AdminAccess::generate(), AdminAccess::generate());
        assert!(a.generated);
        assert_ne!(a.token().expose(), b.token().expose());
        assert_eq!(a.token().expose().len(), 40);
    }
}
