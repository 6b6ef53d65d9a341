//! End-to-end test helpers: a started emulator, spoken to over HTTP with
//! reqwest. Each provider's own tests live in its folder.

mod webhooks;

pub(crate) use webhooks::receiver;

use std::time::Duration;

use crate::{Emulator, EmulatorConfig, ProviderKind, RateLimit};

pub(crate) async fn start(
    kind: ProviderKind,
    seed_users: usize,
    rate_limit: Option<RateLimit>,
) -> Emulator {
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = seed_users;
    config.rng_seed = 42;
    config.rate_limit = rate_limit;
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

pub(crate) fn per_minute(requests: u32) -> Option<RateLimit> {
    Some(RateLimit {
        requests,
        per: Duration::from_secs(60),
    })
}
