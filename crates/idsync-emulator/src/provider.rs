//! What each emulated provider supplies. The generic emulator (server,
//! store, clock, outbox, rate limit) calls only this; everything specific
//! to a provider (routes, user objects, errors, webhook payloads) lives in
//! its own folder.

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use rand::rngs::ThreadRng;
use serde_json::Value;

use crate::EmulatorConfig;
use crate::emulator::Core;
use crate::hook_delivery::RegisteredEndpoint;
use crate::rate_limit::Window;
use crate::state::{Inner, StoredUser};
use crate::webhooks::{Deliverer, SendError, Svix, WebhookEvent};

/// A change to one user, as the provider announces it in a webhook.
pub(crate) enum Event<'a> {
    Created(&'a Value),
    Updated(&'a Value),
    /// `user` is the user as it was.
    Deleted {
        id: &'a str,
        user: &'a Value,
    },
}

pub(crate) trait EmulatedProvider: Send + Sync {
    /// The name in idsync's config and on the command line, e.g. `clerk`.
    fn name(&self) -> &'static str;

    /// Other spellings that parse to this provider.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    /// A new secret API key in the provider's format.
    fn new_api_key(&self, rng: &mut ThreadRng) -> String;

    /// The keys of an idsync connection to an emulator at `api_url`
    /// (`api_url` and `webhook_secret` included).
    fn connection_keys(
        &self,
        config: &EmulatorConfig,
        api_url: String,
    ) -> Vec<(&'static str, String)>;

    /// Every API route, with its own auth and error shapes.
    fn routes(&self) -> Router<Arc<Core>>;

    /// The path of the user list route (counted for tests).
    fn list_path(&self) -> &'static str;

    /// The 429 body and headers (the caller adds `Retry-After`).
    fn rate_limited(&self) -> Response;

    /// Last touches on every answer, given the request's headers and the
    /// rate-limit window the request counted against (if limited).
    fn finish(
        &self,
        _request: &HeaderMap,
        _window: Option<&Window>,
        response: Response,
    ) -> Response {
        response
    }

    /// A made-up user who signed up at `created_ms` and was last seen by
    /// `until_ms`, with its id.
    fn generate(
        &self,
        core: &Core,
        inner: &mut Inner,
        created_ms: i64,
        until_ms: i64,
    ) -> (String, StoredUser);

    /// The user after an edit in the provider's dashboard at `now_ms`:
    /// always a new name, sometimes a new email address.
    fn changed(&self, inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser;

    /// The webhook events for a change at `now_ms`.
    fn events(&self, core: &Core, event: Event<'_>, now_ms: i64) -> Vec<WebhookEvent>;

    /// How deliveries to an endpoint with `secret` are authenticated and
    /// shaped: by default, signed by Svix.
    fn deliverer(&self, _core: &Core, secret: &str) -> Result<Arc<dyn Deliverer>, SendError> {
        Ok(Arc::new(Svix::new(secret)?))
    }

    /// The endpoints registered through the provider's own API that
    /// receive events now (Okta: active, verified event hooks); none by
    /// default. Called with the users' lock held.
    fn registered_endpoints(&self, _core: &Core) -> Vec<RegisteredEndpoint> {
        Vec::new()
    }

    /// Whether the provider delivers to endpoints registered through its
    /// API, so a caller should register one rather than auto-deliver.
    fn registers_endpoints(&self) -> bool {
        false
    }
}
