//! Provider adapters: bytes in, [`Change`](idsync_core::Change)s out.
//!
//! - [`svix`]: signature verification shared by Stack Auth and Clerk.
//! - [`ProviderApi`]: what idsync asks of a provider; [`stack_auth`] and
//!   [`clerk`] implement it (decode webhook events and user objects, list
//!   and manage users through the provider's API), and [`Provider`] holds
//!   the configured one.
//! - `http_client`: rate-limit and retry handling common to list APIs.
//!
//! Adapters know nothing of SQL; the applier knows nothing of providers.

pub mod clerk;
mod http_client;
pub mod manage;
mod provider;
pub mod stack_auth;
pub mod svix;

pub use http_client::{ApiError, RetryPolicy};
pub use provider::{
    DecodeError, Decoded, Page, Provider, ProviderApi, ProviderKind, UnknownProvider,
};
