//! The OpenID Connect clients the org authorization server signs users in
//! for: what the issuer needs to know of an OIDC app integration.
//!
//! [`lookup`] is the one place the issuer asks for a client: the clients
//! registered with [`Emulator::register_oidc_client`], else the OIDC app
//! integrations created through the emulator's Apps API (`idsync
//! create-app`), as `okta::apps` shows them.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::Emulator;
use crate::emulator::Core;

/// Where registered clients are kept among the org's resources.
const KIND: &str = "oidcClients";

/// How a client authenticates at the token endpoint (the app's
/// `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAuthMethod {
    /// `Authorization: Basic` with the client id and secret (Okta's default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl TokenAuthMethod {
    fn name(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::ClientSecretBasic, Self::ClientSecretPost]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// Who may sign in to the app: Okta signs in only users assigned to it,
/// directly or through a group (`--group` of `idsync create-app`), or
/// everyone when the app is assigned to the Everyone group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    Everyone,
    Users(BTreeSet<String>),
}

/// An OIDC web app integration: authorization code grant, a client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub token_auth_method: TokenAuthMethod,
    /// Sign-in redirect URIs, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Sign-out redirect URIs, compared exactly.
    pub post_logout_redirect_uris: Vec<String>,
    pub assignment: Assignment,
}

impl OidcClient {
    /// Whether the user with this id is assigned to the app.
    pub fn is_assigned(&self, user_id: &str) -> bool {
        match &self.assignment {
            Assignment::Everyone => true,
            Assignment::Users(ids) => ids.contains(user_id),
        }
    }

    fn to_json(&self) -> Value {
        let assigned = match &self.assignment {
            Assignment::Everyone => Value::Null,
            Assignment::Users(ids) => json!(ids),
        };
        json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "token_endpoint_auth_method": self.token_auth_method.name(),
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "assigned_users": assigned,
        })
    }

    fn from_json(value: &Value) -> Option<Self> {
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        let list = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let assignment = match value["assigned_users"] {
            Value::Null => Assignment::Everyone,
            _ => Assignment::Users(list("assigned_users").into_iter().collect()),
        };
        Some(Self {
            client_id: text("client_id")?,
            client_secret: text("client_secret")?,
            token_auth_method: TokenAuthMethod::parse(
                value["token_endpoint_auth_method"].as_str()?,
            )?,
            redirect_uris: list("redirect_uris"),
            post_logout_redirect_uris: list("post_logout_redirect_uris"),
            assignment,
        })
    }
}

/// The client with this id, if the org has one.
pub(crate) fn lookup(core: &Core, client_id: &str) -> Option<OidcClient> {
    let registered = {
        let resources = core
            .resources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        resources
            .get(KIND)
            .and_then(|clients| clients.iter().find(|c| c["client_id"] == client_id))
            .and_then(OidcClient::from_json)
    };
    registered.or_else(|| super::super::apps::issuer_client(core, client_id))
}

impl Emulator {
    /// Test-facing: registers (or replaces, by client id) an OIDC client
    /// with the Okta emulator's org authorization server, as creating and
    /// assigning an OIDC app integration in the admin console would.
    pub fn register_oidc_client(&self, client: OidcClient) {
        let mut resources = self
            .core()
            .resources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let clients = resources.entry(KIND).or_default();
        clients.retain(|c| c["client_id"] != client.client_id.as_str());
        clients.push(client.to_json());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_survives_its_storage_and_knows_its_users() {
        let client = OidcClient {
            client_id: "0oa1".into(),
            client_secret: "secret".into(),
            token_auth_method: TokenAuthMethod::ClientSecretPost,
            redirect_uris: vec!["http://localhost:3000/api/auth/callback/okta".into()],
            post_logout_redirect_uris: vec!["http://localhost:3000".into()],
            assignment: Assignment::Users(["00u1".to_owned()].into()),
        };
        assert_eq!(
            OidcClient::from_json(&client.to_json()),
            Some(client.clone())
        );
        assert!(client.is_assigned("00u1"));
        assert!(!client.is_assigned("00u2"));
        let everyone = OidcClient {
            assignment: Assignment::Everyone,
            ..client
        };
        assert_eq!(
            OidcClient::from_json(&everyone.to_json()),
            Some(everyone.clone())
        );
        assert!(everyone.is_assigned("00u2"));
    }
}
