//! The `idsync` command: configuration, the CLI, and the commands that
//! wire the library crates together.

pub mod cli;
mod commands;
pub mod config;
mod progress_bar;
mod runtime;
mod telemetry;
