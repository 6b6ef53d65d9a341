//! Faithful local stand-ins of the Stack Auth and Clerk user APIs and of
//! their Svix webhook senders, for tests, benchmarks and `idsync dev`.
//!
//! An [`Emulator`] serves the provider's list/read/create/update/delete
//! user routes with its auth headers, pagination, errors and rate limits
//! (see `docs/providers.md`), and records a signed-ready [`WebhookEvent`]
//! for every change. Tests drive changes directly ([`Emulator::create_user`],
//! [`Emulator::random_change`], ...) and deliver events with a
//! [`WebhookSender`], in order or shuffled with duplicates as Svix may.
//!
//! All provider timestamps come from the emulator's clock (real time plus
//! an adjustable offset, see [`Emulator::advance_clock`]); webhook
//! signatures use real time, as Svix signs each attempt when it is made.
//!
//! Behaviour worth knowing, as the providers' own backends do it:
//! - Stack Auth `GET /api/v1/users`: `limit` has no default and no maximum
//!   (absent = every user in one page; below 1 = 400 `SCHEMA_ERROR`);
//!   unknown query parameters are a 400; the `cursor` must be a UUID (else
//!   400) and a cursor naming no listed user (deleted, or filtered out)
//!   yields an empty page with `next_cursor: null`, like Stack's Prisma
//!   query. `POST` answers 201, other routes 200; missing access type or
//!   project id is a 400, a missing or wrong key a 401.
//! - Clerk `GET /v1/users`: `limit` 1..=500 (default 10), `offset` >= 0,
//!   `order_by` `[+|-]created_at|updated_at` (default `-created_at`), else
//!   422; other filters are refused with a 422 rather than ignored.
//! - Rate limits are a fixed window in real time over every route; a 429
//!   carries `Retry-After` in whole seconds (at least 1).

mod clerk;
mod config;
mod emulator;
pub mod ksuid;
mod rate_limit;
mod request;
mod seed;
mod stack_auth;
mod state;
mod webhooks;

pub use config::{EmulatorConfig, ProviderKind, RateLimit, UnknownProvider};
pub use emulator::{Emulator, UserChange};
pub use webhooks::{Delivery, SendError, WebhookEvent, WebhookSender, WebhookTarget};

#[cfg(test)]
mod tests;
