//! Provider adapters: bytes in, [`Change`](idsync_core::Change)s out.
//!
//! - [`provider`]: the one interface. A provider module offers a
//!   [`ProviderDef`] (its description and its configuration keys) whose
//!   `configure` gives a [`Provider`]: a [`Connector`] that verifies and
//!   decodes pushes and lists, reads and manages users through the API.
//! - [`registry`]: every provider, found by name. Nothing outside the
//!   provider modules and the registry names a provider.
//! - [`push`]: what a verified push means: events that apply a change,
//!   name a user to fetch again, or are ignored.
//! - [`served`]: the seam for a provider that serves an API the identity
//!   provider writes to (SCIM), over a store the server implements.
//! - [`svix`] and [`verify`]: the verification schemes providers share.
//! - `http_client`: rate-limit and retry handling common to API clients.
//!
//! Adapters know nothing of SQL; the applier knows nothing of providers.

pub mod clerk;
mod decode;
mod http_client;
pub mod keys;
pub mod manage;
pub mod okta;
pub mod provider;
pub mod push;
pub mod registry;
pub mod scim;
pub mod served;
pub mod stack_auth;
pub mod svix;
pub mod verify;

pub use decode::DecodeError;
pub use http_client::{ApiError, RetryPolicy};
pub use keys::Keys;
pub use provider::{
    AppRequest, AppSetting, Connected, Connector, KeyInfo, Page, Provider, ProviderDef,
    ProviderInfo, SignInApp,
};
pub use push::{Effect, PushError, PushEvent, PushRequest};
pub use registry::UnknownProvider;
