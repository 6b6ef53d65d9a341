//! Svix webhook verification (Stack Auth and Clerk both send through Svix).
//!
//! Svix signs `{svix-id}.{svix-timestamp}.{body}` with HMAC-SHA256 under
//! the base64 key after `whsec_`, and sends `v1,{base64}` signatures,
//! space-separated (several during a secret rotation). The check is done
//! here with RustCrypto's `hmac` and `sha2` rather than the `svix` crate's
//! (whose portable SHA-256 took a fifth of idsync's CPU per webhook; `sha2`
//! uses the CPU's SHA instructions), compared in constant time; tests sign
//! with the `svix` crate, so both agree. The 300 s timestamp window is
//! checked here too, so it can be tested at a chosen time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use http::HeaderMap;
use idsync_core::{Secret, Version};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::DecodeError;
use crate::keys::Keys;
use crate::push::{Effect, PushError, PushEvent, PushRequest};
pub use crate::verify::VerifyError;

/// Headers of a verified message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMeta {
    /// `svix-id` (or `webhook-id`): stable across redeliveries.
    pub message_id: String,
    /// `svix-timestamp`: the time of this delivery attempt.
    pub timestamp: i64,
}

impl WebhookMeta {
    /// When the provider created the message. Svix message ids are KSUIDs
    /// whose first four bytes are the creation time, which stays the same
    /// on every retry; the `svix-timestamp` header is re-signed per attempt,
    /// so a retry hours later would otherwise look newer than it is.
    pub fn created(&self) -> Option<Version> {
        let seconds = self
            .message_id
            .strip_prefix("msg_")
            .and_then(ksuid_seconds)
            .unwrap_or(self.timestamp);
        Version::from_unix_seconds(seconds)
    }
}

/// Decodes a base62 KSUID (27 chars) and returns its Unix time.
fn ksuid_seconds(raw: &str) -> Option<i64> {
    const EPOCH: i64 = 1_400_000_000;
    if raw.len() != 27 {
        return None;
    }
    // 160 bits as five big-endian 32-bit limbs: limbs = limbs * 62 + digit.
    let mut limbs = [0u64; 5];
    for c in raw.bytes() {
        let mut carry = u64::from(match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 36,
            _ => return None,
        });
        for limb in limbs.iter_mut().rev() {
            let v = *limb * 62 + carry;
            *limb = v & 0xffff_ffff;
            carry = v >> 32;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(limbs[0] as i64 + EPOCH)
}

/// A connection's verifier, built once from its `whsec_...` secret: the
/// HMAC keyed once, cloned per message.
#[derive(Clone)]
pub struct Verifier(Hmac<Sha256>);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier([redacted])")
    }
}

impl Verifier {
    pub fn new(secret: &Secret) -> Result<Self, VerifyError> {
        let secret = secret.expose();
        let key = BASE64
            .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
            .map_err(|_| VerifyError::BadSecret)?;
        if key.is_empty() {
            return Err(VerifyError::BadSecret);
        }
        Hmac::new_from_slice(&key)
            .map(Self)
            .map_err(|_| VerifyError::BadSecret)
    }

    /// Checks the signature and the timestamp window against the current
    /// time and returns the message's id and timestamp.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookMeta, VerifyError> {
        self.verify_at(headers, body, chrono::Utc::now().timestamp())
    }

    /// [`verify`](Self::verify) as of the Unix time `now`.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookMeta, VerifyError> {
        let id = header(headers, "svix-id", "webhook-id")?;
        let timestamp = header(headers, "svix-timestamp", "webhook-timestamp")?;
        let signatures = header(headers, "svix-signature", "webhook-signature")?;
        let timestamp: i64 = timestamp
            .parse()
            .map_err(|_| VerifyError::InvalidHeader("svix-timestamp"))?;
        if timestamp.abs_diff(now) > TOLERANCE_SECONDS {
            return Err(VerifyError::TimestampOutOfWindow);
        }
        // The timestamp as Svix signs it: the number, not the header's text.
        let mut mac = self.0.clone();
        for part in [
            id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ] {
            mac.update(part);
        }
        let expected = BASE64.encode(mac.finalize().into_bytes());
        let signed =
            signatures
                .split(' ')
                .filter_map(|s| s.split_once(','))
                .any(|(version, signature)| {
                    version == "v1" && bool::from(signature.as_bytes().ct_eq(expected.as_bytes()))
                });
        if !signed {
            return Err(VerifyError::BadSignature);
        }
        Ok(WebhookMeta {
            message_id: id.to_owned(),
            timestamp,
        })
    }
}

/// Reads `key` (or `<key>_file`) as a Svix signing secret.
pub(crate) fn verifier_key(keys: &mut Keys<'_>, key: &str) -> Option<Verifier> {
    let secret = keys.secret(key)?;
    match Verifier::new(&secret) {
        Ok(verifier) if secret.expose().starts_with("whsec_") => Some(verifier),
        _ => {
            keys.problem(
                key,
                "not a Svix signing secret (expected whsec_ followed by base64)",
            );
            None
        }
    }
}

/// Verifies a Svix push and decodes its one event with `decode`, which
/// gives the event type and its effect.
pub(crate) fn receive(
    verifier: &Verifier,
    push: &PushRequest<'_>,
    decode: impl FnOnce(&WebhookMeta, &[u8]) -> Result<(String, Effect), DecodeError>,
) -> Result<Vec<PushEvent>, PushError> {
    let meta = verifier.verify_at(push.headers, push.body, push.now)?;
    let (event_type, effect) = decode(&meta, push.body)?;
    Ok(vec![PushEvent {
        id: meta.message_id,
        event_type,
        effect,
    }])
}

/// Svix's replay window: older or future timestamps are rejected.
pub const TOLERANCE_SECONDS: u64 = 300;

fn header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    alias: &'static str,
) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .or_else(|| headers.get(alias))
        .ok_or(VerifyError::MissingHeader(name))?
        .to_str()
        .map_err(|_| VerifyError::InvalidHeader(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NOW: i64 = 1_700_000_000;

    fn verifier() -> Verifier {
        Verifier::new(&Secret::new(SECRET.to_owned())).unwrap()
    }

    /// Headers as Svix sends them, signed by the `svix` crate.
    fn signed(id: &str, timestamp: i64, body: &[u8], extra: &str) -> HeaderMap {
        let signature = svix::webhooks::Webhook::new(SECRET)
            .unwrap()
            .sign(id, timestamp, body)
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("svix-id", id.parse().unwrap());
        headers.insert("svix-timestamp", timestamp.to_string().parse().unwrap());
        headers.insert(
            "svix-signature",
            format!("{extra}{signature}").trim().parse().unwrap(),
        );
        headers
    }

    #[test]
    fn accepts_what_the_svix_crate_signs_and_nothing_else() {
        let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#;
        let headers = signed("msg_1", NOW, body, "");
        let meta = verifier().verify_at(&headers, body, NOW).unwrap();
        assert_eq!(meta.message_id, "msg_1");
        assert_eq!(meta.timestamp, NOW);

        let tampered = br#"{"type":"user.created","data":{"id":"user_2"}}"#;
        assert_eq!(
            verifier().verify_at(&headers, tampered, NOW),
            Err(VerifyError::BadSignature)
        );
        let mut other_id = headers.clone();
        other_id.insert("svix-id", "msg_2".parse().unwrap());
        assert_eq!(
            verifier().verify_at(&other_id, body, NOW),
            Err(VerifyError::BadSignature)
        );
        let other_key = Verifier::new(&Secret::new(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned(),
        ))
        .unwrap();
        assert_eq!(
            other_key.verify_at(&headers, body, NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn any_v1_signature_of_a_rotation_counts_and_other_versions_do_not() {
        let body = b"{}";
        let rotated = signed("msg_1", NOW, body, "v1,bm90IHRoaXMgb25l ");
        assert!(verifier().verify_at(&rotated, body, NOW).is_ok());

        let good = signed("msg_1", NOW, body, "");
        let signature = good["svix-signature"].to_str().unwrap();
        let mut v2 = good.clone();
        v2.insert(
            "svix-signature",
            signature.replacen("v1,", "v2,", 1).parse().unwrap(),
        );
        assert_eq!(
            verifier().verify_at(&v2, body, NOW),
            Err(VerifyError::BadSignature)
        );
        let mut cut = good.clone();
        cut.insert(
            "svix-signature",
            signature[..signature.len() - 1].parse().unwrap(),
        );
        assert_eq!(
            verifier().verify_at(&cut, body, NOW),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn the_window_and_the_secret_are_checked() {
        let body = b"{}";
        let old = signed("msg_1", NOW - 301, body, "");
        assert_eq!(
            verifier().verify_at(&old, body, NOW),
            Err(VerifyError::TimestampOutOfWindow)
        );
        for bad in ["whsec_", "whsec_!!!", ""] {
            assert!(
                Verifier::new(&Secret::new(bad.to_owned())).is_err(),
                "{bad:?} was taken as a secret"
            );
        }
    }

    #[test]
    fn ksuid_time_of_the_published_test_vector() {
        let meta = WebhookMeta {
            message_id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".into(),
            timestamp: 0,
        };
        assert_eq!(meta.created().unwrap().at().timestamp(), 1_649_367_553);
    }

    #[test]
    fn non_ksuid_ids_fall_back_to_the_header_timestamp() {
        let meta = WebhookMeta {
            message_id: "evt_custom".into(),
            timestamp: 1_700_000_000,
        };
        assert_eq!(meta.created().unwrap().at().timestamp(), 1_700_000_000);
    }
}
