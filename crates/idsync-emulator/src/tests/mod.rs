//! End-to-end tests: a started emulator, spoken to over HTTP with reqwest.

mod clerk;
mod stack_auth;
mod webhooks;

use std::time::Duration;

use crate::{Emulator, EmulatorConfig, ProviderKind, RateLimit};

async fn start(kind: ProviderKind, seed_users: usize, rate_limit: Option<RateLimit>) -> Emulator {
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = seed_users;
    config.rng_seed = 42;
    config.rate_limit = rate_limit;
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn per_minute(requests: u32) -> Option<RateLimit> {
    Some(RateLimit {
        requests,
        per: Duration::from_secs(60),
    })
}
