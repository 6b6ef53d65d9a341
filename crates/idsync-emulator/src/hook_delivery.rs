//! Deliveries to the endpoints registered through a provider's own API
//! (Okta's event hooks): events that happen close together are collected
//! for a moment, then each endpoint gets its share batched, shuffled and
//! partly duplicated, as Okta's at-least-once, unordered delivery may.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::webhooks::{Deliverer, Delivery, WebhookEvent, WebhookSender};

/// How long the first event of a delivery waits for others to join it.
const GATHER: Duration = Duration::from_millis(100);

/// The fraction of events delivered twice.
const DUPLICATES: f64 = 0.2;

/// An endpoint registered with the provider and active: where it is, the
/// event types it subscribes to, and how deliveries to it look.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredEndpoint {
    /// The provider's id of the registration (an event hook's `id`).
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub deliverer: Arc<dyn Deliverer>,
}

impl RegisteredEndpoint {
    pub(crate) fn subscribes_to(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|t| t == event_type)
    }
}

/// The queue of events owed to registered endpoints. Dropping it ends the
/// task that delivers them.
#[derive(Debug)]
pub(crate) struct HookQueue {
    queue: UnboundedSender<(RegisteredEndpoint, WebhookEvent)>,
    /// Events queued so far, one per endpoint they go to.
    queued: AtomicU64,
}

impl HookQueue {
    /// A queue whose deliveries run on `runtime`.
    pub(crate) fn start(runtime: &Handle) -> Self {
        let (queue, pending) = unbounded_channel();
        runtime.spawn(deliver(pending));
        Self {
            queue,
            queued: AtomicU64::new(0),
        }
    }

    pub(crate) fn push(&self, endpoint: RegisteredEndpoint, event: WebhookEvent) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        // The delivery task ends only when this queue is dropped.
        let _ = self.queue.send((endpoint, event));
    }

    pub(crate) fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

async fn deliver(mut pending: UnboundedReceiver<(RegisteredEndpoint, WebhookEvent)>) {
    while let Some(first) = pending.recv().await {
        tokio::time::sleep(GATHER).await;
        let mut by_endpoint: BTreeMap<String, (RegisteredEndpoint, Vec<WebhookEvent>)> =
            BTreeMap::new();
        let mut add = |(endpoint, event): (RegisteredEndpoint, WebhookEvent)| {
            by_endpoint
                .entry(endpoint.id.clone())
                .or_insert_with(|| (endpoint, Vec::new()))
                .1
                .push(event);
        };
        add(first);
        while let Ok(next) = pending.try_recv() {
            add(next);
        }
        for (endpoint, events) in by_endpoint.into_values() {
            tokio::spawn(send(endpoint, events));
        }
    }
}

async fn send(endpoint: RegisteredEndpoint, events: Vec<WebhookEvent>) {
    let sender = match WebhookSender::with(endpoint.url.clone(), endpoint.deliverer) {
        Ok(sender) => sender,
        Err(error) => {
            tracing::warn!(hook = %endpoint.id, %error, "cannot deliver to the registered endpoint");
            return;
        }
    };
    let delivery = Delivery::Shuffled {
        duplicates: DUPLICATES,
        seed: rand::random(),
    };
    for (id, outcome) in sender.send_all(&events, delivery).await {
        match outcome {
            Ok(status) if status.is_success() => {}
            Ok(status) => {
                tracing::warn!(hook = %endpoint.id, delivery = %id, %status, "event hook delivery refused");
            }
            Err(error) => {
                tracing::warn!(hook = %endpoint.id, delivery = %id, %error, "event hook delivery failed");
            }
        }
    }
}
