use std::io::IsTerminal;

use clap::Parser;
use quotes::{Application, Cli, Settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::from_cli(Cli::parse())?;
    let app = Application::build(settings).await?;
    tracing::info!(listen = %app.addr(), "quotes is running: open {}", app.base_url());
    app.run_until_stopped().await?;
    Ok(())
}
