//! The web console, end to end: the real `idsync serve` against a real
//! Postgres and the provider emulators, driven over HTTP and by headless
//! Chromium (Debian's `chromium` through `playwright-core`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
#[path = "../common/mod.rs"]
mod common;
mod helpers;
mod http;
mod oidc;
