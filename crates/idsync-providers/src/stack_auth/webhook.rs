//! Stack Auth's webhook events: `user.created`, `user.updated` and
//! `user.deleted` carry the user; other types are ignored.

use idsync_core::Change;
use serde_json::Value;

use super::user::profile;
use crate::DecodeError;
use crate::decode::{envelope, user_id};
use crate::push::Effect;
use crate::svix::WebhookMeta;

/// The event type and its effect, from a verified body.
pub fn decode(meta: &WebhookMeta, body: &[u8]) -> Result<(String, Effect), DecodeError> {
    let (event_type, mut value) = envelope(body)?;
    let data = value
        .get_mut("data")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or(DecodeError::NotAnObject);
    let version = meta.created().ok_or(DecodeError::MissingVersion)?;
    let change = match event_type.as_str() {
        "user.created" | "user.updated" => Change::upsert(profile(data?)?, version),
        "user.deleted" => {
            let data = data?;
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

    fn meta() -> WebhookMeta {
        WebhookMeta {
            message_id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".into(),
            timestamp: 1_649_367_560,
        }
    }

    fn change(body: &serde_json::Value) -> (String, Change) {
        match decode(&meta(), body.to_string().as_bytes()).unwrap() {
            (t, Effect::Apply(c)) => (t, c),
            other => panic!("not a change: {other:?}"),
        }
    }

    #[test]
    fn decodes_user_created_from_documented_payload() {
        let body = json!({
            "type": "user.created",
            "data": {
                "id": "3241a285-8329-4d69-8f3d-316e08cf140c",
                "primary_email": "john.doe@example.com",
                "primary_email_verified": true,
                "primary_email_auth_enabled": true,
                "display_name": "John Doe",
                "selected_team": null,
                "selected_team_id": null,
                "profile_image_url": null,
                "signed_up_at_millis": 1_630_000_000_000_i64,
                "has_password": true,
                "otp_auth_enabled": false,
                "passkey_auth_enabled": false,
                "client_metadata": {},
                "client_read_only_metadata": {},
                "server_metadata": {},
                "last_active_at_millis": 1_630_000_000_000_i64,
                "is_anonymous": false,
                "oauth_providers": []
            }
        });
        let (event_type, change) = change(&body);
        assert_eq!(event_type, "user.created");
        assert_eq!(
            change.user_id.as_str(),
            "3241a285-8329-4d69-8f3d-316e08cf140c"
        );
        assert_eq!(change.version.at().timestamp(), 1_649_367_553);
        let ChangeKind::Upsert(p) = change.kind else {
            panic!("not upsert")
        };
        assert_eq!(p.name.as_deref(), Some("John Doe"));
        assert_eq!(p.email.as_deref(), Some("john.doe@example.com"));
        assert_eq!(p.created_at.unwrap().timestamp(), 1_630_000_000);
        assert_eq!(p.raw_json, body["data"]);
    }

    #[test]
    fn decodes_user_updated_with_missing_name_and_email() {
        let body = json!({"type": "user.updated", "data": {"id": "u1", "display_name": null, "primary_email": null, "is_anonymous": true}});
        let ChangeKind::Upsert(p) = change(&body).1.kind else {
            panic!()
        };
        assert_eq!((p.name, p.email, p.created_at), (None, None, None));
    }

    #[test]
    fn decodes_user_deleted() {
        let body = json!({"type": "user.deleted", "data": {"id": "u1", "teams": [{"id": "t1"}]}});
        let (_, change) = change(&body);
        assert!(change.is_delete());
        assert_eq!(change.user_id.as_str(), "u1");
    }

    #[test]
    fn ignores_other_events_and_rejects_bad_bodies() {
        let team = json!({"type": "team.created", "data": {"id": "t1"}});
        assert_eq!(
            decode(&meta(), team.to_string().as_bytes()).unwrap(),
            ("team.created".to_owned(), Effect::Ignore)
        );
        assert!(matches!(
            decode(&meta(), b"{not json"),
            Err(DecodeError::Json(_))
        ));
        let no_id = json!({"type": "user.updated", "data": {"display_name": "x"}});
        assert_eq!(
            decode(&meta(), no_id.to_string().as_bytes()),
            Err(DecodeError::MissingUserId)
        );
        let no_data = json!({"type": "user.deleted"});
        assert_eq!(
            decode(&meta(), no_data.to_string().as_bytes()),
            Err(DecodeError::NotAnObject)
        );
    }
}
