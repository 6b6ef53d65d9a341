//! Faithful local stand-ins of identity providers' user APIs and of their
//! webhook senders, for tests, benchmarks and `idsync dev`.
//!
//! An [`Emulator`] serves the provider's list/read/create/update/delete
//! user routes with its auth headers, pagination, errors and rate limits
//! (see `docs/providers.md`), and records a ready-to-send [`WebhookEvent`]
//! for every change. Tests drive changes directly ([`Emulator::create_user`],
//! [`Emulator::random_change`], ...) and deliver events with a
//! [`WebhookSender`] ([`Emulator::sender`] delivers the provider's way:
//! Svix-signed, or batched Okta event hooks), in order or shuffled with
//! duplicates as the senders may. A provider whose push endpoints are
//! registered through its own API (Okta's event hooks) also delivers every
//! event to the registered endpoints that take it, by itself (see
//! [`Emulator::registers_endpoints`]). [`Emulator::set_unavailable`] takes
//! the API down.
//!
//! All provider timestamps come from the emulator's clock (real time plus
//! an adjustable offset, see [`Emulator::advance_clock`]); webhook
//! signatures use real time, as Svix signs each attempt when it is made.
//!
//! Each provider is one folder (its routes, user objects, errors and
//! webhook payloads, and what its backend does that is worth knowing);
//! [`ProviderKind`] lists them. Rate limits are a fixed window in real
//! time over every route; a 429 carries `Retry-After` in whole seconds (at
//! least 1).

// Providers' user objects are large `json!` literals.
#![recursion_limit = "256"]

mod clerk;
mod config;
mod emulator;
mod hook_delivery;
pub mod ksuid;
mod okta;
mod provider;
mod rate_limit;
mod registry;
mod request;
mod seed;
mod stack_auth;
mod state;
mod uuid;
mod webhooks;

pub use config::{EmulatorConfig, RateLimit};
pub use emulator::{Emulator, UserChange};
pub use okta::apps::OidcApp;
pub use okta::oidc::{Assignment, DEV_PASSWORD, OidcClient, TokenAuthMethod};
pub use registry::{ProviderKind, UnknownProvider};
pub use webhooks::{Delivery, SendError, WebhookEvent, WebhookSender, WebhookTarget};

#[cfg(test)]
mod tests;
