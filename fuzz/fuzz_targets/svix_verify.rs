//! Svix header parsing and verification: any headers and body are either
//! verified or refused, never a panic.
#![no_main]

use http::{HeaderMap, HeaderValue};
use idsync_core::Secret;
use idsync_providers::svix::Verifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // id, timestamp and signature headers, then the body, split on NULs.
    let mut parts = data.splitn(4, |b| *b == 0);
    let (Some(id), Some(ts), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("svix-id", id),
        ("svix-timestamp", ts),
        ("svix-signature", sig),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(name, v);
        }
    }
    let verifier = Verifier::new(&Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
    let _ = verifier.verify_at(&headers, body, 1_700_000_000);
});
