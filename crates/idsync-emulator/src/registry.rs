//! The emulated providers: one list, and lookup by name. Adding a provider
//! means its folder beside this file and one variant here.

use std::fmt;
use std::str::FromStr;

use crate::clerk::Clerk;
use crate::okta::Okta;
use crate::provider::EmulatedProvider;
use crate::stack_auth::StackAuth;

/// The provider an emulator stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    StackAuth,
    Clerk,
    Okta,
}

impl ProviderKind {
    /// Every emulated provider.
    pub const ALL: [ProviderKind; 3] = [Self::StackAuth, Self::Clerk, Self::Okta];

    pub(crate) fn emulated(self) -> &'static dyn EmulatedProvider {
        match self {
            Self::StackAuth => &StackAuth,
            Self::Clerk => &Clerk,
            Self::Okta => &Okta,
        }
    }

    /// The name idsync's config uses, e.g. `stack_auth`.
    pub fn name(self) -> &'static str {
        self.emulated().name()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown provider {0:?}: expected one of {names}", names = known_names())]
pub struct UnknownProvider(pub String);

fn known_names() -> String {
    ProviderKind::ALL
        .iter()
        .map(|k| format!("{:?}", k.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.name() == s || k.emulated().aliases().contains(&s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_kind_parses_and_prints() {
        assert_eq!("stack_auth".parse(), Ok(ProviderKind::StackAuth));
        assert_eq!("stack-auth".parse(), Ok(ProviderKind::StackAuth));
        assert_eq!("clerk".parse(), Ok(ProviderKind::Clerk));
        assert_eq!("okta".parse(), Ok(ProviderKind::Okta));
        let unknown = "auth0".parse::<ProviderKind>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            r#"unknown provider "auth0": expected one of "stack_auth", "clerk", "okta""#
        );
        for kind in ProviderKind::ALL {
            assert_eq!(kind.to_string().parse(), Ok(kind));
        }
    }
}
