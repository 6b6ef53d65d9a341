//! `idsync connect` for Okta: the event hook that points at idsync, created
//! or brought up to date through `/api/v1/eventHooks`, then verified and
//! activated. Idempotent: a hook for the same URI is reused, and a second
//! run changes nothing.

use idsync_core::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use super::api::Client;
use super::hook::USER_EVENT_TYPES;
use crate::provider::Connected;
use crate::{ApiError, http_client};

/// The hook's name in the Okta Admin Console.
const HOOK_NAME: &str = "idsync";

/// The hook idsync wants: its user events, delivered to `uri` with the
/// secret in `Authorization`.
fn definition(uri: &str, secret: &Secret) -> Value {
    json!({
        "name": HOOK_NAME,
        "events": { "type": "EVENT_TYPE", "items": USER_EVENT_TYPES },
        "channel": {
            "type": "HTTP",
            "version": "1.0.0",
            "config": {
                "uri": uri,
                "headers": [],
                "authScheme": { "type": "HEADER", "key": "Authorization", "value": secret.expose() },
            },
        },
    })
}

/// Whether an existing hook already matches what Okta shows of the wanted
/// one. Okta never returns the secret, so it cannot be compared.
fn matches(hook: &Value, uri: &str) -> bool {
    let mut events: Vec<&str> = hook["events"]["items"]
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    events.sort_unstable();
    let mut wanted = USER_EVENT_TYPES.to_vec();
    wanted.sort_unstable();
    hook["name"] == HOOK_NAME
        && hook["channel"]["config"]["uri"] == uri
        // Okta shows the header name lowercased.
        && hook["channel"]["config"]["authScheme"]["key"]
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case("authorization"))
        && events == wanted
}

impl Client {
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let resp = self.send(method, &self.url(path), body).await?;
        http_client::json(resp).await
    }

    pub(super) async fn connect_hook(
        &self,
        uri: &str,
        secret: &Secret,
        dry_run: bool,
    ) -> Result<Connected, ApiError> {
        let hooks = self.call(Method::GET, "/api/v1/eventHooks", None).await?;
        let existing = hooks
            .as_array()
            .ok_or_else(|| ApiError::Body("expected a JSON array of event hooks".to_owned()))?
            .iter()
            .find(|h| h["channel"]["config"]["uri"] == uri)
            .cloned();
        let mut actions = Vec::new();
        let mut hook = match existing {
            None => {
                actions.push(format!("create event hook {HOOK_NAME:?} for {uri}"));
                if dry_run {
                    return Ok(Connected {
                        actions: {
                            actions.push("verify the new event hook".to_owned());
                            actions.push("activate the new event hook".to_owned());
                            actions
                        },
                        state: "absent".to_owned(),
                    });
                }
                self.call(
                    Method::POST,
                    "/api/v1/eventHooks",
                    Some(&definition(uri, secret)),
                )
                .await?
            }
            Some(hook) if matches(&hook, uri) => hook,
            Some(hook) => {
                let id = hook_id(&hook)?;
                actions.push(format!("update event hook {id} (events, name or header)"));
                if dry_run {
                    hook
                } else {
                    self.call(
                        Method::PUT,
                        &format!("/api/v1/eventHooks/{id}"),
                        Some(&definition(uri, secret)),
                    )
                    .await?
                }
            }
        };
        let id = hook_id(&hook)?;
        if hook["verificationStatus"] != "VERIFIED" {
            actions.push(format!("verify event hook {id} (Okta calls {uri})"));
            if !dry_run {
                hook = self
                    .call(
                        Method::POST,
                        &format!("/api/v1/eventHooks/{id}/lifecycle/verify"),
                        None,
                    )
                    .await?;
            }
        }
        if hook["status"] != "ACTIVE" {
            actions.push(format!("activate event hook {id}"));
            if !dry_run {
                hook = self
                    .call(
                        Method::POST,
                        &format!("/api/v1/eventHooks/{id}/lifecycle/activate"),
                        None,
                    )
                    .await?;
            }
        }
        Ok(Connected {
            actions,
            state: format!(
                "event hook {id}: {}, {}",
                hook["status"].as_str().unwrap_or("?"),
                hook["verificationStatus"].as_str().unwrap_or("?")
            ),
        })
    }
}

fn hook_id(hook: &Value) -> Result<String, ApiError> {
    hook["id"]
        .as_str()
        .filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Body("an event hook without a usable id".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_matches_by_what_okta_shows() {
        let secret = Secret::new("s");
        let mut shown = definition("https://idsync.example.com/webhooks/okta", &secret);
        // Okta answers without the secret.
        shown["channel"]["config"]["authScheme"]
            .as_object_mut()
            .unwrap()
            .remove("value");
        assert!(matches(&shown, "https://idsync.example.com/webhooks/okta"));
        shown["channel"]["config"]["authScheme"]["key"] = json!("authorization");
        assert!(matches(&shown, "https://idsync.example.com/webhooks/okta"));
        assert!(!matches(&shown, "https://other.example.com/webhooks/okta"));
        shown["events"]["items"] = json!(["user.lifecycle.create"]);
        assert!(!matches(&shown, "https://idsync.example.com/webhooks/okta"));
    }
}
