//! Clerk: Svix-signed webhooks carrying whole user objects, and the Backend
//! API's `/v1/users` for backfill, reconcile and management.
//!
//! Clerk user objects carry `updated_at` (ms), which is the version of a
//! created/updated event and of a user read through the API; a deletion's
//! version is the event envelope's `timestamp` (ms).

mod api;
mod user;
mod webhook;

use idsync_core::{Change, Version};
use serde_json::Value;

pub use api::{Client, DEFAULT_API_URL, PAGE_SIZE, decode_page};
pub use user::profile;
pub use webhook::decode as decode_webhook;

use crate::keys::Keys;
use crate::manage::{NewUser, UserUpdate};
use crate::provider::{ApiFuture, Connector, KeyInfo, Page, ProviderDef, ProviderInfo};
use crate::push::{PushError, PushEvent, PushRequest};
use crate::svix::{self, Verifier};
use crate::{DecodeError, Provider, RetryPolicy};

/// The registry's entry for Clerk.
pub static CLERK: Clerk = Clerk;

static INFO: ProviderInfo = ProviderInfo {
    name: "clerk",
    aliases: &[],
    display_name: "Clerk",
    docs_url: "https://clerk.com/docs/webhooks/sync-data",
    console_name: "Clerk dashboard",
    console_url: "https://dashboard.clerk.com",
    push_setup: &[
        "In the Clerk dashboard, open Configure → Webhooks and choose Add Endpoint.",
        "Endpoint URL: {url}",
        "Subscribe to user.created, user.updated and user.deleted.",
        "Copy the endpoint's signing secret (whsec_…) into this connection's webhook_secret.",
    ],
    keys: &[
        KeyInfo {
            name: "secret_key",
            secret: true,
            default: None,
            help: "the instance's secret key, sk_live_… or sk_test_…",
        },
        KeyInfo {
            name: "webhook_secret",
            secret: true,
            default: None,
            help: "the webhook endpoint's Svix signing secret, whsec_…",
        },
        KeyInfo {
            name: "api_url",
            secret: false,
            default: Some(DEFAULT_API_URL),
            help: "the Backend API",
        },
    ],
};

/// Clerk as a provider idsync can configure.
#[derive(Debug)]
pub struct Clerk;

impl ProviderDef for Clerk {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    fn configure(&self, keys: &mut Keys<'_>) -> Option<Provider> {
        let api_url = keys.url("api_url", DEFAULT_API_URL);
        let secret_key = keys.secret("secret_key");
        let verifier = svix::verifier_key(keys, "webhook_secret");
        let secret_key = secret_key?;
        // Clerk's limits differ by instance kind, which the key names.
        let production = secret_key.expose().starts_with("sk_live_");
        let client = Client::new(&api_url?, secret_key, RetryPolicy::default());
        Some(Provider::new(Connection {
            verifier: verifier?,
            client,
            production,
        }))
    }
}

/// A configured Clerk instance.
#[derive(Debug)]
pub struct Connection {
    pub verifier: Verifier,
    pub client: Client,
    /// A production instance (`sk_live_` key), as opposed to development.
    pub production: bool,
}

impl Connector for Connection {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    fn receive(&self, push: &PushRequest<'_>) -> Result<Vec<PushEvent>, PushError> {
        svix::receive(&self.verifier, push, webhook::decode)
    }

    fn read_change(&self, user: Value, asked: Version) -> Result<Change, DecodeError> {
        user::read_change(user, asked)
    }

    fn list_page<'a>(&'a self, cursor: Option<&'a Value>) -> ApiFuture<'a, Page> {
        Box::pin(self.client.list_page(cursor))
    }

    fn cursor_ahead(&self, cursor: Option<&Value>, pages: u64) -> Option<Value> {
        let offset = cursor.and_then(Value::as_u64).unwrap_or(0);
        Some(Value::from(offset + pages * PAGE_SIZE))
    }

    /// Backend API: 1,000 requests per 10 s for a production instance, 100
    /// for a development one (clerk.com/docs, "Rate limits").
    fn request_limit(&self) -> Option<(u32, std::time::Duration)> {
        let requests = if self.production { 1000 } else { 100 };
        Some((requests, std::time::Duration::from_secs(10)))
    }

    fn total_users(&self) -> ApiFuture<'_, Option<u64>> {
        Box::pin(self.client.total_users())
    }

    fn get_user<'a>(&'a self, id: &'a str) -> ApiFuture<'a, Option<Value>> {
        Box::pin(self.client.get_user(id))
    }

    fn create_user<'a>(&'a self, user: &'a NewUser) -> ApiFuture<'a, Value> {
        Box::pin(self.client.create_user(user))
    }

    fn update_user<'a>(&'a self, id: &'a str, update: &'a UserUpdate) -> ApiFuture<'a, Value> {
        Box::pin(self.client.update_user(id, update))
    }

    fn delete_user<'a>(&'a self, id: &'a str) -> ApiFuture<'a, ()> {
        Box::pin(self.client.delete_user(id))
    }
}
