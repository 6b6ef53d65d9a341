//! Passwords for the sign-in page. A user created or updated through the
//! Users API with `credentials.password` signs in with that password; any
//! other user with a password credential (the generated ones) signs in
//! with [`DEV_PASSWORD`]. Only SHA-256 digests are kept, and compared in
//! constant time.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::emulator::Core;

/// The password of every generated user that has one.
pub const DEV_PASSWORD: &str = "Emulated-0kta!";

const KIND: &str = "passwords";

fn hashed(password: &str) -> String {
    STANDARD.encode(digest(&SHA256, password.as_bytes()))
}

/// Keeps the password set through the Users API for `user_id`.
pub(crate) fn remember(core: &Core, user_id: &str, password: &str) {
    let mut resources = core
        .resources
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let all = resources.entry(KIND).or_default();
    all.retain(|p| p["id"] != user_id);
    all.push(json!({ "id": user_id, "sha256": hashed(password) }));
}

/// Whether `password` is `user`'s.
pub(crate) fn matches(core: &Core, user: &Value, password: &str) -> bool {
    if user.pointer("/credentials/password").is_none() {
        return false;
    }
    let set = {
        let resources = core
            .resources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        resources
            .get(KIND)
            .and_then(|all| all.iter().find(|p| p["id"] == user["id"]))
            .and_then(|p| p["sha256"].as_str().map(str::to_owned))
    };
    let expected = set.unwrap_or_else(|| hashed(DEV_PASSWORD));
    verify_slices_are_equal(expected.as_bytes(), hashed(password).as_bytes()).is_ok()
}
