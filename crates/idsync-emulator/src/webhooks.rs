//! The sending side: events as the provider emits them, and a sender that
//! POSTs them the way the provider delivers them. By default that is Svix's
//! way (one signed event per POST); a provider may authenticate and shape
//! its deliveries itself (see [`Deliverer`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use reqwest::{RequestBuilder, StatusCode};
use svix::webhooks::{Webhook, WebhookError};

use crate::ksuid;

/// Svix counts an attempt as failed when the endpoint takes longer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// One event as the provider stores it: the id and creation time stay the
/// same on every delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The id receivers de-duplicate by: Svix's `msg_<KSUID>` (the KSUID's
    /// time is `created_at`), or the provider's own event id.
    pub msg_id: String,
    /// Unix seconds on the emulator clock when the change happened.
    pub created_at: i64,
    /// The provider's event type, e.g. `user.created`.
    pub event_type: String,
    /// The exact JSON of the event: the whole body Svix signs and sends, or
    /// the entry a provider's batched delivery carries.
    pub body: String,
}

impl WebhookEvent {
    /// An event as Svix stores it, made at `now_ms` on the emulator clock.
    pub(crate) fn svix(now_ms: i64, event_type: &str, body: String) -> Self {
        let secs = now_ms.div_euclid(1000);
        // Message ids do not come from the seeded rng, so whether events are
        // emitted does not change which users get generated.
        let msg_id = format!("msg_{}", ksuid::generate(secs, &mut rand::rng()));
        Self {
            msg_id,
            created_at: secs,
            event_type: event_type.to_owned(),
            body,
        }
    }
}

/// How a provider authenticates and shapes its deliveries.
pub(crate) trait Deliverer: Send + Sync + fmt::Debug {
    /// Most events one POST carries.
    fn batch_size(&self) -> usize {
        1
    }

    /// One POST of `events` (at least one, at most [`Self::batch_size`]):
    /// the delivery's id and the request, to which the caller adds nothing.
    fn request(
        &self,
        client: &reqwest::Client,
        url: &str,
        events: &[&WebhookEvent],
    ) -> Result<(String, RequestBuilder), SendError>;
}

/// Svix: one event per POST, signed with the attempt time, as Svix re-signs
/// every attempt.
#[derive(Debug)]
pub(crate) struct Svix(Webhook);

impl Svix {
    pub(crate) fn new(secret: &str) -> Result<Self, SendError> {
        Ok(Self(Webhook::new(secret)?))
    }
}

impl Deliverer for Svix {
    fn request(
        &self,
        client: &reqwest::Client,
        url: &str,
        events: &[&WebhookEvent],
    ) -> Result<(String, RequestBuilder), SendError> {
        let mut request = client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "Svix-Webhooks/1.0 (idsync-emulator)");
        let mut id = String::new();
        // `batch_size` is 1, so this is one event (or none).
        for event in events {
            let timestamp = chrono::Utc::now().timestamp();
            let signature = self
                .0
                .sign(&event.msg_id, timestamp, event.body.as_bytes())?;
            let timestamp = timestamp.to_string();
            request = request
                .header("svix-id", &event.msg_id)
                .header("svix-timestamp", &timestamp)
                .header("svix-signature", &signature)
                // Svix also sends the unbranded names of the same headers.
                .header("webhook-id", &event.msg_id)
                .header("webhook-timestamp", &timestamp)
                .header("webhook-signature", &signature)
                .body(event.body.clone());
            id.clone_from(&event.msg_id);
        }
        Ok((id, request))
    }
}

/// Where to deliver: an endpoint URL and its `whsec_...` secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

/// How [`WebhookSender::send_all`] orders the attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    InOrder,
    /// Svix guarantees no order and delivers at least once: send in a
    /// seeded random order, with this fraction (0.0..=1.0) of the events
    /// sent twice.
    Shuffled {
        duplicates: f64,
        seed: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid webhook secret: {0}")]
    Secret(#[from] WebhookError),
    #[error("webhook request failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// POSTs events to one endpoint, authenticated and shaped as the provider
/// does it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    url: String,
    deliverer: Arc<dyn Deliverer>,
    client: reqwest::Client,
}

impl WebhookSender {
    /// A sender that delivers like Svix (Stack Auth, Clerk). For any
    /// emulated provider, [`crate::Emulator::sender`] picks its way.
    pub fn new(target: WebhookTarget) -> Result<Self, SendError> {
        Self::with(target.url, Arc::new(Svix::new(&target.secret)?))
    }

    /// Where this sender delivers.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn with(url: String, deliverer: Arc<dyn Deliverer>) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()?;
        Ok(Self {
            url,
            deliverer,
            client,
        })
    }

    /// One delivery attempt of one event; any HTTP answer is `Ok`, whatever
    /// its status.
    pub async fn send(&self, event: &WebhookEvent) -> Result<StatusCode, SendError> {
        self.deliver(&[event]).await.1
    }

    /// One POST of `events`: its delivery id and outcome.
    async fn deliver(&self, events: &[&WebhookEvent]) -> (String, Result<StatusCode, SendError>) {
        let (id, request) = match self.deliverer.request(&self.client, &self.url, events) {
            Ok(built) => built,
            Err(error) => return (String::new(), Err(error)),
        };
        let outcome = async {
            let response = request.send().await?;
            let status = response.status();
            // Read the body so the connection can be reused.
            response.bytes().await?;
            tracing::debug!(delivery = %id, events = events.len(), %status, "webhook delivered");
            Ok(status)
        }
        .await;
        (id, outcome)
    }

    /// Sends every event, one POST after another, in the order `delivery`
    /// says, as many per POST as the provider batches (Svix: one). Returns
    /// each POST's delivery id (Svix: the `msg_id`) and outcome, in sending
    /// order.
    pub async fn send_all(
        &self,
        events: &[WebhookEvent],
        delivery: Delivery,
    ) -> Vec<(String, Result<StatusCode, SendError>)> {
        let order = delivery_order(events, delivery);
        let mut outcomes = Vec::new();
        for batch in order.chunks(self.deliverer.batch_size().max(1)) {
            outcomes.push(self.deliver(batch).await);
        }
        outcomes
    }
}

fn delivery_order(events: &[WebhookEvent], delivery: Delivery) -> Vec<&WebhookEvent> {
    let mut order: Vec<&WebhookEvent> = events.iter().collect();
    if let Delivery::Shuffled { duplicates, seed } = delivery {
        let mut rng = StdRng::seed_from_u64(seed);
        let count = (events.len() as f64 * duplicates.clamp(0.0, 1.0)).round() as usize;
        let twice = rand::seq::index::sample(&mut rng, events.len(), count.min(events.len()));
        order.extend(twice.iter().map(|i| &events[i]));
        order.shuffle(&mut rng);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> WebhookEvent {
        WebhookEvent {
            msg_id: format!("msg_{n}"),
            created_at: 0,
            event_type: "user.created".into(),
            body: "{}".into(),
        }
    }

    #[test]
    fn shuffled_order_has_every_event_and_the_duplicates() {
        let events: Vec<_> = (0..100).map(event).collect();
        let in_order = delivery_order(&events, Delivery::InOrder);
        assert!(in_order.iter().zip(&events).all(|(a, b)| *a == b));

        let delivery = Delivery::Shuffled {
            duplicates: 0.25,
            seed: 3,
        };
        let shuffled = delivery_order(&events, delivery);
        assert_eq!(shuffled.len(), 125);
        assert!(events.iter().all(|e| shuffled.contains(&e)));
        assert_ne!(shuffled[..100], in_order[..]);
        assert_eq!(shuffled, delivery_order(&events, delivery));
    }

    #[test]
    fn signs_the_svix_test_vector() {
        let signer = Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            signer
                .sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553, body)
                .unwrap(),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }
}
