//! Test support shared by the workspace's test targets (a dev-dependency
//! only, never published).
// Test support: panicking on a broken fixture is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod mock_op;
