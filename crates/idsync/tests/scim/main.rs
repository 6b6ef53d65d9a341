//! SCIM 2.0 provisioning, end to end. `scim_compliance` runs the
//! compliance checker (`scim2-tester` through `scim2-client`) against a
//! SCIM base URL; `controls` proves that checker can both fail and pass.
//! `sequences/` holds the requests Okta and Entra ID send, from their
//! documentation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod controls;
mod scim_compliance;
mod sequences;
