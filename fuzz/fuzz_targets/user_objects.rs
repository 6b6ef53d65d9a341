//! Every provider's user-object decoder (what list pages and gets hold) on
//! any JSON value.
#![no_main]

use std::sync::OnceLock;

use idsync_core::Version;
use idsync_providers::{Provider, registry};
use libfuzzer_sys::fuzz_target;

fn providers() -> &'static [Provider] {
    static ALL: OnceLock<Vec<Provider>> = OnceLock::new();
    ALL.get_or_init(|| {
        let keys: &[(&str, &str)] = &[
            ("api_url", "http://127.0.0.1:9"),
            ("org_url", "http://127.0.0.1:9"),
            ("project_id", "p"),
            ("secret_server_key", "k"),
            ("secret_key", "k"),
            ("api_token", "k"),
            ("event_hook_secret", "k"),
            ("webhook_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ];
        registry::PROVIDERS
            .iter()
            .map(|def| {
                let name = def.info().name;
                let wanted: Vec<(&str, &str)> = keys
                    .iter()
                    .copied()
                    .filter(|(k, _)| def.info().keys.iter().any(|i| i.name == *k))
                    .collect();
                registry::configure(name, "fuzz", wanted).unwrap()
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let asked = Version::from_unix_seconds(1_700_000_000).unwrap();
    for p in providers() {
        let _ = p.read_change(value.clone(), asked);
    }
});
