//! Okta's `link` header parser on any header values.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for part in data.split(|b| *b == b'\n') {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            headers.append("link", v);
        }
    }
    if let Some(next) = idsync_providers::okta::next_link(&headers) {
        assert!(!next.is_empty() || data.windows(2).any(|w| w == b"<>"));
    }
});
