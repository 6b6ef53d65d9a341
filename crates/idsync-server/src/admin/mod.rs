//! The admin API (`/api/v1`, documented at `/api/v1/openapi.json`) and
//! what it shares with the console: access control and connection health.

mod access;
mod api;
pub mod dto;
pub mod input;
pub mod overview;
pub mod service;

pub use access::{AdminAccess, ApiAdmin};
pub use api::router;
