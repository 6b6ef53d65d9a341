//! Stack Auth's webhook payloads: `{type, data}`, with no id or time in
//! the body (Svix's headers carry them).

use serde_json::json;

use crate::provider::Event;
use crate::webhooks::WebhookEvent;

pub(super) fn event(event: Event<'_>, now_ms: i64) -> WebhookEvent {
    let (event_type, data) = match event {
        Event::Created(user) => ("user.created", user.clone()),
        Event::Updated(user) => ("user.updated", user.clone()),
        // The emulator has no teams, so a deleted user was in none.
        Event::Deleted { id, .. } => ("user.deleted", json!({ "id": id, "teams": [] })),
    };
    let body = json!({ "type": event_type, "data": data }).to_string();
    WebhookEvent::svix(now_ms, event_type, body)
}
