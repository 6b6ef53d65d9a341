//! The Svix side: events as the provider emits them, and a sender that signs
//! and POSTs them like Svix does.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use svix::webhooks::{Webhook, WebhookError};

/// Svix counts an attempt as failed when the endpoint takes longer.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// One message as Svix stores it: the id and creation time stay the same
/// on every delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `msg_<KSUID>`; the KSUID's time is `created_at`.
    pub msg_id: String,
    /// Unix seconds on the emulator clock when the change happened.
    pub created_at: i64,
    /// `user.created`, `user.updated` or `user.deleted`.
    pub event_type: String,
    /// The exact JSON body that is signed and sent.
    pub body: String,
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

/// Signs and POSTs events to one endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    url: String,
    signer: Arc<Webhook>,
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new(target: WebhookTarget) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()?;
        Ok(Self {
            signer: Arc::new(Webhook::new(&target.secret)?),
            url: target.url,
            client,
        })
    }

    /// One delivery attempt. Signed with the attempt time, as Svix re-signs
    /// every attempt; any HTTP answer is `Ok`, whatever its status.
    pub async fn send(&self, event: &WebhookEvent) -> Result<StatusCode, SendError> {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = self
            .signer
            .sign(&event.msg_id, timestamp, event.body.as_bytes())?;
        let timestamp = timestamp.to_string();
        let response = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, "Svix-Webhooks/1.0 (idsync-emulator)")
            .header("svix-id", &event.msg_id)
            .header("svix-timestamp", &timestamp)
            .header("svix-signature", &signature)
            // Svix also sends the unbranded names of the same headers.
            .header("webhook-id", &event.msg_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", &signature)
            .body(event.body.clone())
            .send()
            .await?;
        let status = response.status();
        // Read the body so the connection can be reused.
        response.bytes().await?;
        tracing::debug!(msg_id = %event.msg_id, %status, "webhook delivered");
        Ok(status)
    }

    /// Sends every event one after another, in the order `delivery` says,
    /// and returns each attempt's outcome in sending order.
    pub async fn send_all(
        &self,
        events: &[WebhookEvent],
        delivery: Delivery,
    ) -> Vec<(String, Result<StatusCode, SendError>)> {
        let mut outcomes = Vec::new();
        for event in delivery_order(events, delivery) {
            outcomes.push((event.msg_id.clone(), self.send(event).await));
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
