//! Okta: the Users API (`/api/v1/users`) with an SSWS API token, its user
//! object, errors and rate-limit headers, event hook deliveries, and the
//! Groups and Apps APIs as `idsync create-app` and the SDKs use them
//! (`groups`, `apps_api`; `apps` is what the sign-in sees of an app).
//!
//! Behaviour worth knowing, as Okta does it:
//! - `GET /api/v1/users`: `limit` defaults to 200, larger values are
//!   capped at 200; pages follow `link: <…>; rel="next"` headers (absolute
//!   URLs with an `after` cursor), and the last page has only
//!   `rel="self"`. Without `filter` or `search` the list leaves
//!   `DEPROVISIONED` users out; `filter=status eq "DEPROVISIONED"` lists
//!   them (see `filter` for the expressions supported).
//! - Ids are `00u` and 17 letters or digits; the emulator's sort by sign-up
//!   time, the list's order.
//! - The first `DELETE` of a user deactivates it (`DEPROVISIONED`), the
//!   second deletes it; both answer 204.
//! - A lifecycle operation (activate, deactivate, suspend, …) sets
//!   `statusChanged` and `lastUpdated` to the same instant, as user objects
//!   from real orgs show, so `filter=lastUpdated gt "…"` lists the user.
//! - Apps: `client_secret` is shown only by a create or a replace;
//!   `/credentials/secrets` lists the secrets.
//! - Every answer carries `X-Rate-Limit-Limit`, `-Remaining` and `-Reset`
//!   (epoch seconds); beyond the limit, 429 with `E0000047`.
//! - Event hooks: System Log events naming only their target user, batched
//!   into `com.okta.event_hook` POSTs, shuffled and partly duplicated, to
//!   every hook registered through `/api/v1/eventHooks` that is `ACTIVE`
//!   and `VERIFIED` and lists the event's type, with the hook's
//!   `authScheme` header (`Authorization: <secret>`) and `headers`.
//! - The org authorization server: an OpenID Connect issuer for the org's
//!   users at the org URL (see `oidc`).

mod app_assignments;
mod app_definition;
mod app_secrets;
pub(crate) mod apps;
mod apps_api;
mod directory;
mod errors;
mod event_hooks;
mod events;
mod filter;
mod groups;
pub(crate) mod oidc;
mod paging;
mod routes;
mod user;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use rand::rngs::ThreadRng;

use crate::EmulatorConfig;
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::hook_delivery::RegisteredEndpoint;
use crate::provider::{EmulatedProvider, Event};
use crate::rate_limit::Window;
use crate::state::{Inner, StoredUser};
use crate::webhooks::{Deliverer, SendError, WebhookEvent};

/// What an emulator without a rate limit announces: a window of this many
/// requests a minute that never runs down.
const NOMINAL_LIMIT: u32 = 600;

pub(crate) struct Okta;

impl EmulatedProvider for Okta {
    fn name(&self) -> &'static str {
        "okta"
    }

    /// Okta's API tokens: `00` and 40 letters, digits, `-` or `_`.
    fn new_api_key(&self, rng: &mut ThreadRng) -> String {
        format!("00{}", alphanumeric(rng, 40))
    }

    fn connection_keys(
        &self,
        config: &EmulatorConfig,
        api_url: String,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("org_url", api_url),
            ("api_token", config.api_key.clone()),
            // The emulator's webhook secret is the hook's Authorization value.
            ("event_hook_secret", config.webhook_secret.clone()),
        ]
    }

    fn routes(&self) -> Router<Arc<Core>> {
        routes::routes()
    }

    fn list_path(&self) -> &'static str {
        routes::LIST_PATH
    }

    fn rate_limited(&self) -> Response {
        errors::rate_limited()
    }

    fn finish(
        &self,
        _request: &HeaderMap,
        window: Option<&Window>,
        mut response: Response,
    ) -> Response {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (limit, remaining, reset) = match window {
            Some(w) => (w.limit, w.remaining, w.reset_unix),
            None => (NOMINAL_LIMIT, NOMINAL_LIMIT - 1, now + 60),
        };
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", HeaderValue::from(limit));
        headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
        headers.insert("x-rate-limit-reset", HeaderValue::from(reset));
        response
    }

    fn generate(
        &self,
        core: &Core,
        inner: &mut Inner,
        created_ms: i64,
        until_ms: i64,
    ) -> (String, StoredUser) {
        user::generate(core, inner, created_ms, until_ms)
    }

    fn changed(&self, inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
        user::changed(inner, user, now_ms)
    }

    fn events(&self, core: &Core, event: Event<'_>, now_ms: i64) -> Vec<WebhookEvent> {
        events::events(core, event, now_ms)
    }

    fn deliverer(&self, core: &Core, secret: &str) -> Result<Arc<dyn Deliverer>, SendError> {
        Ok(Arc::new(events::EventHook::new(core, secret)))
    }

    fn registered_endpoints(&self, core: &Core) -> Vec<RegisteredEndpoint> {
        event_hooks::registered(core)
    }

    fn registers_endpoints(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod apps_tests;
#[cfg(test)]
mod event_hooks_tests;
#[cfg(test)]
mod tests;
