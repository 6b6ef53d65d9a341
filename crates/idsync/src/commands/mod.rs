mod connect;
mod create_app;
pub mod dev;
pub mod emulate;
mod jobs;
mod providers;
mod serve;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::config::Config;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let load = || {
        let (path, explicit) = match &cli.config {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("idsync.toml"), false),
        };
        Config::load(&path, explicit)
    };
    match &cli.command {
        Command::Serve => serve::run(load()?).await,
        Command::Migrate => serve::migrate_only(load()?).await,
        Command::Backfill { connection } => {
            jobs::backfill(load()?, connection.as_deref(), cli.log_format).await
        }
        Command::Reconcile {
            connection,
            full: _,
            incremental,
        } => jobs::reconcile(load()?, connection.as_deref(), *incremental, cli.log_format).await,
        Command::Status { json } => status::run(load()?, *json).await,
        Command::Connect {
            connection,
            dry_run,
        } => connect::run(&load()?, connection, *dry_run).await,
        Command::CreateApp {
            connection,
            app_url,
            group,
            label,
            dry_run,
        } => {
            let request = create_app::request(connection, app_url, group.clone(), label.clone())?;
            create_app::run(&load()?, connection, &request, *dry_run).await
        }
        Command::Providers { name } => providers::run(name.as_deref()),
        Command::Dev(args) => dev::run(args, cli.log_format).await,
        Command::Emulate(args) => emulate::run(args).await,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
