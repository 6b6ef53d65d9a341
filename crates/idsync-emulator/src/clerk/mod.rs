//! Clerk: the Backend API's user routes (`/v1/users`), its user object,
//! errors and webhook envelopes.
//!
//! Behaviour worth knowing, as Clerk's backend does it:
//! - `GET /v1/users`: `limit` 1..=500 (default 10), `offset` >= 0,
//!   `order_by` `[+|-]created_at|updated_at` (default `-created_at`), else
//!   422; other filters are refused with a 422 rather than ignored. The
//!   answer is a bare array; `GET /v1/users/count` gives the total.
//! - Every address's `verification.object` names its model
//!   (`verification_otp`, `verification_admin`), which the SDKs decode by.

mod errors;
mod events;
mod routes;
mod user;

use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use rand::rngs::ThreadRng;

use crate::EmulatorConfig;
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::provider::{EmulatedProvider, Event};
use crate::state::{Inner, StoredUser};
use crate::webhooks::WebhookEvent;

pub(crate) struct Clerk;

impl EmulatedProvider for Clerk {
    fn name(&self) -> &'static str {
        "clerk"
    }

    fn new_api_key(&self, rng: &mut ThreadRng) -> String {
        format!("sk_test_{}", alphanumeric(rng, 40))
    }

    fn connection_keys(
        &self,
        config: &EmulatorConfig,
        api_url: String,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("api_url", api_url),
            ("webhook_secret", config.webhook_secret.clone()),
            ("secret_key", config.api_key.clone()),
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
        vec![events::event(core, event, now_ms)]
    }
}

#[cfg(test)]
mod tests;
