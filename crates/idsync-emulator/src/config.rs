//! What an emulator pretends to be and how it behaves.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;

/// The provider an emulator stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    StackAuth,
    Clerk,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown provider {0:?}: expected \"stack_auth\" or \"clerk\"")]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stack_auth" | "stack-auth" => Ok(Self::StackAuth),
            "clerk" => Ok(Self::Clerk),
            other => Err(UnknownProvider(other.to_owned())),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StackAuth => "stack_auth",
            Self::Clerk => "clerk",
        })
    }
}

/// A fixed window: at most `requests` API requests per `per`, then 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub kind: ProviderKind,
    /// Users generated at start.
    pub seed_users: usize,
    /// Seeds every random choice (users, ids, changes), so runs repeat.
    /// Timestamps still follow the clock.
    pub rng_seed: u64,
    /// Applies to every API route; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Svix endpoint secret, `whsec_<base64>`.
    pub webhook_secret: String,
    /// Stack Auth project id (`X-Stack-Project-Id`); unused by Clerk.
    pub project_id: String,
    /// Stack Auth secret server key (`ssk_...`) or Clerk secret key (`sk_test_...`).
    pub api_key: String,
}

impl EmulatorConfig {
    /// Random credentials and webhook secret, no users, no rate limit.
    pub fn new(kind: ProviderKind) -> Self {
        let mut rng = rand::rng();
        let alnum = |rng: &mut rand::rngs::ThreadRng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
                .collect()
        };
        let api_key = match kind {
            ProviderKind::StackAuth => format!("ssk_{}", alnum(&mut rng, 48)),
            ProviderKind::Clerk => format!("sk_test_{}", alnum(&mut rng, 40)),
        };
        Self {
            kind,
            seed_users: 0,
            rng_seed: rng.random(),
            rate_limit: None,
            webhook_secret: format!("whsec_{}", STANDARD.encode(rng.random::<[u8; 24]>())),
            project_id: uuid_v4(&mut rng),
            api_key,
        }
    }
}

/// A random version-4 UUID in its usual text form (Stack Auth's id format).
pub(crate) fn uuid_v4(rng: &mut impl Rng) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Whether `s` is a UUID in text form (any version), as Stack Auth's
/// `yupString().uuid()` checks ids and cursors.
pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_kind_parses_and_prints() {
        assert_eq!("stack_auth".parse(), Ok(ProviderKind::StackAuth));
        assert_eq!("stack-auth".parse(), Ok(ProviderKind::StackAuth));
        assert_eq!("clerk".parse(), Ok(ProviderKind::Clerk));
        assert!("auth0".parse::<ProviderKind>().is_err());
        assert_eq!(ProviderKind::StackAuth.to_string(), "stack_auth");
    }

    #[test]
    fn new_config_has_usable_credentials() {
        let config = EmulatorConfig::new(ProviderKind::Clerk);
        assert!(config.api_key.starts_with("sk_test_"));
        assert!(svix::webhooks::Webhook::new(&config.webhook_secret).is_ok());
        assert!(is_uuid(&config.project_id));
        assert!(!is_uuid("not-a-uuid"));
    }
}
