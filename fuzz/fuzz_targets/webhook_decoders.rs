//! The Svix providers' event decoders on any body.
#![no_main]

use idsync_providers::svix::WebhookMeta;
use idsync_providers::{clerk, stack_auth};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let meta = WebhookMeta {
        message_id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".to_owned(),
        timestamp: 1_700_000_000,
    };
    let _ = stack_auth::decode_webhook(&meta, data);
    let _ = clerk::decode_webhook(&meta, data);
});
