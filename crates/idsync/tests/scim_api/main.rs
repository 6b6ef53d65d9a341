//! SCIM 2.0 end to end: the real `idsync serve` with a `scim` connection,
//! a real Postgres, and the request sequences Okta and Entra ID send
//! (built from their documented payloads), checked against the rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod entra;
mod harness;
mod okta;
mod protocol;
