//! The running emulator: shared state, the HTTP server, and the test-facing
//! handle that changes users the way the provider's own UI would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header::RETRY_AFTER};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::hook_delivery::HookQueue;
use crate::provider::{EmulatedProvider, Event};
use crate::rate_limit::RateLimiter;
use crate::state::{Inner, Order, StoredUser};
use crate::webhooks::{SendError, WebhookEvent, WebhookSender, WebhookTarget};
use crate::{EmulatorConfig, ksuid};

/// Seeded sign-ups spread over this span before the clock ...
const SEED_SPAN_MS: i64 = 365 * 24 * 3600 * 1000;
/// ... ending this long before it, so users created later (even with the
/// clock set back a little) sign up after every seeded one.
const SEED_GAP_MS: i64 = 3600 * 1000;

/// What [`Emulator::random_change`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum UserChange {
    Created(Value),
    Updated(Value),
    Deleted(String),
}

/// State shared by the HTTP handlers and the [`Emulator`] handle.
pub(crate) struct Core {
    pub config: EmulatorConfig,
    pub provider: &'static dyn EmulatedProvider,
    /// This emulated instance's id (`ins_<KSUID>`), for providers whose
    /// events or URLs name it.
    pub instance_id: String,
    /// The API base URL, e.g. `http://127.0.0.1:PORT`, for providers whose
    /// answers link to themselves.
    pub base_url: String,
    inner: Mutex<Inner>,
    /// Objects a provider's own APIs keep besides users (Okta's event
    /// hooks), by kind. Lock order: take it after [`Core::lock`], or alone.
    pub resources: Mutex<std::collections::BTreeMap<&'static str, Vec<Value>>>,
    list_requests: AtomicU64,
    /// Set: every API request is answered 503.
    unavailable: AtomicBool,
    limiter: Option<RateLimiter>,
    /// Auto-delivery is spawned here, so the sync mutators work from any thread.
    runtime: Handle,
    /// Events owed to the endpoints registered through the provider's API.
    hook_queue: HookQueue,
}

impl Core {
    fn new(config: EmulatorConfig, base_url: String, runtime: Handle) -> Self {
        let mut rng = StdRng::seed_from_u64(config.rng_seed);
        let now = Utc::now();
        let instance_id = format!("ins_{}", ksuid::generate(now.timestamp(), &mut rng));
        let core = Self {
            provider: config.kind.emulated(),
            limiter: config.rate_limit.map(RateLimiter::new),
            config,
            instance_id,
            base_url,
            inner: Mutex::new(Inner::new(rng)),
            resources: Mutex::default(),
            list_requests: AtomicU64::new(0),
            unavailable: AtomicBool::new(false),
            hook_queue: HookQueue::start(&runtime),
            runtime,
        };
        core.seed(now.timestamp_millis());
        core
    }

    /// Generated users with ascending sign-up times, silently (no events).
    fn seed(&self, now_ms: i64) {
        let count = self.config.seed_users;
        let mut inner = self.lock();
        let end = now_ms - SEED_GAP_MS;
        let step = (SEED_SPAN_MS / count.max(1) as i64).max(2);
        let mut previous = i64::MIN;
        for i in 0..count {
            let jitter = inner.rng.random_range(0..step / 2);
            let created = (end - SEED_SPAN_MS + i as i64 * step + jitter).max(previous + 1);
            previous = created;
            let (id, user) = self.generate(&mut inner, created, end);
            inner.store.put(&id, user);
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not wedge the emulator for the others.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A made-up user who signed up at `created_ms` and was last seen by `until_ms`.
    fn generate(&self, inner: &mut Inner, created_ms: i64, until_ms: i64) -> (String, StoredUser) {
        self.provider.generate(self, inner, created_ms, until_ms)
    }

    /// Stores a new user and emits its created event.
    pub(crate) fn add(&self, inner: &mut Inner, id: &str, user: StoredUser) -> Value {
        let json = user.json.clone();
        inner.store.put(id, user);
        self.emit(inner, Event::Created(&json));
        json
    }

    /// Replaces a user and emits its updated event.
    pub(crate) fn replace(&self, inner: &mut Inner, id: &str, user: StoredUser) -> Value {
        let json = user.json.clone();
        inner.store.put(id, user);
        self.emit(inner, Event::Updated(&json));
        json
    }

    /// Deletes a user and emits its deleted event; false if there was none.
    pub(crate) fn remove(&self, inner: &mut Inner, id: &str) -> bool {
        let Some(user) = inner.store.remove(id) else {
            return false;
        };
        self.emit(
            inner,
            Event::Deleted {
                id,
                user: &user.json,
            },
        );
        true
    }

    fn emit(&self, inner: &mut Inner, event: Event<'_>) {
        if !inner.emit_webhooks {
            return;
        }
        let now = inner.now().timestamp_millis();
        let events = self.provider.events(self, event, now);
        self.publish(inner, events);
    }

    /// Puts events in the outbox and delivers them, unless webhooks are
    /// off: to every endpoint registered through the provider's API that
    /// subscribes to the event's type, and to the auto-delivery target
    /// unless one of those endpoints has its URL (one event reaches one URL
    /// once). Providers whose changes have more kinds than created, updated
    /// and deleted publish their events themselves.
    pub(crate) fn publish(&self, inner: &mut Inner, events: Vec<WebhookEvent>) {
        if !inner.emit_webhooks {
            return;
        }
        let endpoints = self.provider.registered_endpoints(self);
        for event in events {
            let mut hooked = Vec::new();
            for endpoint in endpoints
                .iter()
                .filter(|e| e.subscribes_to(&event.event_type))
            {
                hooked.push(endpoint.url.as_str());
                self.hook_queue.push(endpoint.clone(), event.clone());
            }
            let auto = inner
                .auto_deliver
                .clone()
                .filter(|sender| !hooked.contains(&sender.url()));
            if let Some(sender) = auto {
                let event = event.clone();
                self.runtime.spawn(async move {
                    if let Err(error) = sender.send(&event).await {
                        tracing::warn!(msg_id = %event.msg_id, %error, "auto-delivery failed");
                    }
                });
            }
            inner.outbox.push(event);
        }
    }

    /// Takes one successful list answer from the budget set by
    /// [`Emulator::fail_list_requests_after`]; false = answer 500 instead.
    pub(crate) fn list_permit(&self, inner: &mut Inner) -> bool {
        match &mut inner.list_ok_left {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }

    fn is_list_request(&self, method: &Method, path: &str) -> bool {
        method == Method::GET && path == self.provider.list_path()
    }
}

/// Counts list requests (whatever their answer), answers 503 while the
/// API is down, applies the rate limit to every route, and lets the
/// provider finish every answer, after the configured latency.
async fn guard(State(core): State<Arc<Core>>, request: Request, next: Next) -> Response {
    let response = admit(&core, request, next).await;
    if !core.config.latency.is_zero() {
        tokio::time::sleep(core.config.latency).await;
    }
    response
}

async fn admit(core: &Arc<Core>, request: Request, next: Next) -> Response {
    if core.is_list_request(request.method(), request.uri().path()) {
        core.list_requests.fetch_add(1, Ordering::Relaxed);
    }
    if core.unavailable.load(Ordering::Relaxed) {
        // What the load balancer in front of a provider's API answers.
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let headers = request.headers().clone();
    let window = core.limiter.as_ref().map(RateLimiter::check);
    let response = match window.and_then(|w| w.refused) {
        Some(retry_after) => {
            let mut response = core.provider.rate_limited();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        None => next.run(request).await,
    };
    core.provider.finish(&headers, window.as_ref(), response)
}

fn router(core: Arc<Core>) -> Router {
    core.provider
        .routes()
        .layer(middleware::from_fn_with_state(core.clone(), guard))
        .with_state(core)
}

/// A running emulator. Clones share it. The server stops on
/// [`Emulator::shutdown`], or when the last clone is dropped.
#[derive(Clone)]
pub struct Emulator {
    running: Arc<Running>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("kind", &self.config().kind)
            .field("addr", &self.running.addr)
            .finish_non_exhaustive()
    }
}

struct Running {
    core: Arc<Core>,
    addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = take(&self.stop) {
            // The server may already be gone; nothing to do then.
            let _ = stop.send(());
        }
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

impl Emulator {
    /// Seeds the users, binds `addr` (port 0 picks a free port) and serves
    /// in a spawned task.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let kind = config.kind;
        let seed_users = config.seed_users;
        let base_url = format!("http://{addr}");
        let core = Arc::new(Core::new(config, base_url, Handle::current()));
        let app = router(core.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender also means stop.
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "emulator server failed");
            }
        });
        tracing::info!(%kind, %addr, seed_users, "emulator started");
        Ok(Self {
            running: Arc::new(Running {
                core,
                addr,
                stop: Mutex::new(Some(stop)),
                server: Mutex::new(Some(server)),
            }),
        })
    }

    /// Stops the server (for every clone) and waits for it to finish.
    pub async fn shutdown(self) {
        if let Some(stop) = take(&self.running.stop) {
            let _ = stop.send(());
        }
        let Some(server) = take(&self.running.server) else {
            return;
        };
        if let Err(error) = server.await {
            tracing::warn!(%error, "emulator server task ended abnormally");
        }
    }

    pub(crate) fn core(&self) -> &Core {
        &self.running.core
    }

    /// The API base URL, e.g. `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.core().base_url.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.running.addr
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.core().config
    }

    /// The provider keys of an idsync connection to this emulator.
    pub fn connection_keys(&self) -> Vec<(&'static str, String)> {
        let core = self.core();
        core.provider.connection_keys(&core.config, self.base_url())
    }

    /// Every live user as the API returns them, in sign-up order (users
    /// that list filters leave out by default included).
    pub fn users(&self) -> Vec<Value> {
        let inner = self.core().lock();
        let store = &inner.store;
        store
            .ids(Order::Created)
            .iter()
            .filter_map(|(_, id)| store.get(id).map(|u| u.json.clone()))
            .collect()
    }

    pub fn user_ids(&self) -> Vec<String> {
        let inner = self.core().lock();
        inner
            .store
            .ids(Order::Created)
            .iter()
            .map(|(_, id)| id.clone())
            .collect()
    }

    pub fn user(&self, id: &str) -> Option<Value> {
        self.core().lock().store.get(id).map(|u| u.json.clone())
    }

    /// Signs up a generated user now; emits its created event.
    pub fn create_user(&self) -> Value {
        let core = self.core();
        let mut inner = core.lock();
        let now = inner.now().timestamp_millis();
        let (id, user) = core.generate(&mut inner, now, now);
        core.add(&mut inner, &id, user)
    }

    /// Changes the user's name (and sometimes email); emits its updated event.
    pub fn update_user(&self, id: &str) -> Option<Value> {
        let core = self.core();
        let mut inner = core.lock();
        let current = inner.store.get(id)?.clone();
        let now = inner.now().timestamp_millis();
        let user = core.provider.changed(&mut inner, &current, now);
        Some(core.replace(&mut inner, id, user))
    }

    /// Deletes the user; emits its deleted event. False if there was none.
    pub fn delete_user(&self, id: &str) -> bool {
        let core = self.core();
        let mut inner = core.lock();
        core.remove(&mut inner, id)
    }

    /// Creates (40%), updates (45%) or deletes (15%) a user; never deletes
    /// or updates when there are no users.
    pub fn random_change(&self) -> UserChange {
        let picked = {
            let mut inner = self.core().lock();
            let roll = inner.rng.random_range(0..100);
            let pick = inner.rng.random::<u32>() as usize;
            inner.store.nth_id(pick).map(|id| (roll, id.to_owned()))
        };
        match picked {
            Some((roll, id)) if roll >= 85 => {
                self.delete_user(&id);
                UserChange::Deleted(id)
            }
            Some((roll, id)) if roll >= 40 => match self.update_user(&id) {
                Some(user) => UserChange::Updated(user),
                None => UserChange::Created(self.create_user()),
            },
            _ => UserChange::Created(self.create_user()),
        }
    }

    /// Off: changes happen without events, like webhooks the provider
    /// dropped (for reconcile tests). On by default.
    pub fn set_emit_webhooks(&self, on: bool) {
        self.core().lock().emit_webhooks = on;
    }

    /// Drains the outbox: every event emitted since the last call, in order.
    pub fn take_events(&self) -> Vec<WebhookEvent> {
        std::mem::take(&mut self.core().lock().outbox)
    }

    /// Requests to the provider's user list route received, counting every answer: 200, 4xx (incl. 429) and injected 500s.
    pub fn list_request_count(&self) -> u64 {
        self.core().list_requests.load(Ordering::Relaxed)
    }

    /// After `n` more successful list requests, answer every list request
    /// 500 (to interrupt a backfill); `None` heals.
    pub fn fail_list_requests_after(&self, n: Option<u64>) {
        self.core().lock().list_ok_left = n;
    }

    /// Moves the emulator clock (may be negative). Every provider timestamp
    /// and event time comes from this clock; it starts at real time.
    pub fn advance_clock(&self, d: chrono::Duration) {
        self.core().lock().clock_offset += d;
    }

    /// The emulator clock's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.core().lock().now()
    }

    /// When set, every event emitted from now on is also sent at once, each
    /// in its own task (so unordered), to `target`, the way the provider
    /// delivers. Failures are logged. An event that goes to an endpoint
    /// registered through the provider's API (an active, verified Okta
    /// event hook) at the same URL is not sent here again.
    pub fn auto_deliver(&self, target: Option<WebhookTarget>) -> Result<(), SendError> {
        let sender = target.map(|t| self.sender(t)).transpose()?;
        self.core().lock().auto_deliver = sender;
        Ok(())
    }

    /// A sender to `target` that authenticates and shapes deliveries the
    /// way this provider does (Svix-signed for Stack Auth and Clerk).
    pub fn sender(&self, target: WebhookTarget) -> Result<WebhookSender, SendError> {
        let core = self.core();
        let deliverer = core.provider.deliverer(core, &target.secret)?;
        WebhookSender::with(target.url, deliverer)
    }

    /// Events queued for the endpoints registered through the provider's
    /// API so far, counted once per endpoint (decided when the change is
    /// made, delivered moments later).
    pub fn registered_deliveries_queued(&self) -> u64 {
        self.core().hook_queue.queued()
    }

    /// Whether this provider delivers events to the endpoints registered
    /// through its own API (Okta's event hooks): then register one (as
    /// `idsync connect` does) instead of [`Emulator::auto_deliver`].
    pub fn registers_endpoints(&self) -> bool {
        self.core().provider.registers_endpoints()
    }

    /// On: every API request is answered 503 (no answer is counted against
    /// the rate limit), as when the provider is down. Off by default.
    pub fn set_unavailable(&self, on: bool) {
        self.core().unavailable.store(on, Ordering::Relaxed);
    }
}
