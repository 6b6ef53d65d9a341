//! End-to-end tests of the sync path against a real Postgres, the provider
//! emulators and the real `idsync` binary. Test webhooks are signed by the
//! `svix` crate, independently of idsync's verifier.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_api;
mod backfill;
mod cli;
#[path = "../common/mod.rs"]
mod common;
mod config;
mod db_outage;
mod migrate;
mod okta;
mod okta_app;
mod okta_batches;
mod poison;
mod reconcile;
mod refresh;
mod replicas;
mod schedule;
mod signatures;
mod webhooks;
