//! Stack Auth: Svix-signed webhooks carrying whole user objects, and the
//! server API's `/api/v1/users` for backfill, reconcile and management.
//!
//! Webhook bodies are `{type, data}` with no timestamp of their own, so an
//! event's version is the Svix message's creation time. The user object
//! has no update time either: a user read through the API (listed or got by
//! id) is versioned by the whole second before the request was sent, so it
//! is never later than the state the server read, and a webhook from the
//! same second wins.

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

/// The registry's entry for Stack Auth.
pub static STACK_AUTH: StackAuth = StackAuth;

static INFO: ProviderInfo = ProviderInfo {
    name: "stack_auth",
    aliases: &["stack-auth"],
    display_name: "Stack Auth",
    docs_url: "https://docs.stack-auth.com/docs/concepts/webhooks",
    console_name: "Stack Auth dashboard",
    console_url: "https://app.stack-auth.com/projects",
    push_setup: &[
        "In the Stack Auth dashboard, open your project, then Webhooks, and create an endpoint.",
        "Endpoint URL: {url}",
        "Copy the endpoint's signing secret (whsec_…) into this connection's webhook_secret.",
    ],
    keys: &[
        KeyInfo {
            name: "project_id",
            secret: false,
            default: None,
            help: "the project's id (Project Settings → API keys)",
        },
        KeyInfo {
            name: "secret_server_key",
            secret: true,
            default: None,
            help: "a secret server key of the project",
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
            help: "the Stack Auth API, for self-hosted Stack Auth",
        },
    ],
};

/// Stack Auth as a provider idsync can configure.
#[derive(Debug)]
pub struct StackAuth;

impl ProviderDef for StackAuth {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    fn configure(&self, keys: &mut Keys<'_>) -> Option<Provider> {
        let api_url = keys.url("api_url", DEFAULT_API_URL);
        let project_id = keys.required("project_id", "the Stack Auth project id");
        let server_key = keys.secret("secret_server_key");
        let verifier = svix::verifier_key(keys, "webhook_secret");
        let client = Client::new(&api_url?, &project_id?, server_key?, RetryPolicy::default());
        Some(Provider::new(Connection {
            verifier: verifier?,
            client,
        }))
    }
}

/// A configured Stack Auth project.
#[derive(Debug)]
pub struct Connection {
    pub verifier: Verifier,
    pub client: Client,
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
