//! Every provider's list-page decoder (the envelope around the user
//! objects: Stack Auth's `items`/`pagination`, Clerk's and Okta's arrays)
//! on any bytes.
#![no_main]

use idsync_core::Version;
use idsync_providers::{clerk, okta, stack_auth};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let asked = Version::from_unix_seconds(1_700_000_000).unwrap();
    if let Ok((changes, next)) = stack_auth::decode_page(data, asked) {
        assert!(next.is_none_or(|n| data.len() >= n.len()));
        assert!(changes.iter().all(|c| !c.user_id.as_str().is_empty()));
    }
    for decode in [clerk::decode_page, okta::decode_page] {
        if let Ok(changes) = decode(data, asked) {
            assert!(changes.iter().all(|c| !c.user_id.as_str().is_empty()));
        }
    }
});
