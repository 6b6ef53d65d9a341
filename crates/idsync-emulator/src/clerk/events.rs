//! Clerk's webhook envelopes: `{data, object: "event", type, timestamp,
//! instance_id, event_attributes}`.

use serde_json::{Value, json};

use crate::emulator::Core;
use crate::provider::Event;
use crate::webhooks::WebhookEvent;

/// Clerk's webhook `event_attributes.http_request.user_agent`: the browser
/// of whoever caused the change.
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

/// What `user.deleted` carries, and `DELETE /v1/users/{id}` answers.
pub(super) fn deleted(id: &str) -> Value {
    json!({ "object": "user", "id": id, "deleted": true })
}

pub(super) fn event(core: &Core, event: Event<'_>, now_ms: i64) -> WebhookEvent {
    let (event_type, data) = match event {
        Event::Created(user) => ("user.created", user.clone()),
        Event::Updated(user) => ("user.updated", user.clone()),
        Event::Deleted { id, .. } => ("user.deleted", deleted(id)),
    };
    let body = json!({
        "data": data,
        "object": "event",
        "type": event_type,
        "timestamp": now_ms,
        "instance_id": core.instance_id,
        "event_attributes": {
            "http_request": { "client_ip": "127.0.0.1", "user_agent": USER_AGENT },
        },
    })
    .to_string();
    WebhookEvent::svix(now_ms, event_type, body)
}
