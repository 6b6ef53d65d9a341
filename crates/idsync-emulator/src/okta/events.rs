//! Okta's event hooks: each change is one or more System Log events that
//! name their target user by id, delivered in `com.okta.event_hook` POSTs
//! that batch several events and carry the hook's secret in
//! `Authorization`.

use reqwest::RequestBuilder;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use super::user::{Status, iso, org_ids};
use crate::emulator::Core;
use crate::provider::Event;
use crate::uuid::uuid_v4;
use crate::webhooks::{Deliverer, SendError, WebhookEvent};

/// Events per delivery. Okta joins events that happen close together
/// into one delivery without documenting a maximum; this is the emulator's.
const BATCH_SIZE: usize = 50;

/// The user event types the emulator emits, with their System Log
/// `displayMessage` and `legacyEventType`.
pub(super) const CREATE: &str = "user.lifecycle.create";
pub(super) const ACTIVATE: &str = "user.lifecycle.activate";
pub(super) const DEACTIVATE: &str = "user.lifecycle.deactivate";
pub(super) const SUSPEND: &str = "user.lifecycle.suspend";
pub(super) const UNSUSPEND: &str = "user.lifecycle.unsuspend";
pub(super) const REACTIVATE: &str = "user.lifecycle.reactivate";
pub(super) const DELETE: &str = "user.lifecycle.delete.initiated";
pub(super) const UPDATE_PROFILE: &str = "user.account.update_profile";

fn describe(event_type: &str) -> (&'static str, &'static str) {
    match event_type {
        CREATE => ("Create Okta user", "core.user.config.user_creation.success"),
        ACTIVATE => ("Activate Okta user", "core.user.config.user_activated"),
        DEACTIVATE => ("Deactivate Okta user", "core.user.config.user_deactivated"),
        SUSPEND => (
            "Suspend Okta user",
            "core.user.config.user_status.suspended",
        ),
        UNSUSPEND => (
            "Unsuspend Okta user",
            "core.user.config.user_status.unsuspended",
        ),
        REACTIVATE => ("Reactivate Okta user", "core.user.config.user_reactivated"),
        DELETE => ("Delete Okta user", "core.user.config.user_deleted"),
        _ => (
            "Update user profile for Okta",
            "core.user.config.profile_update.success",
        ),
    }
}

/// One System Log event about `user`, made by the org's admin at `now_ms`.
/// It names the user only: receivers fetch the user for its state.
pub(super) fn event(
    core: &Core,
    event_type: &'static str,
    user: &Value,
    now_ms: i64,
) -> WebhookEvent {
    let org = org_ids(core);
    // Event ids do not come from the seeded rng, so whether events are
    // emitted does not change which users get generated.
    let mut rng = rand::rng();
    let uuid = uuid_v4(&mut rng);
    let profile = &user["profile"];
    let display_name = [profile["firstName"].as_str(), profile["lastName"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let (display_message, legacy) = describe(event_type);
    let body = json!({
        "uuid": uuid,
        "published": iso(now_ms),
        "eventType": event_type,
        "version": "0",
        "displayMessage": display_message,
        "severity": "INFO",
        "client": {
            "userAgent": { "rawUserAgent": "idsync-emulator", "os": "Unknown", "browser": "UNKNOWN" },
            "zone": "null",
            "device": "Unknown",
            "id": null,
            "ipAddress": "127.0.0.1",
            "geographicalContext": null,
        },
        "device": null,
        "actor": {
            "id": org.admin,
            "type": "User",
            "alternateId": "admin@example.com",
            "displayName": "Emulated Admin",
            "detailEntry": null,
        },
        "outcome": { "result": "SUCCESS", "reason": null },
        "target": [{
            "id": user["id"],
            "type": "User",
            "alternateId": profile["login"],
            "displayName": display_name,
            "detailEntry": null,
        }],
        "transaction": { "type": "WEB", "id": uuid_v4(&mut rng), "detail": {} },
        "debugContext": { "debugData": {} },
        "legacyEventType": legacy,
    });
    WebhookEvent {
        msg_id: uuid,
        created_at: now_ms.div_euclid(1000),
        event_type: event_type.to_owned(),
        body: body.to_string(),
    }
}

/// The events of a change made through the emulator handle.
pub(super) fn events(core: &Core, change: Event<'_>, now_ms: i64) -> Vec<WebhookEvent> {
    match change {
        Event::Created(user) => {
            let mut events = vec![event(core, CREATE, user, now_ms)];
            if Status::of(user) == Some(Status::Active) {
                events.push(event(core, ACTIVATE, user, now_ms));
            }
            events
        }
        Event::Updated(user) => vec![event(core, UPDATE_PROFILE, user, now_ms)],
        // Okta deletes only deactivated users, so a delete of any other one
        // deactivates it first.
        Event::Deleted { user, .. } => {
            let mut events = Vec::new();
            if Status::of(user) != Some(Status::Deprovisioned) {
                events.push(event(core, DEACTIVATE, user, now_ms));
            }
            events.push(event(core, DELETE, user, now_ms));
            events
        }
    }
}

/// Okta's event hook deliveries to one endpoint.
#[derive(Debug)]
pub(super) struct EventHook {
    /// Headers on every delivery: the hook's `authScheme` (usually
    /// `Authorization: <secret>`) and its custom `headers`.
    headers: Vec<(String, String)>,
    /// The hook's URL in the org, the deliveries' `source`.
    source: String,
}

impl EventHook {
    /// Deliveries with `Authorization: <secret>`, from the org's fixed hook
    /// id (for senders set up from Rust rather than through the API).
    pub(super) fn new(core: &Core, secret: &str) -> Self {
        Self {
            headers: vec![(AUTHORIZATION.as_str().to_owned(), secret.to_owned())],
            source: source(core, &org_ids(core).hook),
        }
    }

    /// Deliveries of a hook registered through the Event Hooks API.
    pub(super) fn registered(core: &Core, hook: &Value) -> Self {
        let config = &hook["channel"]["config"];
        let header = |h: &Value| {
            Some((
                h["key"].as_str()?.to_owned(),
                h["value"].as_str()?.to_owned(),
            ))
        };
        let headers = config["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain([&config["authScheme"]])
            .filter_map(header)
            .collect();
        Self {
            headers,
            source: source(core, hook["id"].as_str().unwrap_or_default()),
        }
    }
}

fn source(core: &Core, hook_id: &str) -> String {
    format!("{}/api/v1/eventHooks/{hook_id}", core.base_url)
}

impl Deliverer for EventHook {
    fn batch_size(&self) -> usize {
        BATCH_SIZE
    }

    fn request(
        &self,
        client: &reqwest::Client,
        url: &str,
        events: &[&WebhookEvent],
    ) -> Result<(String, RequestBuilder), SendError> {
        let event_id = uuid_v4(&mut rand::rng());
        // The events are spliced in as they are, which keeps their exact
        // JSON; the envelope's own fields come from serde.
        let bodies: Vec<&str> = events.iter().map(|e| e.body.as_str()).collect();
        let envelope = json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": self.source,
            "eventId": event_id,
            "eventTime": iso(chrono::Utc::now().timestamp_millis()),
            "contentType": "application/json",
        })
        .to_string();
        // A JSON object always ends with `}`.
        let open = envelope.strip_suffix('}').unwrap_or(&envelope);
        let body = format!("{open},\"data\":{{\"events\":[{}]}}}}", bodies.join(","));
        let mut request = client
            .post(url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json");
        for (key, value) in &self.headers {
            request = request.header(key, value);
        }
        let request = request.body(body);
        Ok((event_id, request))
    }
}
