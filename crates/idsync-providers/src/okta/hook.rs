//! Okta event hooks: `com.okta.event_hook` deliveries, each a batch of
//! System Log events that name their target users by id only. Every user
//! event becomes a refresh of its target; other events are ignored.

use idsync_core::{InvalidInput, UserId};
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

/// The events of a verified delivery body. An event that can never be
/// stored (no `uuid`, or a target user id idsync cannot key a row by) is
/// refused on its own; the batch's other events are still taken.
pub fn decode(body: &[u8]) -> Result<Vec<PushEvent>, DecodeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let events = value
        .pointer("/data/events")
        .and_then(Value::as_array)
        .ok_or_else(|| DecodeError::Invalid("no data.events array".to_owned()))?;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let event_type = event
            .get("eventType")
            .and_then(Value::as_str)
            .ok_or(DecodeError::MissingType)?;
        let refuse = |id: String, reason| PushEvent {
            id,
            event_type: event_type.to_owned(),
            effect: Effect::Refuse(reason),
        };
        let Some(uuid) = event
            .get("uuid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        else {
            out.push(refuse(String::new(), InvalidInput::EmptyMessageId));
            continue;
        };
        let targets: Vec<Result<UserId, InvalidInput>> = if is_user_event(event_type) {
            event
                .get("target")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|t| t.get("type").and_then(Value::as_str) == Some("User"))
                .map(|t| match t.get("id").and_then(Value::as_str) {
                    Some(id) => UserId::check(id),
                    None => Err(InvalidInput::EmptyUserId),
                })
                .collect()
        } else {
            Vec::new()
        };
        if targets.is_empty() {
            out.push(PushEvent {
                id: uuid.to_owned(),
                event_type: event_type.to_owned(),
                effect: Effect::Ignore,
            });
        }
        // An event about several users is one delivery per user, each
        // de-duplicated on its own.
        let several = targets.len() > 1;
        for (n, target) in targets.into_iter().enumerate() {
            match target {
                Ok(user) => out.push(PushEvent {
                    id: if several {
                        format!("{uuid}:{user}")
                    } else {
                        uuid.to_owned()
                    },
                    event_type: event_type.to_owned(),
                    effect: Effect::Refresh(user),
                }),
                Err(reason) => {
                    let id = if several {
                        format!("{uuid}:target {n}")
                    } else {
                        uuid.to_owned()
                    };
                    out.push(refuse(id, reason));
                }
            }
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
    }

    #[test]
    fn an_unusable_event_is_refused_alone() {
        let long = "0".repeat(300);
        let body = delivery(json!([
            {"eventType": "user.lifecycle.create", "target": []},
            event("u-1", "user.lifecycle.create", json!([{"type": "User"}])),
            event("u-2", "user.lifecycle.activate", json!([{"id": long, "type": "User"}])),
            event("u-3", "user.lifecycle.suspend", json!([{"id": "00u\u{7}x", "type": "User"}])),
            event(
                "u-4",
                "user.account.update_profile",
                json!([{"id": "00u4", "type": "User"}, {"id": "", "type": "User"}])
            ),
            event("u-5", "user.lifecycle.deactivate", json!([{"id": "00u5", "type": "User"}])),
        ]));
        let got: Vec<(String, Effect)> = decode(&body)
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.effect))
            .collect();
        let user = |id: &str| Effect::Refresh(UserId::parse(id).unwrap());
        assert_eq!(
            got,
            [
                (String::new(), Effect::Refuse(InvalidInput::EmptyMessageId)),
                ("u-1".into(), Effect::Refuse(InvalidInput::EmptyUserId)),
                (
                    "u-2".into(),
                    Effect::Refuse(InvalidInput::UserIdTooLong { len: 300 })
                ),
                (
                    "u-3".into(),
                    Effect::Refuse(InvalidInput::UserIdControlChar)
                ),
                ("u-4:00u4".into(), user("00u4")),
                (
                    "u-4:target 1".into(),
                    Effect::Refuse(InvalidInput::EmptyUserId)
                ),
                ("u-5".into(), user("00u5")),
            ]
        );
    }
}
