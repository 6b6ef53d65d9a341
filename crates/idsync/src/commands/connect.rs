//! `idsync connect <connection>`: points the provider's pushes at this
//! idsync, through the provider's API where it can (Okta's event hooks),
//! else prints the steps to take in the provider's console.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::runtime;

pub async fn run(config: &Config, name: &str, dry_run: bool) -> Result<ExitCode> {
    let connection = runtime::select(config, Some(name))?
        .into_iter()
        .next()
        .context("no such connection")?;
    let info = connection.provider.info();
    // The provider must reach idsync where it is deployed, which only
    // public_url says; listen is at best a guess.
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    // A provider that serves an API (SCIM) is pointed at its base URL.
    let url = format!(
        "{base}{}",
        idsync_server::served::prefix(&connection.provider, connection.name.as_str())
    );
    if config.public_url.is_none() {
        println!(
            "public_url is not set; using {base} (set public_url to where {} reaches idsync)",
            info.display_name
        );
    }
    let Some(result) = connection.provider.connect(&url, dry_run).await else {
        println!(
            "{} has no API to register webhook endpoints; in the {} ({}):",
            info.display_name, info.console_name, info.console_url
        );
        for (n, step) in info.push_steps(&url).iter().enumerate() {
            println!("  {}. {step}", n + 1);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let connected = result.with_context(|| {
        format!(
            "could not set up {}'s push to {url} (is idsync serving it, and is public_url reachable from {}?)",
            info.display_name, info.display_name
        )
    })?;
    let verb = if dry_run { "would" } else { "did" };
    if connected.actions.is_empty() {
        println!("{name}: already connected to {url}; nothing to change.");
    } else {
        for action in &connected.actions {
            println!("{name}: {verb} {action}");
        }
    }
    println!("{name}: {}", connected.state);
    Ok(ExitCode::SUCCESS)
}
