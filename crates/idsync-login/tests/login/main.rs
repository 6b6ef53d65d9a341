//! The login layer end to end over HTTP, against a mock OpenID Provider
//! that can be made to misbehave, with a real Postgres for the JIT sync.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod flow;
mod helpers;
mod rejections;
