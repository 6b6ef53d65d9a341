//! Clerk's webhook events: `user.created`, `user.updated` and
//! `user.deleted`; other types (sessions, organizations, ...) are ignored.

use idsync_core::{Change, Version};
use serde_json::Value;

use super::user::{profile, user_version};
use crate::DecodeError;
use crate::decode::{envelope, user_id};
use crate::push::Effect;
use crate::svix::WebhookMeta;

/// The event type and its effect, from a verified body.
pub fn decode(meta: &WebhookMeta, body: &[u8]) -> Result<(String, Effect), DecodeError> {
    let (event_type, mut value) = envelope(body)?;
    let envelope_version = value
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(Version::from_unix_millis)
        .or_else(|| meta.created());
    let data = value
        .get_mut("data")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or(DecodeError::NotAnObject);
    let change = match event_type.as_str() {
        "user.created" | "user.updated" => {
            let data = data?;
            let version = user_version(&data)
                .or(envelope_version)
                .ok_or(DecodeError::MissingVersion)?;
            Change::upsert(profile(data)?, version)
        }
        "user.deleted" => {
            let data = data?;
            let version = envelope_version.ok_or(DecodeError::MissingVersion)?;
            Change::delete(user_id(&data)?, version, data)
        }
        _ => return Ok((event_type, Effect::Ignore)),
    };
    Ok((event_type, Effect::Apply(change)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idsync_core::ChangeKind;
    use serde_json::json;

    fn change(body: &Value) -> (String, Change) {
        match decode(&meta(), body.to_string().as_bytes()).unwrap() {
            (t, Effect::Apply(c)) => (t, c),
            other => panic!("not a change: {other:?}"),
        }
    }

    fn meta() -> WebhookMeta {
        WebhookMeta {
            message_id: "msg_2abc".into(),
            timestamp: 1_654_012_591,
        }
    }

    fn user() -> Value {
        json!({
            "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
            "object": "user",
            "first_name": "Example",
            "last_name": null,
            "username": null,
            "external_id": null,
            "email_addresses": [
                {"id": "idn_29w83yL7CwVlJXylYLxcslromF1", "object": "email_address", "email_address": "old@example.org",
                 "verification": {"status": "verified", "strategy": "ticket"}, "linked_to": []},
                {"id": "idn_29w83yL7CwVlJXylYLxcslromF2", "object": "email_address", "email_address": "example@example.org",
                 "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []}
            ],
            "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF2",
            "banned": false,
            "locked": false,
            "created_at": 1_654_012_591_514_i64,
            "updated_at": 1_654_012_591_835_i64
        })
    }

    #[test]
    fn decodes_user_created_and_updated_from_documented_payloads() {
        for t in ["user.created", "user.updated"] {
            let body = json!({
                "data": user(), "object": "event", "type": t, "timestamp": 1_654_012_591_900_i64,
                "instance_id": "ins_123",
                "event_attributes": {"http_request": {"client_ip": "0.0.0.0", "user_agent": "Mozilla"}}
            });
            let (event_type, change) = change(&body);
            assert_eq!(event_type, t);
            assert_eq!(change.version.at().timestamp_millis(), 1_654_012_591_835);
            let ChangeKind::Upsert(p) = change.kind else {
                panic!()
            };
            assert_eq!(p.id.as_str(), "user_29w83sxmDNGwOuEthce5gg56FcC");
            assert_eq!(p.name.as_deref(), Some("Example"));
            assert_eq!(p.email.as_deref(), Some("example@example.org"));
            assert_eq!(p.created_at.unwrap().timestamp_millis(), 1_654_012_591_514);
        }
    }

    #[test]
    fn decodes_user_deleted_with_envelope_timestamp() {
        let body = json!({
            "data": {"deleted": true, "id": "user_29wBMCtzATuFJut8jO2VNTVekS4", "object": "user"},
            "object": "event", "type": "user.deleted", "timestamp": 1_661_861_640_000_i64, "instance_id": "ins_1"
        });
        let (_, change) = change(&body);
        assert!(change.is_delete());
        assert_eq!(change.version.at().timestamp_millis(), 1_661_861_640_000);
    }

    #[test]
    fn ignores_sessions_and_rejects_missing_id() {
        let s = json!({"type": "session.created", "object": "event", "data": {"id": "sess_1"}});
        assert_eq!(
            decode(&meta(), s.to_string().as_bytes()).unwrap(),
            ("session.created".to_owned(), Effect::Ignore)
        );
        let no_id = json!({"type": "user.deleted", "object": "event", "timestamp": 1, "data": {"deleted": true}});
        assert_eq!(
            decode(&meta(), no_id.to_string().as_bytes()),
            Err(DecodeError::MissingUserId)
        );
    }
}
