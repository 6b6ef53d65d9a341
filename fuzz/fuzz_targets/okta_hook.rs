//! Okta event hook deliveries on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = idsync_providers::okta::decode_hook(data);
});
