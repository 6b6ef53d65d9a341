//! Svix webhook verification (Stack Auth and Clerk both send through Svix).
//!
//! The signature check itself is the `svix` crate's (constant-time, several
//! `v1,` signatures accepted for secret rotation); the 300 s timestamp window
//! is checked here so it can be tested at a chosen time.

use http::HeaderMap;
use idsync_core::{Secret, Version};

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

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed {0} header")]
    InvalidHeader(&'static str),
    #[error("webhook timestamp is outside the 300 s tolerance window")]
    TimestampOutOfWindow,
    #[error("no signature matches")]
    BadSignature,
    #[error("webhook secret is not a valid whsec_ secret")]
    BadSecret,
}

/// A connection's verifier, built once from its `whsec_...` secret.
pub struct Verifier(svix::webhooks::Webhook);

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
