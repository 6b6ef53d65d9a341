//! The providers idsync knows. Adding one is a module and a line here.

use std::collections::BTreeMap;

use crate::keys::Keys;
use crate::provider::ProviderDef;
use crate::{Provider, clerk, okta, scim, stack_auth};

/// Every provider, in the order people are shown them.
pub static PROVIDERS: &[&dyn ProviderDef] = &[
    &stack_auth::STACK_AUTH,
    &clerk::CLERK,
    &okta::OKTA,
    &scim::SCIM,
];

/// The provider configured as `name` (or one of its aliases).
pub fn lookup(name: &str) -> Result<&'static dyn ProviderDef, UnknownProvider> {
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.info().is_named(name))
        .ok_or_else(|| UnknownProvider(name.to_owned()))
}

/// The configuration names of every provider, e.g. for messages.
pub fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.info().name).collect()
}

/// Configures the provider `name` from its keys, as a connection of the
/// configuration file would be; `at` names it in messages. For tools and
/// tests that build a connection without a configuration file.
pub fn configure<K: Into<String>, V: Into<String>>(
    name: &str,
    at: &str,
    values: impl IntoIterator<Item = (K, V)>,
) -> Result<Provider, ConfigureError> {
    let def = lookup(name)?;
    let values: BTreeMap<String, String> = values
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let mut problems = Vec::new();
    let mut keys = Keys::new(at, values, &mut problems);
    let provider = def.configure(&mut keys);
    keys.finish(def.info());
    match provider {
        Some(p) if problems.is_empty() => Ok(p),
        _ => Err(ConfigureError::Invalid(problems)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error(transparent)]
    Unknown(#[from] UnknownProvider),
    #[error("invalid connection:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown provider {name:?}: expected one of {expected}", name = .0, expected = names().join(", "))]
pub struct UnknownProvider(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_found_by_name_and_alias_only() {
        assert_eq!(lookup("stack_auth").unwrap().info().name, "stack_auth");
        assert_eq!(lookup("stack-auth").unwrap().info().name, "stack_auth");
        assert_eq!(lookup("clerk").unwrap().info().display_name, "Clerk");
        let Err(err) = lookup("auth0") else {
            panic!("auth0 is not a provider")
        };
        assert_eq!(
            err.to_string(),
            "unknown provider \"auth0\": expected one of stack_auth, clerk, okta, scim"
        );
    }

    #[test]
    fn names_and_keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for p in PROVIDERS {
            let info = p.info();
            for n in std::iter::once(&info.name).chain(info.aliases) {
                assert!(seen.insert(*n), "{n} named twice");
            }
            let mut keys = std::collections::HashSet::new();
            for k in info.keys {
                assert!(keys.insert(k.name), "{}: key {} twice", info.name, k.name);
            }
        }
    }
}
