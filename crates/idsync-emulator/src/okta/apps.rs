//! The org's OpenID Connect app integrations as its sign-in (the OIDC
//! issuer) sees them: look a client up by `client_id`, check its secret,
//! and ask whether a user may sign in to it.
//!
//! A user may sign in to an app when the app is `ACTIVE` and assigned to
//! `Everyone` or to a group the user is a member of (Okta's "assigned to
//! app" check). The user's own status (only `ACTIVE` users sign in) is the
//! issuer's to check.
//!
//! Both take the org's resources lock, and may take the users' lock
//! (`Core::lock`) to seed the groups: call them without holding either.

use serde_json::Value;
use subtle::ConstantTimeEq;

use super::directory::{APP_GROUPS, APP_SECRETS, APPS, GROUP_USERS, directory};
use super::oidc::{Assignment, OidcClient, TokenAuthMethod};
use crate::emulator::{Core, Emulator};

/// An `oidc_client` app integration, as registered through
/// `/api/v1/apps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcApp {
    /// The app's id (`0oa…`).
    pub app_id: String,
    pub client_id: String,
    pub label: String,
    /// The app's `status` is `ACTIVE`.
    pub active: bool,
    /// `credentials.oauthClient.token_endpoint_auth_method`:
    /// `client_secret_basic`, `client_secret_post`, `none`, …
    pub token_endpoint_auth_method: String,
    pub pkce_required: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// The client's `ACTIVE` secrets, oldest first (Okta keeps up to two
    /// while one is rotated); empty for a public client.
    secrets: Vec<String>,
    /// The groups the app is assigned to.
    groups: Vec<String>,
}

impl OidcApp {
    /// Whether `given` is one of the client's active secrets (constant
    /// time).
    pub fn secret_matches(&self, given: &str) -> bool {
        self.secrets.iter().fold(false, |any, s| {
            any | bool::from(s.as_bytes().ct_eq(given.as_bytes()))
        })
    }

    /// Whether the app is active and assigned to `Everyone` (and the user
    /// exists) or to a group `user_id` is a member of.
    pub(crate) fn may_sign_in(&self, core: &Core, user_id: &str) -> bool {
        if !self.active {
            return false;
        }
        let exists = core.lock().store.get(user_id).is_some();
        let dir = directory(core);
        exists
            && self.groups.iter().any(|group| {
                dir.everyone_id() == Some(group.as_str()) || dir.is_stored_member(group, user_id)
            })
    }
}

/// The app whose `client_id` is `client_id` as the issuer signs users in
/// for it: only an active app whose client authenticates with its newest
/// secret (`client_secret_basic` or `client_secret_post`); assigned to
/// everyone when one of its groups is `Everyone`, else to the members of
/// its groups.
pub(crate) fn issuer_client(core: &Core, client_id: &str) -> Option<OidcClient> {
    let app = oidc_client(core, client_id)?;
    if !app.active {
        return None;
    }
    let token_auth_method = match app.token_endpoint_auth_method.as_str() {
        "client_secret_basic" => TokenAuthMethod::ClientSecretBasic,
        "client_secret_post" => TokenAuthMethod::ClientSecretPost,
        _ => return None,
    };
    let dir = directory(core);
    let everyone = dir.everyone_id();
    let assignment = if app.groups.iter().any(|g| Some(g.as_str()) == everyone) {
        Assignment::Everyone
    } else {
        Assignment::Users(
            dir.all(GROUP_USERS)
                .iter()
                .filter(|m| app.groups.iter().any(|g| m["groupId"] == g.as_str()))
                .filter_map(|m| m["userId"].as_str().map(str::to_owned))
                .collect(),
        )
    };
    Some(OidcClient {
        client_id: app.client_id,
        client_secret: app.secrets.last()?.clone(),
        token_auth_method,
        redirect_uris: app.redirect_uris,
        post_logout_redirect_uris: app.post_logout_redirect_uris,
        assignment,
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `oidc_client` app whose `client_id` is `client_id`, if any.
pub(crate) fn oidc_client(core: &Core, client_id: &str) -> Option<OidcApp> {
    let dir = directory(core);
    let app = dir.all(APPS).iter().find(|app| {
        app["name"] == "oidc_client" && app["credentials"]["oauthClient"]["client_id"] == client_id
    })?;
    let app_id = app["id"].as_str()?.to_owned();
    let oauth = &app["credentials"]["oauthClient"];
    let settings = &app["settings"]["oauthClient"];
    let secrets = dir
        .all(APP_SECRETS)
        .iter()
        .filter(|s| s["appId"] == app_id && s["secret"]["status"] == "ACTIVE")
        .filter_map(|s| s["secret"]["client_secret"].as_str().map(str::to_owned))
        .collect();
    let groups = dir
        .all(APP_GROUPS)
        .iter()
        .filter(|a| a["appId"] == app_id)
        .filter_map(|a| a["assignment"]["id"].as_str().map(str::to_owned))
        .collect();
    Some(OidcApp {
        client_id: client_id.to_owned(),
        label: app["label"].as_str().unwrap_or_default().to_owned(),
        active: app["status"] == "ACTIVE",
        token_endpoint_auth_method: oauth["token_endpoint_auth_method"]
            .as_str()
            .unwrap_or("client_secret_basic")
            .to_owned(),
        pkce_required: oauth["pkce_required"].as_bool().unwrap_or(true),
        redirect_uris: strings(&settings["redirect_uris"]),
        post_logout_redirect_uris: strings(&settings["post_logout_redirect_uris"]),
        grant_types: strings(&settings["grant_types"]),
        response_types: strings(&settings["response_types"]),
        secrets,
        groups,
        app_id,
    })
}

impl Emulator {
    /// An emulated Okta org's `oidc_client` app whose `client_id` is
    /// `client_id`; `None` for other providers.
    pub fn oidc_client(&self, client_id: &str) -> Option<OidcApp> {
        let core = self.core();
        (core.provider.name() == "okta")
            .then(|| oidc_client(core, client_id))
            .flatten()
    }

    /// Whether `user_id` may sign in to the app `client`: see
    /// [`OidcApp`].
    pub fn may_sign_in(&self, client: &OidcApp, user_id: &str) -> bool {
        client.may_sign_in(self.core(), user_id)
    }
}
