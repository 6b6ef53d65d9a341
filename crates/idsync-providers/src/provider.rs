//! The one interface between idsync and its providers.
//!
//! A provider module offers a static [`ProviderDef`]: its description for
//! people ([`ProviderInfo`]) and a constructor that reads its configuration
//! keys into a configured connection, a [`Connector`]. The rest of idsync
//! holds connectors as a [`Provider`] and names no provider.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use idsync_core::{Change, Version};
use serde_json::Value;

use crate::keys::Keys;
use crate::manage::{NewUser, UserUpdate};
use crate::push::{PushError, PushEvent, PushRequest};
use crate::served::ServedApi;
use crate::{ApiError, DecodeError};

/// A provider call in flight. Boxed so that [`Connector`] can be a trait
/// object; one allocation per HTTP request is noise.
pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// What people are told about a provider: the console and `idsync
/// providers` show it, and `idsync connect` prints the setup steps.
#[derive(Debug)]
pub struct ProviderInfo {
    /// The `provider` value in the configuration, e.g. `stack_auth`.
    pub name: &'static str,
    /// Other spellings accepted in the configuration.
    pub aliases: &'static [&'static str],
    /// e.g. "Stack Auth".
    pub display_name: &'static str,
    /// The provider's documentation of what idsync uses.
    pub docs_url: &'static str,
    /// Where its admins configure it, e.g. "Stack Auth dashboard".
    pub console_name: &'static str,
    pub console_url: &'static str,
    /// Steps in the provider's console that point its pushes at idsync;
    /// `{url}` stands for the connection's push URL.
    pub push_setup: &'static [&'static str],
    /// Its configuration keys, for documentation and error messages.
    pub keys: &'static [KeyInfo],
}

/// One configuration key of a provider.
#[derive(Debug)]
pub struct KeyInfo {
    pub name: &'static str,
    /// Also accepted as `<name>_file`; never shown or logged.
    pub secret: bool,
    /// `None`: required.
    pub default: Option<&'static str>,
    pub help: &'static str,
}

impl ProviderInfo {
    /// The setup steps with the connection's push URL filled in.
    pub fn push_steps(&self, push_url: &str) -> Vec<String> {
        self.push_setup
            .iter()
            .map(|s| s.replace("{url}", push_url))
            .collect()
    }

    /// Whether `name` is this provider's configuration name or an alias.
    pub fn is_named(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Where pushes arrive unless a provider serves an API of its own.
pub const WEBHOOK_PATH: &str = "/webhooks/{connection}";

/// A provider idsync can sync from. One static value per provider module,
/// listed in the [registry](crate::registry).
pub trait ProviderDef: Sync {
    fn info(&self) -> &'static ProviderInfo;

    /// Reads and checks this provider's keys. Problems are reported through
    /// `keys` (all of them, not only the first); `None` when there were any.
    fn configure(&self, keys: &mut Keys<'_>) -> Option<Provider>;

    /// Where, after the public URL, the provider reaches a connection
    /// (`{connection}` stands for its name): its webhook, or the API it
    /// serves.
    fn push_path(&self) -> &'static str {
        WEBHOOK_PATH
    }
}

/// A configured connection to a provider: how its pushes are verified and
/// decoded, and its API.
pub trait Connector: Send + Sync + fmt::Debug {
    fn info(&self) -> &'static ProviderInfo;

    /// Verifies and decodes one push request. Nothing may be written before
    /// this returns `Ok`.
    fn receive(&self, push: &PushRequest<'_>) -> Result<Vec<PushEvent>, PushError>;

    /// Answers a verification `GET` of the push URL (Okta's one-time
    /// challenge); `None` when the provider sends none.
    fn challenge(&self, _headers: &HeaderMap) -> Option<Result<Value, PushError>> {
        None
    }

    /// The upsert for a user object read through the API (listed or got by
    /// id), versioned by the object's own update time or, lacking one, by
    /// `asked`: a time taken before the request was sent, so never later
    /// than the state the provider answered with.
    fn read_change(&self, user: Value, asked: Version) -> Result<Change, DecodeError>;

    /// Fetches the page at `cursor` (`None` = the first page).
    fn list_page<'a>(&'a self, cursor: Option<&'a Value>) -> ApiFuture<'a, Page>;

    /// For offset paging: the cursor `pages` pages after `cursor` (`None`
    /// = the first page), known without a request, so that several pages
    /// can be fetched at once. `None` for cursor paging.
    fn cursor_ahead(&self, _cursor: Option<&Value>, _pages: u64) -> Option<Value> {
        None
    }

    /// The provider's documented limit on API requests: at most `.0`
    /// requests per `.1`, if it has one.
    fn request_limit(&self) -> Option<(u32, std::time::Duration)> {
        None
    }

    /// Fetches a page of the users changed after `since`, deactivated ones
    /// included (as deletes), paged like [`list_page`](Self::list_page);
    /// `None` when the provider cannot list by change time. Users deleted
    /// outright are not in it: only a full listing finds them.
    fn list_changed_page<'a>(
        &'a self,
        _since: DateTime<Utc>,
        _cursor: Option<&'a Value>,
    ) -> Option<ApiFuture<'a, Page>> {
        None
    }

    /// The number of users, when the provider can tell it cheaply.
    fn total_users(&self) -> ApiFuture<'_, Option<u64>> {
        Box::pin(async { Ok(None) })
    }

    /// Points the provider's pushes at `push_url` through its API (or,
    /// with `dry_run`, says what that would do); `None` when its API cannot,
    /// and people follow [`ProviderInfo::push_setup`] instead.
    fn connect<'a>(
        &'a self,
        _push_url: &'a str,
        _dry_run: bool,
    ) -> Option<ApiFuture<'a, Connected>> {
        None
    }

    /// Creates, or brings up to date, the app integration an application
    /// at `request.app_url` signs its users in with (or, with `dry_run`,
    /// says what that would do); `None` when the provider's API cannot.
    fn create_app<'a>(
        &'a self,
        _request: &'a AppRequest,
        _dry_run: bool,
    ) -> Option<ApiFuture<'a, SignInApp>> {
        None
    }

    /// Reads one user; `None` when the provider says it has no such user.
    fn get_user<'a>(&'a self, id: &'a str) -> ApiFuture<'a, Option<Value>>;

    /// Creates a user; returns the provider's user object.
    fn create_user<'a>(&'a self, user: &'a NewUser) -> ApiFuture<'a, Value>;

    /// Changes a user's name or email; returns the provider's user object.
    fn update_user<'a>(&'a self, id: &'a str, update: &'a UserUpdate) -> ApiFuture<'a, Value>;

    fn delete_user<'a>(&'a self, id: &'a str) -> ApiFuture<'a, ()>;

    /// The API this provider serves, which its identity provider writes to
    /// (SCIM); `None` for providers that only push and are read.
    fn served(&self) -> Option<&dyn ServedApi> {
        None
    }

    /// Whether idsync reads users through the provider's API: backfill,
    /// reconcile and refreshes. `false` when the provider writes
    /// everything itself (SCIM) and `list_page`/`get_user` are
    /// `Unsupported`.
    fn pulls(&self) -> bool {
        true
    }

    /// Whether idsync may create, update and delete users through the
    /// provider's API (the admin API and the console).
    fn manages_users(&self) -> bool {
        true
    }
}

/// What `connect` did, or would do, at the provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Connected {
    /// Each change made (or, in a dry run, to make), in order; empty when
    /// everything was already in place.
    pub actions: Vec<String>,
    /// The push endpoint's state at the provider afterwards, e.g.
    /// "ACTIVE, VERIFIED".
    pub state: String,
}

/// The sign-in app `idsync create-app` asks a provider for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRequest {
    /// The application's base URL, without a trailing slash; its sign-in
    /// callback is `{app_url}/api/auth/callback/{provider}` and signing out
    /// returns to it.
    pub app_url: String,
    /// The app's name at the provider, by which a rerun finds it again.
    pub label: String,
    /// Only the members of this group may sign in; `None`: everyone.
    pub group: Option<String>,
}

/// What `create_app` did, or would do, at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInApp {
    /// Each change made (or, in a dry run, to make), in order; empty when
    /// everything was already in place.
    pub actions: Vec<String>,
    /// The app's state at the provider afterwards, e.g. "app 0oa… ACTIVE,
    /// assigned to Everyone".
    pub state: String,
    /// The environment the application signs in with (the login layer's
    /// `AUTH_*` variables); only what exists (a dry run before the app is
    /// created has none, and never a secret).
    pub settings: Vec<AppSetting>,
}

/// One environment variable of a [`SignInApp`].
#[derive(Clone, PartialEq, Eq)]
pub struct AppSetting {
    pub name: &'static str,
    pub value: String,
    /// The value is a secret: printed as the command's output, never logged.
    pub secret: bool,
}

impl fmt::Debug for AppSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.secret {
            "[redacted]"
        } else {
            &self.value
        };
        write!(f, "{}={value}", self.name)
    }
}

/// One page of a provider's user list.
#[derive(Debug, Clone)]
pub struct Page {
    pub changes: Vec<Change>,
    /// Opaque cursor of the next page, persisted so a backfill can resume;
    /// `None` on the last page.
    pub next: Option<Value>,
}

/// A configured provider connection; cheap to clone.
#[derive(Debug, Clone)]
pub struct Provider(Arc<dyn Connector>);

impl Provider {
    pub fn new(connector: impl Connector + 'static) -> Self {
        Self(Arc::new(connector))
    }

    pub fn info(&self) -> &'static ProviderInfo {
        self.0.info()
    }

    pub fn receive(&self, push: &PushRequest<'_>) -> Result<Vec<PushEvent>, PushError> {
        self.0.receive(push)
    }

    pub fn challenge(&self, headers: &HeaderMap) -> Option<Result<Value, PushError>> {
        self.0.challenge(headers)
    }

    pub fn read_change(&self, user: Value, asked: Version) -> Result<Change, DecodeError> {
        self.0.read_change(user, asked)
    }

    pub async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
        self.0.list_page(cursor).await
    }

    /// See [`Connector::cursor_ahead`].
    pub fn cursor_ahead(&self, cursor: Option<&Value>, pages: u64) -> Option<Value> {
        self.0.cursor_ahead(cursor, pages)
    }

    /// See [`Connector::request_limit`].
    pub fn request_limit(&self) -> Option<(u32, std::time::Duration)> {
        self.0.request_limit()
    }

    /// Whether [`list_changed_page`](Self::list_changed_page) works.
    pub fn lists_changes(&self) -> bool {
        // The call only builds a future; it is dropped unpolled.
        self.0
            .list_changed_page(DateTime::UNIX_EPOCH, None)
            .is_some()
    }

    /// See [`Connector::list_changed_page`]; `Unsupported` when the
    /// provider cannot.
    pub async fn list_changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&Value>,
    ) -> Result<Page, ApiError> {
        match self.0.list_changed_page(since, cursor) {
            Some(call) => call.await,
            None => Err(ApiError::Unsupported(
                "this provider cannot list the users changed since a time",
            )),
        }
    }

    pub async fn total_users(&self) -> Result<Option<u64>, ApiError> {
        self.0.total_users().await
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        self.0.get_user(id).await
    }

    /// See [`Connector::connect`].
    pub async fn connect(
        &self,
        push_url: &str,
        dry_run: bool,
    ) -> Option<Result<Connected, ApiError>> {
        match self.0.connect(push_url, dry_run) {
            Some(call) => Some(call.await),
            None => None,
        }
    }

    /// Whether [`create_app`](Self::create_app) works.
    pub fn creates_apps(&self) -> bool {
        let probe = AppRequest {
            app_url: String::new(),
            label: String::new(),
            group: None,
        };
        // The call only builds a future; it is dropped unpolled.
        self.0.create_app(&probe, true).is_some()
    }

    /// See [`Connector::create_app`].
    pub async fn create_app(
        &self,
        request: &AppRequest,
        dry_run: bool,
    ) -> Option<Result<SignInApp, ApiError>> {
        match self.0.create_app(request, dry_run) {
            Some(call) => Some(call.await),
            None => None,
        }
    }

    /// The user's current state as a change, versioned as a listed user is;
    /// `None` when the provider says it has no such user.
    pub async fn current_change(&self, id: &str) -> Result<Option<Change>, ApiError> {
        let asked = Version::now();
        let Some(user) = self.get_user(id).await? else {
            return Ok(None);
        };
        self.read_change(user, asked)
            .map(Some)
            .map_err(ApiError::Decode)
    }

    /// Creates a user; returns the provider's user object. idsync never
    /// writes the table here: the change comes back through sync.
    pub async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
        self.0.create_user(user).await
    }

    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
        self.0.update_user(id, update).await
    }

    pub async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        self.0.delete_user(id).await
    }

    /// See [`Connector::served`].
    pub fn served(&self) -> Option<&dyn ServedApi> {
        self.0.served()
    }

    /// See [`Connector::pulls`].
    pub fn pulls(&self) -> bool {
        self.0.pulls()
    }

    /// See [`Connector::manages_users`].
    pub fn manages_users(&self) -> bool {
        self.0.manages_users()
    }
}
