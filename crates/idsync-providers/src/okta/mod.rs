//! Okta: event hooks that name users by id (each refreshed through the
//! API), and the Users API for backfill, reconcile and management.
//!
//! Users are keyed by their Okta id, the `sub` of Okta ID tokens, so an app
//! signing in with Okta joins its data to the table on it. See `user` for
//! the mapping and `hook` for the deliveries.

mod api;
mod event_hooks;
mod hook;
mod sign_in_app;
mod user;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use idsync_core::{Change, Secret, Version};
use serde_json::{Value, json};

pub use api::{Client, PAGE_SIZE, decode_page, next_link};
pub use hook::{USER_EVENT_TYPES, decode as decode_hook};
pub use user::profile;

use crate::keys::Keys;
use crate::manage::{NewUser, UserUpdate};
use crate::provider::{
    ApiFuture, AppRequest, Connected, Connector, KeyInfo, Page, ProviderDef, ProviderInfo,
    SignInApp,
};
use crate::push::{PushError, PushEvent, PushRequest};
use crate::verify::SecretHeader;
use crate::{DecodeError, Provider, RetryPolicy};

/// The registry's entry for Okta.
pub static OKTA: Okta = Okta;

/// The header Okta's one-time verification request carries.
pub const CHALLENGE_HEADER: &str = "x-okta-verification-challenge";

static INFO: ProviderInfo = ProviderInfo {
    name: "okta",
    aliases: &[],
    display_name: "Okta",
    docs_url: "https://developer.okta.com/docs/concepts/event-hooks/",
    console_name: "Okta Admin Console",
    console_url: "https://login.okta.com",
    push_setup: &[
        "In the Okta Admin Console, open Workflow → Event Hooks and choose Create Event Hook.",
        "Endpoint URL: {url}",
        "Authentication field: Authorization; Authentication secret: this connection's event_hook_secret.",
        "Subscribe to the user lifecycle events (create, activate, deactivate, suspend, unsuspend, reactivate, delete initiated) and \"User's Okta profile updated\".",
        "Save, then Verify: idsync answers Okta's verification request.",
    ],
    keys: &[
        KeyInfo {
            name: "org_url",
            secret: false,
            default: None,
            help: "the org's URL, e.g. https://dev-123456.okta.com (https; plain http only on loopback)",
        },
        KeyInfo {
            name: "api_token",
            secret: true,
            default: None,
            help: "an SSWS API token (Security → API → Tokens) made by a Super Administrator, or by an admin whose role reads users and groups and manages apps and event hooks",
        },
        KeyInfo {
            name: "event_hook_secret",
            secret: true,
            default: None,
            help: "the value Okta sends in the Authorization header of each event hook delivery",
        },
    ],
};

/// Okta as a provider idsync can configure.
#[derive(Debug)]
pub struct Okta;

impl ProviderDef for Okta {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    fn configure(&self, keys: &mut Keys<'_>) -> Option<Provider> {
        let org_url = keys.secure_url("org_url");
        let token = keys.secret("api_token");
        let hook_secret = keys.secret("event_hook_secret");
        let hook_secret = hook_secret?;
        Some(Provider::new(Connection {
            hook_auth: SecretHeader::new("authorization", &hook_secret),
            hook_secret,
            client: Client::new(&org_url?, token?, RetryPolicy::default()),
        }))
    }
}

/// A configured Okta org.
#[derive(Debug)]
pub struct Connection {
    pub hook_auth: SecretHeader,
    /// Sent to Okta when `connect` registers the hook.
    pub hook_secret: Secret,
    pub client: Client,
}

impl Connector for Connection {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    fn receive(&self, push: &PushRequest<'_>) -> Result<Vec<PushEvent>, PushError> {
        self.hook_auth.verify(push.headers)?;
        Ok(hook::decode(push.body)?)
    }

    /// Echoes the challenge, as Okta's verification expects. The answer
    /// reveals nothing, so it needs no secret.
    fn challenge(&self, headers: &HeaderMap) -> Option<Result<Value, PushError>> {
        let answer = match headers.get(CHALLENGE_HEADER).map(|v| v.to_str()) {
            Some(Ok(value)) => Ok(json!({ "verification": value })),
            Some(Err(_)) => Err(PushError::Malformed(DecodeError::Invalid(format!(
                "{CHALLENGE_HEADER} is not text"
            )))),
            None => Err(PushError::Malformed(DecodeError::Invalid(format!(
                "missing {CHALLENGE_HEADER} header"
            )))),
        };
        Some(answer)
    }

    fn connect<'a>(&'a self, push_url: &'a str, dry_run: bool) -> Option<ApiFuture<'a, Connected>> {
        Some(Box::pin(self.client.connect_hook(
            push_url,
            &self.hook_secret,
            dry_run,
        )))
    }

    fn create_app<'a>(
        &'a self,
        request: &'a AppRequest,
        dry_run: bool,
    ) -> Option<ApiFuture<'a, SignInApp>> {
        Some(Box::pin(self.client.create_app(request, dry_run)))
    }

    fn read_change(&self, user: Value, asked: Version) -> Result<Change, DecodeError> {
        user::read_change(user, asked)
    }

    fn list_page<'a>(&'a self, cursor: Option<&'a Value>) -> ApiFuture<'a, Page> {
        Box::pin(self.client.list_page(cursor))
    }

    fn list_changed_page<'a>(
        &'a self,
        since: DateTime<Utc>,
        cursor: Option<&'a Value>,
    ) -> Option<ApiFuture<'a, Page>> {
        Some(Box::pin(self.client.list_changed_page(since, cursor)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    fn connection(secret: &str) -> Provider {
        registry::configure(
            "okta",
            "test",
            [
                ("org_url", "https://dev-123456.okta.com"),
                ("api_token", "00abc"),
                ("event_hook_secret", secret),
            ],
        )
        .unwrap()
    }

    #[test]
    fn deliveries_need_the_configured_authorization() {
        let okta = connection("hook-secret-1");
        let body = br#"{"data": {"events": [{"uuid": "e1", "eventType": "user.lifecycle.create", "target": [{"id": "00u1", "type": "User"}]}]}}"#;
        let mut headers = HeaderMap::new();
        let push = |h: &HeaderMap| {
            okta.receive(&PushRequest {
                headers: h,
                body,
                now: 0,
            })
        };
        assert!(matches!(push(&headers), Err(PushError::Unauthorized(_))));
        headers.insert("authorization", "hook-secret-2".parse().unwrap());
        assert!(matches!(push(&headers), Err(PushError::Unauthorized(_))));
        headers.insert("authorization", "hook-secret-1".parse().unwrap());
        let events = push(&headers).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, "e1");
    }

    #[test]
    fn the_verification_challenge_is_echoed() {
        let okta = connection("s");
        let mut headers = HeaderMap::new();
        headers.insert(CHALLENGE_HEADER, "X1UoasMA-ko4ACqgstRtvN".parse().unwrap());
        assert_eq!(
            okta.challenge(&headers).unwrap().unwrap(),
            json!({"verification": "X1UoasMA-ko4ACqgstRtvN"})
        );
        assert!(okta.challenge(&HeaderMap::new()).unwrap().is_err());
    }

    #[test]
    fn org_url_must_be_https_except_on_loopback() {
        for (url, ok) in [
            ("https://dev-1.okta.com", true),
            ("http://127.0.0.1:9000", true),
            ("http://localhost:9000", true),
            ("http://dev-1.okta.com", false),
            ("dev-1.okta.com", false),
        ] {
            let result = registry::configure(
                "okta",
                "c",
                [
                    ("org_url", url),
                    ("api_token", "t"),
                    ("event_hook_secret", "s"),
                ],
            );
            assert_eq!(result.is_ok(), ok, "{url}");
        }
    }
}
