//! SCIM 2.0 (RFC 7643/7644): the identity provider (Entra ID, Okta,
//! OneLogin, any SCIM client) writes users and groups to idsync at
//! `/scim/{connection}/v2/`. idsync is the server and the tables are the
//! store; there is no API to read from, so no backfill or reconcile.
//!
//! - `handler`: routing, the bearer token, each operation;
//! - `resource`: what is stored and answered; `patch`, `path`,
//!   `projection`: PATCH, filters and attribute paths, `attributes`;
//! - `schema` and `discovery`: what is served, and its announcement.

mod discovery;
mod error;
mod handler;
mod patch;
mod path;
mod projection;
mod resource;
mod response;
pub mod schema;

use std::pin::Pin;

use http::{HeaderMap, StatusCode};
use idsync_core::{Change, Secret, SqlIdent, Version};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use error::ScimError;
pub use resource::IdSource;

use crate::keys::Keys;
use crate::manage::{NewUser, UserUpdate};
use crate::provider::{ApiFuture, Connector, KeyInfo, Page, ProviderDef, ProviderInfo};
use crate::push::{PushError, PushEvent, PushRequest};
use crate::served::{ResourceStore, ServedApi, ServedRequest, ServedResponse, ServedTables};
use crate::{ApiError, DecodeError, Provider};

/// The registry's entry for SCIM.
pub static SCIM: Scim = Scim;

pub const DEFAULT_GROUPS_TABLE: &str = "groups_sync";
pub const DEFAULT_MEMBERS_TABLE: &str = "group_members_sync";

static INFO: ProviderInfo = ProviderInfo {
    name: "scim",
    aliases: &["scim2"],
    display_name: "SCIM 2.0",
    docs_url: "https://datatracker.ietf.org/doc/html/rfc7644",
    console_name: "identity provider's admin console",
    console_url: "https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups",
    push_setup: &[
        "SCIM base URL (tenant URL): {url}; the token is this connection's bearer_token.",
        "Entra ID: Enterprise applications → New application → Create your own application (non-gallery) → Provisioning → Automatic. Tenant URL: {url}?aadOptscim062020, Secret token: the bearer_token. Test Connection, then under Mappings map objectId to externalId for users (so the table id is the oid claim) and for groups, and start provisioning.",
        "Okta: create an app integration with SCIM provisioning (or enable SCIM on an existing one) → Provisioning → Integration. SCIM connector base URL: {url}, Unique identifier field for users: userName, Supported provisioning actions: Push New Users, Push Profile Updates, Push Groups, Authentication Mode: HTTP Header (Bearer) with the bearer_token. Then To App: enable Create Users, Update User Attributes, Deactivate Users. Okta sends its user id as externalId.",
        "OneLogin: Applications → Add App → SCIM Provisioner with SAML (SCIM v2 Enterprise). Configuration: SCIM Base URL {url}, SCIM Bearer Token: the bearer_token, and add \"externalId\": \"{$user.id}\" to the SCIM JSON Template (so the table id is the OneLogin user id); Provisioning: enable provisioning.",
    ],
    keys: &[
        KeyInfo {
            name: "bearer_token",
            secret: true,
            default: None,
            help: "the token the identity provider sends as Authorization: Bearer <token> (make it long and random)",
        },
        KeyInfo {
            name: "id_source",
            secret: false,
            default: Some("external_id"),
            help: "what becomes the table id: external_id (externalId when sent, else an id idsync assigns), user_name, or id (always assigned by idsync)",
        },
        KeyInfo {
            name: "groups_table",
            secret: false,
            default: Some(DEFAULT_GROUPS_TABLE),
            help: "the groups table, in the connection's schema",
        },
        KeyInfo {
            name: "members_table",
            secret: false,
            default: Some(DEFAULT_MEMBERS_TABLE),
            help: "the group memberships table, in the connection's schema",
        },
    ],
};

/// SCIM 2.0 as a provider idsync can configure.
#[derive(Debug)]
pub struct Scim;

impl ProviderDef for Scim {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    /// The server routes `/scim/{connection}/v2/…` to served APIs.
    fn push_path(&self) -> &'static str {
        "/scim/{connection}/v2"
    }

    fn configure(&self, keys: &mut Keys<'_>) -> Option<Provider> {
        let token = keys.secret("bearer_token");
        let id_source = match keys.optional("id_source") {
            None => Some(IdSource::ExternalId),
            Some(raw) => IdSource::parse(&raw).or_else(|| {
                keys.problem(
                    "id_source",
                    format!("{raw:?} is not one of external_id, user_name, id"),
                );
                None
            }),
        };
        let mut table = |key: &str, default: &str| {
            let raw = keys.optional(key).unwrap_or_else(|| default.to_owned());
            SqlIdent::parse(&raw).map_err(|e| keys.problem(key, e)).ok()
        };
        let groups = table("groups_table", DEFAULT_GROUPS_TABLE);
        let members = table("members_table", DEFAULT_MEMBERS_TABLE);
        if let (Some(g), Some(m)) = (&groups, &members)
            && g == m
        {
            keys.problem("members_table", "must differ from groups_table");
            return None;
        }
        Some(Provider::new(Connection {
            token: BearerToken::new(&token?),
            id_source: id_source?,
            groups: groups?,
            members: members?,
        }))
    }
}

/// A configured SCIM endpoint.
#[derive(Debug)]
pub struct Connection {
    token: BearerToken,
    id_source: IdSource,
    groups: SqlIdent,
    members: SqlIdent,
}

/// `Authorization: Bearer <token>`, compared as SHA-256 digests in
/// constant time, so neither content nor length leaks.
#[derive(Debug)]
struct BearerToken([u8; 32]);

impl BearerToken {
    fn new(token: &Secret) -> Self {
        Self(Sha256::digest(token.expose().as_bytes()).into())
    }

    fn verify(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let Some((scheme, token)) = value
            .iter()
            .position(|b| *b == b' ')
            .map(|i| (&value[..i], &value[i + 1..]))
        else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(token.trim_ascii()).into();
        bool::from(digest.ct_eq(&self.0))
    }
}

impl ServedApi for Connection {
    fn tables(&self) -> ServedTables<'_> {
        ServedTables {
            groups: &self.groups,
            members: &self.members,
        }
    }

    fn handle<'a>(
        &'a self,
        request: ServedRequest<'a>,
        store: &'a dyn ResourceStore,
    ) -> Pin<Box<dyn Future<Output = ServedResponse> + Send + 'a>> {
        Box::pin(handler::handle(self, request, store))
    }

    fn refuse(&self, status: StatusCode, detail: &str) -> ServedResponse {
        ScimError::new(status, None, detail).response()
    }
}

const NO_PULL: &str =
    "SCIM connections have no API to read: the identity provider writes to idsync";

impl Connector for Connection {
    fn info(&self) -> &'static ProviderInfo {
        &INFO
    }

    fn receive(&self, _push: &PushRequest<'_>) -> Result<Vec<PushEvent>, PushError> {
        Err(PushError::Malformed(DecodeError::Invalid(
            "SCIM connections take no webhooks; the identity provider writes to /scim/{connection}/v2".to_owned(),
        )))
    }

    fn read_change(&self, _user: Value, _asked: Version) -> Result<Change, DecodeError> {
        Err(DecodeError::Invalid(NO_PULL.to_owned()))
    }

    fn list_page<'a>(&'a self, _cursor: Option<&'a Value>) -> ApiFuture<'a, Page> {
        Box::pin(async { Err(ApiError::Unsupported(NO_PULL)) })
    }

    fn get_user<'a>(&'a self, _id: &'a str) -> ApiFuture<'a, Option<Value>> {
        Box::pin(async { Err(ApiError::Unsupported(NO_PULL)) })
    }

    fn create_user<'a>(&'a self, _user: &'a NewUser) -> ApiFuture<'a, Value> {
        Box::pin(async { Err(ApiError::Unsupported(NO_PULL)) })
    }

    fn update_user<'a>(&'a self, _id: &'a str, _update: &'a UserUpdate) -> ApiFuture<'a, Value> {
        Box::pin(async { Err(ApiError::Unsupported(NO_PULL)) })
    }

    fn delete_user<'a>(&'a self, _id: &'a str) -> ApiFuture<'a, ()> {
        Box::pin(async { Err(ApiError::Unsupported(NO_PULL)) })
    }

    fn served(&self) -> Option<&dyn ServedApi> {
        Some(self)
    }

    fn pulls(&self) -> bool {
        false
    }

    fn manages_users(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn the_bearer_token_must_match_exactly() {
        let token = BearerToken::new(&Secret::new("s3cret-token"));
        let mut headers = HeaderMap::new();
        assert!(!token.verify(&headers));
        for wrong in [
            "Bearer s3cret-toke",
            "Basic s3cret-token",
            "s3cret-token",
            "Bearer ",
            "Bearer S3CRET-TOKEN",
        ] {
            headers.insert("authorization", wrong.parse().unwrap());
            assert!(!token.verify(&headers), "{wrong}");
        }
        for right in ["Bearer s3cret-token", "bearer s3cret-token"] {
            headers.insert("authorization", right.parse().unwrap());
            assert!(token.verify(&headers), "{right}");
        }
    }

    #[test]
    fn keys_and_defaults() {
        let p = registry::configure("scim", "c", [("bearer_token", "t")]).unwrap();
        let served = p.served().unwrap();
        assert_eq!(served.tables().groups.as_str(), "groups_sync");
        assert_eq!(served.tables().members.as_str(), "group_members_sync");
        assert!(!p.pulls() && !p.manages_users());
        let Err(registry::ConfigureError::Invalid(problems)) = registry::configure(
            "scim",
            "c",
            [("id_source", "email"), ("groups_table", "Bad-Name")],
        ) else {
            panic!("accepted")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].starts_with("c.bearer_token: missing"),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("c.id_source: \"email\""))
        );
        assert!(problems.iter().any(|p| p.starts_with("c.groups_table:")));
    }
}
