//! Okta event hooks: `com.okta.event_hook` deliveries, each a batch of
//! System Log events that name their target users by id only. Every user
//! event becomes a refresh of its target; other events are ignored.

use idsync_core::UserId;
use serde_json::Value;

use crate::DecodeError;
use crate::push::{Effect, PushEvent};

/// The user event types an event hook can subscribe to, which `connect`
/// subscribes to. `user.lifecycle.delete.completed` is not hook-eligible:
/// a deleted user is found by the refresh of `delete.initiated` (404).
pub const USER_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.create",
    "user.lifecycle.activate",
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.unsuspend",
    "user.lifecycle.reactivate",
    "user.lifecycle.delete.initiated",
    "user.account.update_profile",
];

/// Whether an event's type concerns a user's state.
fn is_user_event(event_type: &str) -> bool {
    event_type.starts_with("user.lifecycle.") || event_type.starts_with("user.account.")
}

/// The events of a verified delivery body.
pub fn decode(body: &[u8]) -> Result<Vec<PushEvent>, DecodeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let events = value
        .pointer("/data/events")
        .and_then(Value::as_array)
        .ok_or_else(|| DecodeError::Invalid("no data.events array".to_owned()))?;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let uuid = event
            .get("uuid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| DecodeError::Invalid("an event has no uuid".to_owned()))?;
        let event_type = event
            .get("eventType")
            .and_then(Value::as_str)
            .ok_or(DecodeError::MissingType)?;
        let users: Vec<UserId> = if is_user_event(event_type) {
            event
                .get("target")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|t| t.get("type").and_then(Value::as_str) == Some("User"))
                .map(|t| {
                    t.get("id")
                        .and_then(Value::as_str)
                        .and_then(UserId::parse)
                        .ok_or(DecodeError::MissingUserId)
                })
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        if users.is_empty() {
            out.push(PushEvent {
                id: uuid.to_owned(),
                event_type: event_type.to_owned(),
                effect: Effect::Ignore,
            });
        }
        // An event about several users is one delivery per user, each
        // de-duplicated on its own.
        let several = users.len() > 1;
        for user in users {
            let id = if several {
                format!("{uuid}:{user}")
            } else {
                uuid.to_owned()
            };
            out.push(PushEvent {
                id,
                event_type: event_type.to_owned(),
                effect: Effect::Refresh(user),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Shaped as Okta's event hook documentation shows a delivery.
    fn delivery(events: Value) -> Vec<u8> {
        json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://dev-123456.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
            "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
            "data": {"events": events},
            "eventTime": "2019-03-27T16:59:53.032Z",
            "contentType": "application/json"
        })
        .to_string()
        .into_bytes()
    }

    fn event(uuid: &str, event_type: &str, targets: Value) -> Value {
        json!({
            "uuid": uuid,
            "published": "2019-03-27T16:59:53.032Z",
            "eventType": event_type,
            "version": "0",
            "displayMessage": "Deactivate Okta user",
            "severity": "INFO",
            "actor": {"id": "00u1qw1mqitPHM8AJ0g7", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
            "target": targets
        })
    }

    #[test]
    fn user_events_name_their_target_and_others_are_ignored() {
        let body = delivery(json!([
            event(
                "u-1",
                "user.lifecycle.deactivate",
                json!([
                    {"id": "00u1s6wnwvnjPAPDM0g7", "type": "User", "alternateId": "jane@example.com", "displayName": "Jane Doe"}
                ])
            ),
            event(
                "u-2",
                "group.user_membership.add",
                json!([
                    {"id": "00u1s6wnwvnjPAPDM0g7", "type": "User"},
                    {"id": "00g1", "type": "UserGroup"}
                ])
            ),
            event(
                "u-3",
                "user.account.update_profile",
                json!([
                    {"id": "00u2", "type": "User"}, {"id": "00u3", "type": "User"}
                ])
            ),
        ]));
        let events = decode(&body).unwrap();
        let got: Vec<(&str, &str, Effect)> = events
            .iter()
            .map(|e| (e.id.as_str(), e.event_type.as_str(), e.effect.clone()))
            .collect();
        let user = |id: &str| Effect::Refresh(UserId::parse(id).unwrap());
        assert_eq!(
            got,
            [
                (
                    "u-1",
                    "user.lifecycle.deactivate",
                    user("00u1s6wnwvnjPAPDM0g7")
                ),
                ("u-2", "group.user_membership.add", Effect::Ignore),
                ("u-3:00u2", "user.account.update_profile", user("00u2")),
                ("u-3:00u3", "user.account.update_profile", user("00u3")),
            ]
        );
    }

    #[test]
    fn bodies_without_events_or_ids_are_malformed() {
        assert!(matches!(decode(b"{"), Err(DecodeError::Json(_))));
        assert!(matches!(
            decode(br#"{"data": {}}"#),
            Err(DecodeError::Invalid(_))
        ));
        let no_uuid = delivery(json!([{"eventType": "user.lifecycle.create", "target": []}]));
        assert!(matches!(decode(&no_uuid), Err(DecodeError::Invalid(_))));
        let no_target_id = delivery(json!([event(
            "u",
            "user.lifecycle.create",
            json!([{"type": "User"}])
        )]));
        assert_eq!(decode(&no_target_id), Err(DecodeError::MissingUserId));
    }
}
