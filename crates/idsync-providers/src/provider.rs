use idsync_core::{Change, Secret, Version};
use serde_json::Value;

use crate::manage::{NewUser, UserUpdate};
use crate::svix::WebhookMeta;
use crate::{ApiError, RetryPolicy, clerk, stack_auth};

/// The providers idsync can sync from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    StackAuth,
    Clerk,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown provider {0:?}: expected one of stack_auth, clerk")]
pub struct UnknownProvider(pub String);

impl std::str::FromStr for ProviderKind {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stack_auth" | "stack-auth" => Ok(Self::StackAuth),
            "clerk" => Ok(Self::Clerk),
            other => Err(UnknownProvider(other.to_owned())),
        }
    }
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StackAuth => "stack_auth",
            Self::Clerk => "clerk",
        }
    }

    pub fn default_api_url(self) -> &'static str {
        match self {
            Self::StackAuth => stack_auth::DEFAULT_API_URL,
            Self::Clerk => clerk::DEFAULT_API_URL,
        }
    }

    /// Decodes a verified webhook body.
    pub fn decode_webhook(self, meta: &WebhookMeta, body: &[u8]) -> Result<Decoded, DecodeError> {
        match self {
            Self::StackAuth => stack_auth::Client::decode_webhook(meta, body),
            Self::Clerk => clerk::Client::decode_webhook(meta, body),
        }
    }

    /// The change for a user object read through the API (see
    /// [`ProviderApi::read_change`]).
    pub fn read_change(self, user: &Value, asked: Version) -> Result<Change, DecodeError> {
        match self {
            Self::StackAuth => stack_auth::Client::read_change(user, asked),
            Self::Clerk => clerk::Client::read_change(user, asked),
        }
    }
}

/// What idsync asks of a provider: decode its webhooks, list its users,
/// manage them. Each provider module implements it on its API client; a new
/// provider is one more module and one more [`Provider`] variant.
pub trait ProviderApi: Send + Sync {
    /// Decodes a webhook body whose signature has been verified.
    fn decode_webhook(meta: &WebhookMeta, body: &[u8]) -> Result<Decoded, DecodeError>
    where
        Self: Sized;

    /// The upsert for a user object read through the API (listed or got by
    /// id), versioned by the object's own update time or, lacking one, by
    /// `asked`: a time taken before the request was sent, so never later
    /// than the state the provider answered with.
    fn read_change(user: &Value, asked: Version) -> Result<Change, DecodeError>
    where
        Self: Sized;

    /// Fetches the page at `cursor` (`None` = the first page).
    fn list_page(
        &self,
        cursor: Option<&Value>,
    ) -> impl Future<Output = Result<Page, ApiError>> + Send;

    /// The number of users, when the provider can tell it cheaply.
    fn total_users(&self) -> impl Future<Output = Result<Option<u64>, ApiError>> + Send {
        async { Ok(None) }
    }

    /// Reads one user; `None` when the provider says it has no such user.
    fn get_user(&self, id: &str) -> impl Future<Output = Result<Option<Value>, ApiError>> + Send;

    /// Creates a user; returns the provider's user object.
    fn create_user(&self, user: &NewUser) -> impl Future<Output = Result<Value, ApiError>> + Send;

    /// Changes a user's name or email; returns the provider's user object.
    fn update_user(
        &self,
        id: &str,
        update: &UserUpdate,
    ) -> impl Future<Output = Result<Value, ApiError>> + Send;

    fn delete_user(&self, id: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// Calls the same [`ProviderApi`] method on whichever client `provider` holds.
macro_rules! each_client {
    ($provider:expr, $client:ident => $call:expr) => {
        match $provider {
            Provider::StackAuth($client) => $call,
            Provider::Clerk($client) => $call,
        }
    };
}

/// What a webhook body means for the users table.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Change {
        event_type: String,
        change: Change,
    },
    /// An event type idsync does not handle (teams, sessions, ...).
    Ignored {
        event_type: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("event has no type")]
    MissingType,
    #[error("event data has no user id")]
    MissingUserId,
    #[error("event data is not an object")]
    NotAnObject,
    #[error("event has no usable version timestamp")]
    MissingVersion,
}

/// One page of a provider's user list.
#[derive(Debug, Clone)]
pub struct Page {
    pub changes: Vec<Change>,
    /// Opaque cursor of the next page, persisted so a backfill can resume;
    /// `None` on the last page.
    pub next: Option<serde_json::Value>,
}

/// A configured provider API client.
#[derive(Debug, Clone)]
pub enum Provider {
    StackAuth(stack_auth::Client),
    Clerk(clerk::Client),
}

impl Provider {
    pub fn stack_auth(api_url: &str, project_id: &str, key: Secret, retry: RetryPolicy) -> Self {
        Self::StackAuth(stack_auth::Client::new(api_url, project_id, key, retry))
    }

    pub fn clerk(api_url: &str, key: Secret, retry: RetryPolicy) -> Self {
        Self::Clerk(clerk::Client::new(api_url, key, retry))
    }

    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::StackAuth(_) => ProviderKind::StackAuth,
            Self::Clerk(_) => ProviderKind::Clerk,
        }
    }

    /// Fetches the page at `cursor` (`None` = the first page).
    pub async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
        each_client!(self, c => c.list_page(cursor).await)
    }

    /// The number of users, when the provider can tell it cheaply.
    pub async fn total_users(&self) -> Result<Option<u64>, ApiError> {
        each_client!(self, c => c.total_users().await)
    }

    /// Reads one user; `None` when the provider says it has no such user.
    pub async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        each_client!(self, c => c.get_user(id).await)
    }

    /// The user's current state as a change, versioned as a listed user is;
    /// `None` when the provider says it has no such user.
    pub async fn current_change(&self, id: &str) -> Result<Option<Change>, ApiError> {
        let asked = Version::now();
        let Some(user) = self.get_user(id).await? else {
            return Ok(None);
        };
        self.kind()
            .read_change(&user, asked)
            .map(Some)
            .map_err(|e| ApiError::Body(e.to_string()))
    }

    /// Creates a user; returns the provider's user object. idsync never
    /// writes the table here: the change comes back through sync.
    pub async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
        each_client!(self, c => c.create_user(user).await)
    }

    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
        each_client!(self, c => c.update_user(id, update).await)
    }

    pub async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        each_client!(self, c => c.delete_user(id).await)
    }
}

/// Parses a webhook body into an object with a `type` and a `data` object.
pub(crate) fn envelope(body: &[u8]) -> Result<(String, serde_json::Value), DecodeError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let event_type = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or(DecodeError::MissingType)?
        .to_owned();
    Ok((event_type, value))
}

/// The `id` of a user object, validated.
pub(crate) fn user_id(data: &serde_json::Value) -> Result<idsync_core::UserId, DecodeError> {
    data.get("id")
        .and_then(|v| v.as_str())
        .and_then(idsync_core::UserId::parse)
        .ok_or(DecodeError::MissingUserId)
}

pub(crate) fn opt_str(data: &serde_json::Value, key: &str) -> Option<String> {
    data.get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
