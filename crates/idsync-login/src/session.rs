//! The two cookies: the session, and the short-lived state of a sign-in in
//! flight (state, nonce, PKCE verifier, where to return).
//!
//! Both are encrypted and authenticated (AES-256-GCM, the `cookie` crate's
//! private jar, with the cookie's name as associated data, so one cookie's
//! value cannot be replayed as the other). A value that fails to decrypt, is
//! malformed or has expired reads as absent. Expiry is checked from the
//! timestamp inside the payload, not only from the cookie's `Max-Age`,
//! which a client can ignore.

use axum_extra::extract::cookie::{Cookie, Key, PrivateCookieJar, SameSite};
use hkdf::Hkdf;
use idsync_core::Secret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::ConfigError;

pub(crate) const SESSION_COOKIE: &str = "idsync_session";
pub(crate) const FLOW_COOKIE: &str = "idsync_flow";
/// How long a sign-in may take, from leaving for the provider to coming
/// back.
pub(crate) const FLOW_TTL_SECS: i64 = 10 * 60;
/// Format version of both payloads; any other is read as absent.
const FORMAT: u8 = 1;
/// Browsers keep cookies up to about 4096 bytes, name and attributes
/// included. Above this, the ID token kept for sign-out is left out.
const MAX_COOKIE_BYTES: usize = 4000;
/// Clock difference tolerated between replicas for `iat`.
const CLOCK_SKEW_SECS: i64 = 60;

/// Derives the cookie key (64 bytes: encryption and signing) from the
/// application secret with HKDF-SHA-256. The salt and info bind the key to
/// this use, so the same `AUTH_SECRET` elsewhere yields different keys.
pub(crate) fn derive_key(secret: &Secret) -> Result<Key, ConfigError> {
    let hkdf = Hkdf::<Sha256>::new(Some(b"idsync-login"), secret.expose().as_bytes());
    let mut okm = [0u8; 64];
    hkdf.expand(b"session cookies v1", &mut okm)
        .map_err(|e| ConfigError::KeyDerivation(e.to_string()))?;
    Key::try_from(&okm[..]).map_err(|e| ConfigError::KeyDerivation(e.to_string()))
}

/// A signed-in user, as kept in the session cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    pub v: u8,
    pub provider: String,
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Unix seconds.
    pub iat: i64,
    pub exp: i64,
    /// The raw ID token, for `id_token_hint` at sign-out (Okta requires it).
    /// Left out when it would make the cookie too big.
    pub id_token: Option<String>,
    /// The `email_verified` claim, when the issuer sent one. Optional in
    /// the payload so cookies written before it existed still read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The `groups` claim. Left out when it would make the cookie too big
    /// (after the ID token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Session {
    pub fn new(
        provider: String,
        sub: String,
        name: Option<String>,
        email: Option<String>,
        id_token: Option<String>,
        now: i64,
        ttl_secs: i64,
    ) -> Self {
        Self {
            v: FORMAT,
            provider,
            sub,
            name,
            email,
            iat: now,
            exp: now.saturating_add(ttl_secs),
            id_token,
            email_verified: None,
            groups: Vec::new(),
        }
    }

    fn is_live(&self, now: i64) -> bool {
        self.v == FORMAT && now < self.exp && self.iat <= now + CLOCK_SKEW_SECS
    }
}

/// A sign-in in flight, as kept in the flow cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Flow {
    pub v: u8,
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub exp: i64,
}

impl Flow {
    pub fn new(
        provider: String,
        state: String,
        nonce: String,
        pkce_verifier: String,
        return_to: String,
        now: i64,
    ) -> Self {
        Self {
            v: FORMAT,
            provider,
            state,
            nonce,
            pkce_verifier,
            return_to,
            exp: now + FLOW_TTL_SECS,
        }
    }
}

/// How cookies are written.
#[derive(Debug, Clone)]
pub(crate) struct CookiePolicy {
    /// `Secure` attribute: on when the application is served over https.
    pub secure: bool,
    /// `Path`: the application's base path, or `/`.
    pub path: String,
    pub session_ttl_secs: i64,
}

impl CookiePolicy {
    fn build(&self, name: &'static str, value: String, max_age_secs: i64) -> Cookie<'static> {
        Cookie::build((name, value))
            .path(self.path.clone())
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(max_age_secs))
            .build()
    }

    /// A cookie that makes the browser delete `name` (empty, `Max-Age=0`,
    /// expired). Added rather than "removed" through the jar, which only
    /// removes cookies it could decrypt: a tampered or stale cookie is
    /// cleared too.
    fn removal(&self, name: &'static str) -> Cookie<'static> {
        let mut cookie = self.build(name, String::new(), 0);
        cookie.make_removal();
        cookie
    }

    pub fn write_session(&self, jar: PrivateCookieJar, mut session: Session) -> PrivateCookieJar {
        let ttl = session.exp - session.iat;
        let mut json = to_json(&session);
        if encrypted_cookie_len(SESSION_COOKIE, &json) > MAX_COOKIE_BYTES {
            tracing::warn!(
                provider = %session.provider,
                "ID token too big to keep in the session cookie; sign-out will not send id_token_hint"
            );
            session.id_token = None;
            json = to_json(&session);
        }
        if encrypted_cookie_len(SESSION_COOKIE, &json) > MAX_COOKIE_BYTES {
            // Better a session without groups than none: the application
            // sees an empty list and can say so.
            tracing::warn!(
                provider = %session.provider,
                groups = session.groups.len(),
                "groups claim too big to keep in the session cookie; the session has no groups"
            );
            session.groups = Vec::new();
            json = to_json(&session);
        }
        jar.add(self.build(SESSION_COOKIE, json, ttl))
    }

    pub fn clear_session(&self, jar: PrivateCookieJar) -> PrivateCookieJar {
        jar.add(self.removal(SESSION_COOKIE))
    }

    pub fn write_flow(&self, jar: PrivateCookieJar, flow: &Flow) -> PrivateCookieJar {
        jar.add(self.build(FLOW_COOKIE, to_json(flow), FLOW_TTL_SECS))
    }

    pub fn clear_flow(&self, jar: PrivateCookieJar) -> PrivateCookieJar {
        jar.add(self.removal(FLOW_COOKIE))
    }
}

/// The live session in `jar`, if any.
pub(crate) fn read_session(jar: &PrivateCookieJar, now: i64) -> Option<Session> {
    let cookie = jar.get(SESSION_COOKIE)?;
    let session: Session = serde_json::from_str(cookie.value()).ok()?;
    session.is_live(now).then_some(session)
}

/// The sign-in in flight in `jar`, if any and not expired.
pub(crate) fn read_flow(jar: &PrivateCookieJar, now: i64) -> Option<Flow> {
    let cookie = jar.get(FLOW_COOKIE)?;
    let flow: Flow = serde_json::from_str(cookie.value()).ok()?;
    (flow.v == FORMAT && now < flow.exp).then_some(flow)
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs of strings and integers cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Size of the `Set-Cookie` value once encrypted: base64 of a 12-byte
/// nonce, the ciphertext and a 16-byte tag, plus the name and room for the
/// attributes.
fn encrypted_cookie_len(name: &str, plaintext: &str) -> usize {
    let sealed = plaintext.len() + 12 + 16;
    name.len() + 1 + sealed.div_ceil(3) * 4 + 100
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};
    use axum::response::IntoResponse;

    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn key() -> Key {
        derive_key(&Secret::new("0123456789abcdef0123456789abcdef")).unwrap()
    }

    fn policy() -> CookiePolicy {
        CookiePolicy {
            secure: true,
            path: "/".to_owned(),
            session_ttl_secs: 3600,
        }
    }

    fn session(now: i64, ttl: i64) -> Session {
        Session::new(
            "okta".into(),
            "00u1".into(),
            Some("Ada".into()),
            Some("ada@example.com".into()),
            Some("eyJ.header.sig".into()),
            now,
            ttl,
        )
    }

    /// The `Set-Cookie` headers a jar would send.
    fn set_cookies(jar: PrivateCookieJar) -> Vec<String> {
        let res = (jar, ()).into_response();
        res.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// A jar as the server would read it from the browser's `Cookie` header.
    fn jar_from(cookies: &[(&str, &str)], key: Key) -> PrivateCookieJar {
        let mut headers = HeaderMap::new();
        let line = cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        headers.insert(header::COOKIE, HeaderValue::from_str(&line).unwrap());
        PrivateCookieJar::from_headers(&headers, key)
    }

    /// The value of cookie `name` in a `Set-Cookie` header.
    fn cookie_value(header: &str, name: &str) -> String {
        let pair = header.split(';').next().unwrap();
        pair.strip_prefix(&format!("{name}=")).unwrap().to_owned()
    }

    /// Writes `session`, then reads the cookie value back as a browser
    /// would send it.
    fn round_trip_value(session: Session) -> String {
        let jar = policy().write_session(PrivateCookieJar::new(key()), session);
        cookie_value(&set_cookies(jar).pop().unwrap(), SESSION_COOKIE)
    }

    fn flow() -> Flow {
        Flow::new(
            "okta".into(),
            "st".into(),
            "no".into(),
            "pk".into(),
            "/".into(),
            NOW,
        )
    }

    #[test]
    fn key_depends_on_the_secret() {
        let a = derive_key(&Secret::new("a".repeat(32))).unwrap();
        let b = derive_key(&Secret::new("b".repeat(32))).unwrap();
        assert_ne!(a.master(), b.master());
        assert_eq!(
            a.master(),
            derive_key(&Secret::new("a".repeat(32))).unwrap().master()
        );
    }

    #[test]
    fn session_round_trips_and_is_not_readable_in_the_cookie() {
        let value = round_trip_value(session(NOW, 3600));
        assert!(!value.contains("ada@example.com"));
        assert!(!value.contains("00u1"));
        let jar = jar_from(&[(SESSION_COOKIE, &value)], key());
        assert_eq!(read_session(&jar, NOW + 10), Some(session(NOW, 3600)));
    }

    #[test]
    fn session_cookie_attributes() {
        let jar = policy().write_session(PrivateCookieJar::new(key()), session(NOW, 3600));
        let header = set_cookies(jar).pop().unwrap();
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(header.contains(attr), "{attr} missing in {header}");
        }
        let plain = CookiePolicy {
            secure: false,
            ..policy()
        };
        let header =
            set_cookies(plain.write_session(PrivateCookieJar::new(key()), session(NOW, 60)))
                .pop()
                .unwrap();
        assert!(!header.contains("Secure"), "{header}");
    }

    #[test]
    fn tampered_session_cookie_is_rejected() {
        let value = round_trip_value(session(NOW, 3600));
        // Flip one character in the middle of the ciphertext.
        let mut bytes = value.into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let jar = jar_from(&[(SESSION_COOKIE, &tampered)], key());
        assert_eq!(read_session(&jar, NOW), None);
        // A cookie forged in plain text is not accepted either.
        let forged = serde_json::to_string(&session(NOW, 3600)).unwrap();
        let jar = jar_from(&[(SESSION_COOKIE, &forged)], key());
        assert_eq!(read_session(&jar, NOW), None);
    }

    #[test]
    fn session_sealed_with_another_secret_is_rejected() {
        let value = round_trip_value(session(NOW, 3600));
        let other = derive_key(&Secret::new("another secret of at least 32 chars")).unwrap();
        let jar = jar_from(&[(SESSION_COOKIE, &value)], other);
        assert_eq!(read_session(&jar, NOW), None);
    }

    #[test]
    fn flow_cookie_value_does_not_work_as_a_session() {
        let flow = flow();
        let jar = policy().write_flow(PrivateCookieJar::new(key()), &flow);
        let value = cookie_value(&set_cookies(jar).pop().unwrap(), FLOW_COOKIE);
        let jar = jar_from(&[(FLOW_COOKIE, &value)], key());
        assert_eq!(read_flow(&jar, NOW), Some(flow));
        let jar = jar_from(&[(SESSION_COOKIE, &value)], key());
        assert_eq!(read_session(&jar, NOW), None);
    }

    #[test]
    fn expired_session_is_rejected_even_if_the_browser_sends_it() {
        let value = round_trip_value(session(NOW, 3600));
        let jar = jar_from(&[(SESSION_COOKIE, &value)], key());
        assert!(read_session(&jar, NOW + 3599).is_some());
        assert_eq!(read_session(&jar, NOW + 3600), None);
        // Issued in the future (beyond clock skew): refused.
        assert_eq!(read_session(&jar, NOW - 3600), None);
    }

    #[test]
    fn expired_flow_is_rejected() {
        let flow = flow();
        let jar = policy().write_flow(PrivateCookieJar::new(key()), &flow);
        let header = set_cookies(jar).pop().unwrap();
        assert!(header.contains("Max-Age=600"), "{header}");
        let value = cookie_value(&header, FLOW_COOKIE);
        let jar = jar_from(&[(FLOW_COOKIE, &value)], key());
        assert!(read_flow(&jar, NOW + FLOW_TTL_SECS - 1).is_some());
        assert_eq!(read_flow(&jar, NOW + FLOW_TTL_SECS), None);
    }

    #[test]
    fn oversized_id_token_is_dropped_not_the_session() {
        let mut s = session(NOW, 3600);
        s.id_token = Some("x".repeat(5000));
        let value = round_trip_value(s.clone());
        assert!(value.len() < MAX_COOKIE_BYTES);
        let jar = jar_from(&[(SESSION_COOKIE, &value)], key());
        let read = read_session(&jar, NOW).unwrap();
        assert_eq!(read.id_token, None);
        assert_eq!(read.sub, "00u1");
    }

    #[test]
    fn groups_and_email_verified_round_trip_and_oversized_groups_are_dropped() {
        let mut s = session(NOW, 3600);
        s.email_verified = Some(false);
        s.groups = vec!["idsync-admins".into(), "staff".into()];
        let value = round_trip_value(s.clone());
        let jar = jar_from(&[(SESSION_COOKIE, &value)], key());
        assert_eq!(read_session(&jar, NOW), Some(s.clone()));

        s.groups = (0..200)
            .map(|i| format!("group-{i:04}-{}", "x".repeat(20)))
            .collect();
        let value = round_trip_value(s);
        assert!(value.len() < MAX_COOKIE_BYTES);
        let jar = jar_from(&[(SESSION_COOKIE, &value)], key());
        let read = read_session(&jar, NOW).unwrap();
        assert!(read.groups.is_empty());
        assert_eq!(read.email_verified, Some(false));
        assert_eq!(read.sub, "00u1");
    }

    #[test]
    fn session_written_before_groups_existed_still_reads() {
        let old = r#"{"v":1,"provider":"okta","sub":"00u1","name":null,"email":"a@example.com","iat":1700000000,"exp":1700003600,"id_token":null}"#;
        let s: Session = serde_json::from_str(old).unwrap();
        assert_eq!(s.groups, Vec::<String>::new());
        assert_eq!(s.email_verified, None);
    }

    #[test]
    fn clearing_expires_the_cookie_on_the_same_path() {
        let valid = round_trip_value(session(NOW, 3600));
        for sent in [valid.as_str(), "tampered", ""] {
            let jar = jar_from(&[(SESSION_COOKIE, sent)], key());
            let header = set_cookies(policy().clear_session(jar)).pop().unwrap();
            assert!(header.starts_with("idsync_session="), "{header}");
            assert!(header.contains("Path=/"), "{header}");
            assert!(header.contains("Max-Age=0"), "{header}");
        }
    }
}
