//! Domain types shared by every part of idsync.
//!
//! Every way a user change can arrive (webhook, backfill, reconcile, sign-in)
//! is turned into a [`Change`] and handed to the applier; nothing else writes
//! the users table. The types here are "parse, don't validate": once a value
//! exists it is valid.

mod change;
mod ident;
pub mod resource;
mod secret;
mod storable;

pub use change::{Change, ChangeKind, Profile, UserId, Version};
pub use ident::{ConnectionName, IdentError, SqlIdent};
pub use secret::Secret;
pub use storable::{
    EventType, InvalidInput, MessageId, storable_json, storable_text, storable_time,
};
