//! The favorite-quote app of Neon's guide "Authenticate Neon Postgres
//! application users with Okta", in Rust: sign-in with `idsync-login`
//! (Okta or any OpenID Connect issuer), the signed-in user synced into
//! `neon_identity.users_sync` at sign-in, and one quote per user in
//! `user_messages`, keyed by the synced user's id.

pub mod config;
pub mod db;
pub mod routes;
pub mod startup;
pub mod views;

pub use config::{Cli, Settings};
pub use startup::Application;
