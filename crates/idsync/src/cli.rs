use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands;

/// Keep your auth provider's users in your own Postgres.
#[derive(Debug, Parser)]
#[command(name = "idsync", version, about)]
pub struct Cli {
    /// Configuration file [default: ./idsync.toml, optional when the
    /// environment configures everything].
    #[arg(long, global = true, env = "IDSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr: `text` (colored on a terminal) or `json` (one
    /// object a line, for log collectors).
    #[arg(long, global = true, env = "IDSYNC_LOG_FORMAT", default_value = "text")]
    pub log_format: crate::telemetry::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: webhooks, health checks, first backfill, periodic reconcile.
    Serve,
    /// Create or upgrade idsync's schema and every connection's users table.
    Migrate,
    /// Load every user from the provider's API (resumes an interrupted run).
    Backfill {
        /// Only this connection.
        #[arg(long)]
        connection: Option<String>,
    },
    /// Compare with the provider's user list and repair differences.
    Reconcile {
        /// Only this connection.
        #[arg(long)]
        connection: Option<String>,
        /// List every user and soft-delete the ones the provider no longer
        /// has (the default).
        #[arg(long, conflicts_with = "incremental")]
        full: bool,
        /// List only the users changed since the last completed run: faster,
        /// but finds no user deleted outright (Okta only).
        #[arg(long)]
        incremental: bool,
    },
    /// Show each connection's users, webhooks, jobs and recent errors.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Point a connection's provider at idsync: register its push endpoint through the provider's API where it allows, else print the steps.
    Connect {
        /// The connection's name.
        connection: String,
        /// Only say what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create (or bring up to date) the app integration an application signs its users in with, and print the settings it needs (Okta: an OIDC web app).
    CreateApp {
        /// The connection's name.
        connection: String,
        /// The application's base URL, e.g. http://localhost:3000: sign-in returns to {URL}/api/auth/callback/<provider>, sign-out to {URL}.
        #[arg(long, value_name = "URL")]
        app_url: String,
        /// Only this group's members may sign in (default: everyone).
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// The app's name at the provider, by which a rerun finds it [default: "idsync <connection>"].
        #[arg(long)]
        label: Option<String>,
        /// Only say what would change.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the providers idsync syncs from, with each one's keys and setup steps.
    Providers {
        /// Only this provider.
        name: Option<String>,
    },
    /// Start a private Postgres, an emulated Stack Auth project and idsync, all wired together.
    Dev(commands::dev::DevArgs),
    /// Run a provider emulator (API + signed webhooks) for local testing.
    Emulate(commands::emulate::EmulateArgs),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Status { .. }
        | Command::Providers { .. }
        | Command::Connect { .. }
        | Command::CreateApp { .. } => "warn",
        _ => "info,sqlx=warn,tower_http=info",
    };
    crate::telemetry::init(default_level, cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
