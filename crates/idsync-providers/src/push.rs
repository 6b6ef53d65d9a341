//! What a provider pushes to idsync, once verified: events, each of which
//! carries a change to apply, names a user to fetch again, or is ignored.

use http::HeaderMap;
use idsync_core::{Change, InvalidInput, UserId};

use crate::DecodeError;
use crate::verify::VerifyError;

/// A push request as received at `/webhooks/{connection}`.
#[derive(Debug, Clone, Copy)]
pub struct PushRequest<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// Unix seconds, for timestamp windows (fixed by tests).
    pub now: i64,
}

/// One event of a push. A request carries one (Svix) or several (Okta).
#[derive(Debug, Clone, PartialEq)]
pub struct PushEvent {
    /// Stable across redeliveries of the same event, so a redelivery is
    /// recognised and applied once (Svix message id, Okta event uuid).
    pub id: String,
    pub event_type: String,
    pub effect: Effect,
}

/// What an event means for the users table.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The event carries the user as it is now (or its deletion).
    Apply(Change),
    /// The event only names the user: fetch it through the provider's API.
    Refresh(UserId),
    /// An event type idsync does not handle (teams, sessions, ...).
    Ignore,
    /// An event that can never be stored (rule 7), e.g. one naming a user
    /// by an unusable id: refused and recorded with its reason, while the
    /// other events of its request are still taken.
    Refuse(InvalidInput),
}

/// Why a push was refused; nothing of it is written.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// 401: not from the provider (signature, secret, replay window).
    #[error("signature rejected: {0}")]
    Unauthorized(#[from] VerifyError),
    /// 400: from the provider, but not something idsync can read.
    #[error("malformed event: {0}")]
    Malformed(#[from] DecodeError),
}
