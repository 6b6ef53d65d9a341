//! SCIM 2.0 provisioning, end to end. `scim_compliance` runs the
//! compliance checker (`scim2-tester` through `scim2-client`) against a
//! SCIM base URL; `sequences` plays the requests Okta and Entra ID send,
//! from their documentation (`sequences/*.json`); `controls` shows that
//! both can fail and pass, on a server that is not SCIM and on the
//! reference server `scim2-server`; `idsync` runs both against idsync's own
//! endpoint and looks at the rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod controls;
mod idsync;
mod scim_compliance;
mod sequences;
