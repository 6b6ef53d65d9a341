//! What the admin API and the console take from a caller, parsed once:
//! a value of these types is valid.

use serde::Deserialize;
use utoipa::ToSchema;

/// Which users to list: `all` (the default), `active` or `deleted`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    #[default]
    All,
    Active,
    Deleted,
}

impl UserState {
    pub const EVERY: [Self; 3] = [Self::All, Self::Active, Self::Deleted];

    /// The word in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }
}

impl From<UserState> for idsync_store::users::UserState {
    fn from(s: UserState) -> Self {
        match s {
            UserState::All => Self::All,
            UserState::Active => Self::Active,
            UserState::Deleted => Self::Deleted,
        }
    }
}
