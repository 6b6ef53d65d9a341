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

/// A caller's input that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InvalidInput {
    #[error("email is not an email address")]
    Email {
        /// What was given, trimmed (the console shows it back).
        given: String,
    },
}

/// An email address as idsync checks one before handing it to a provider:
/// something before and after a single `@`, no spaces. The provider
/// applies its own, stricter rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let email = raw.trim();
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        }) && !email.chars().any(char::is_whitespace);
        if valid {
            Ok(Self(email.to_owned()))
        } else {
            Err(InvalidInput::Email {
                given: email.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// How many rows a listing returns: 1-500, 50 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(i64);

impl PageSize {
    const MAX: i64 = 500;

    /// The size asked for, brought within 1-500; 50 when not asked.
    pub fn new(asked: Option<i64>) -> Self {
        Self(asked.map_or(Self::default().0, |n| n.clamp(1, Self::MAX)))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(50)
    }
}

#[cfg(test)]
mod tests {
    use super::{Email, PageSize};

    #[test]
    fn an_email_needs_one_at_with_text_around_it() {
        assert_eq!(
            Email::parse("  ada@example.com ")
                .map(Email::into_string)
                .ok(),
            Some("ada@example.com".to_owned())
        );
        for bad in [
            "not-an-email",
            "@example.com",
            "ada@",
            "a@b@c",
            "ada @x.com",
            "",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_sizes_stay_within_bounds() {
        assert_eq!(PageSize::new(None).get(), 50);
        assert_eq!(PageSize::new(Some(0)).get(), 1);
        assert_eq!(PageSize::new(Some(10_000)).get(), 500);
        assert_eq!(PageSize::new(Some(120)).get(), 120);
    }
}
