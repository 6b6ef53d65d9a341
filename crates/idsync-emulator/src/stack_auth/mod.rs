//! Stack Auth (being renamed Hexclave): the server API's user routes
//! (`/api/v1/users`), its user object, errors and webhook payloads, as its
//! backend produces them.
//!
//! Behaviour worth knowing, as Stack's backend does it:
//! - Every `x-stack-*` request header is also accepted as `x-hexclave-*`
//!   (`@stackframe/js` 2.8.108 sends only the new names); known errors carry
//!   both `x-stack-known-error` and `x-hexclave-known-error`.
//! - With `x-stack-override-error-status` (or the Hexclave name) an error
//!   is answered 200, its real status in `x-stack-actual-status` and
//!   `x-hexclave-actual-status`.
//! - `GET /api/v1/users`: `limit` has no default and no maximum (absent =
//!   every user in one page; below 1 = 400 `SCHEMA_ERROR`); unknown query
//!   parameters are a 400; the `cursor` must be a UUID (else 400) and a
//!   cursor naming no listed user (deleted, or filtered out) yields an
//!   empty page with `next_cursor: null`, like Stack's Prisma query.
//!   Anonymous and restricted users are left out unless asked for.
//! - `POST` answers 201, other routes 200; missing access type or project
//!   id is a 400, a missing or wrong key a 401.

mod auth;
mod errors;
mod events;
mod routes;
mod user;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use rand::rngs::ThreadRng;

use crate::EmulatorConfig;
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::provider::{EmulatedProvider, Event};
use crate::rate_limit::Window;
use crate::state::{Inner, StoredUser};
use crate::webhooks::WebhookEvent;

pub(crate) struct StackAuth;

impl EmulatedProvider for StackAuth {
    fn name(&self) -> &'static str {
        "stack_auth"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["stack-auth"]
    }

    fn new_api_key(&self, rng: &mut ThreadRng) -> String {
        format!("ssk_{}", alphanumeric(rng, 48))
    }

    fn connection_keys(
        &self,
        config: &EmulatorConfig,
        api_url: String,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("api_url", api_url),
            ("webhook_secret", config.webhook_secret.clone()),
            ("project_id", config.project_id.clone()),
            ("secret_server_key", config.api_key.clone()),
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
        request: &HeaderMap,
        _window: Option<&Window>,
        response: Response,
    ) -> Response {
        errors::override_error_status(request, response)
    }

    fn generate(
        &self,
        _core: &Core,
        inner: &mut Inner,
        created_ms: i64,
        until_ms: i64,
    ) -> (String, StoredUser) {
        user::generate(inner, created_ms, until_ms)
    }

    fn changed(&self, inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
        user::changed(inner, user, now_ms)
    }

    fn events(&self, _core: &Core, event: Event<'_>, now_ms: i64) -> Vec<WebhookEvent> {
        vec![events::event(event, now_ms)]
    }
}

#[cfg(test)]
mod tests;
