//! Svix webhook verification (Stack Auth and Clerk both send through Svix).
//!
//! The signature check itself is the `svix` crate's (constant-time, several
//! `v1,` signatures accepted for secret rotation); the 300 s timestamp window
//! is checked here so it can be tested at a chosen time.

use http::HeaderMap;
use idsync_core::{Secret, Version};

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

/// A connection's verifier, built once from its `whsec_...` secret.
pub struct Verifier(svix::webhooks::Webhook);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier([redacted])")
    }
}

impl Verifier {
    pub fn new(secret: &Secret) -> Result<Self, VerifyError> {
        svix::webhooks::Webhook::new(secret.expose())
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
        use svix::webhooks::WebhookError as E;
        let id = header(headers, "svix-id", "webhook-id")?;
        let timestamp = header(headers, "svix-timestamp", "webhook-timestamp")?;
        header(headers, "svix-signature", "webhook-signature")?;
        let timestamp: i64 = timestamp
            .parse()
            .map_err(|_| VerifyError::InvalidHeader("svix-timestamp"))?;
        if timestamp.abs_diff(now) > TOLERANCE_SECONDS {
            return Err(VerifyError::TimestampOutOfWindow);
        }
        self.0
            .verify_ignoring_timestamp(body, headers)
            .map_err(|e| match e {
                E::MissingHeader(_) => VerifyError::MissingHeader("svix-signature"),
                E::InvalidHeader(_) => VerifyError::InvalidHeader("svix-signature"),
                _ => VerifyError::BadSignature,
            })?;
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
