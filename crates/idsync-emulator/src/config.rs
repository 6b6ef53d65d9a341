//! What an emulator pretends to be and how it behaves.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;

use crate::ProviderKind;
use crate::uuid::uuid_v4;

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
    /// Added before every API answer (a provider far away); zero = none.
    pub latency: Duration,
    /// Svix endpoint secret, `whsec_<base64>`.
    pub webhook_secret: String,
    /// The project id, for providers whose API requests name one.
    pub project_id: String,
    /// The secret API key, in the provider's format.
    pub api_key: String,
}

impl EmulatorConfig {
    /// Random credentials and webhook secret, no users, no rate limit.
    pub fn new(kind: ProviderKind) -> Self {
        let mut rng = rand::rng();
        let api_key = kind.emulated().new_api_key(&mut rng);
        Self {
            kind,
            seed_users: 0,
            rng_seed: rng.random(),
            rate_limit: None,
            latency: Duration::ZERO,
            webhook_secret: format!("whsec_{}", STANDARD.encode(rng.random::<[u8; 24]>())),
            project_id: uuid_v4(&mut rng),
            api_key,
        }
    }
}

/// `n` random letters and digits (the tail of API keys).
pub(crate) fn alphanumeric(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uuid::is_uuid;

    #[test]
    fn new_config_has_usable_credentials() {
        for kind in ProviderKind::ALL {
            let config = EmulatorConfig::new(kind);
            assert!(config.api_key.len() > 40, "{kind}");
            assert!(svix::webhooks::Webhook::new(&config.webhook_secret).is_ok());
            assert!(is_uuid(&config.project_id));
        }
        assert!(
            EmulatorConfig::new(ProviderKind::Clerk)
                .api_key
                .starts_with("sk_test_")
        );
    }
}
