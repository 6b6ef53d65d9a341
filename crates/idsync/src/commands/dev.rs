//! `idsync dev`: one command from nothing to a synced table.
//!
//! Starts a private Postgres (data under `./.idsync/<provider>/`) unless
//! `DATABASE_URL` is set, an emulated provider (Stack Auth unless
//! `--provider` says otherwise) with generated users, and idsync wired to it; backfills, then streams live changes through signed
//! webhooks. Ctrl-C stops everything.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use idsync_core::{ConnectionName, Secret, SqlIdent};
use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind, WebhookTarget};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::UsersTable;
use idsync_sync::JobTarget;

use crate::config::{Config, ConnectionConfig, DEFAULT_SCHEMA, DEFAULT_TABLE};
use crate::progress_bar::CliProgress;
use crate::runtime;
use crate::telemetry::LogFormat;

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where idsync serves webhooks and health checks.
    #[arg(long, default_value = "127.0.0.1:8080", env = "IDSYNC_LISTEN")]
    pub listen: SocketAddr,
    /// The provider to emulate: stack_auth, clerk or okta.
    #[arg(long, default_value = "stack_auth")]
    pub provider: ProviderKind,
    /// Users in the emulated provider.
    #[arg(long, default_value_t = 250)]
    pub users: usize,
    /// How often the emulated project changes a user ("0" for never).
    #[arg(long, default_value = "3s")]
    pub changes_every: String,
    /// Directory of the private Postgres (when DATABASE_URL is unset).
    #[arg(long, default_value = ".idsync")]
    pub data_dir: PathBuf,
    /// Port of the private Postgres.
    #[arg(long, default_value_t = 54329)]
    pub pg_port: u16,
}

pub async fn run(args: &DevArgs, logs: LogFormat) -> Result<ExitCode> {
    let changes_every = crate::config::parse_interval(&args.changes_every)
        .map_err(|e| anyhow::anyhow!("--changes-every: {e}"))?;
    let (database_url, _pg) = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            println!("Using DATABASE_URL.");
            (url, None)
        }
        None => {
            // One database per provider, so their tables never mix.
            let dir = args.data_dir.join(args.provider.name()).join("pgdata");
            println!("Starting a private Postgres in {} ...", dir.display());
            let pg = PgServer::start(PgOptions::persistent(&dir).with_port(args.pg_port))
                .await
                .context("could not start the private Postgres")?;
            (pg.url(), Some(pg))
        }
    };

    let info = idsync_providers::registry::lookup(args.provider.name())?.info();
    let connection_name = info.name.replace('_', "-");
    let connection_name = connection_name.as_str();
    let mut emulator_config = EmulatorConfig::new(args.provider);
    emulator_config.seed_users = args.users;
    // The same users every run, so a table kept in .idsync/ stays recognisable.
    emulator_config.rng_seed = 1;
    let emulator = Emulator::start(emulator_config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .with_context(|| format!("could not start the {} emulator", info.display_name))?;
    let c = emulator.config().clone();
    let provider = idsync_providers::registry::configure(
        info.name,
        connection_name,
        emulator.connection_keys(),
    )?;
    let connection = ConnectionConfig {
        name: ConnectionName::parse(connection_name)?,
        provider,
        table: UsersTable::new(
            SqlIdent::parse(DEFAULT_SCHEMA)?,
            SqlIdent::parse(DEFAULT_TABLE)?,
        ),
        reconcile_interval: Some(Duration::from_secs(300)),
        full_reconcile_interval: Some(Duration::from_secs(24 * 3600)),
    };
    let config = Config {
        database_url: Some(Secret::new(database_url.clone())),
        listen: args.listen,
        public_url: None,
        delivery_retention: Duration::from_secs(7 * 24 * 3600),
        admin_token: None,
        admin_oidc: None,
        connections: vec![connection],
    };

    let pool = runtime::pool(&config).await?;
    let tables = vec![config.connections[0].table.clone()];
    idsync_store::migrate::migrate(&pool, &tables).await?;
    let target = JobTarget {
        pool: &pool,
        connection: connection_name,
        table: &tables[0],
        provider: &config.connections[0].provider,
    };
    let progress = CliProgress::new(connection_name, logs);
    // A table left by an earlier run mirrors that run's emulated users:
    // reconcile it to this run's.
    let report = if idsync_store::runs::has_completed_backfill(&pool, connection_name).await? {
        idsync_sync::reconcile(target, &progress).await?
    } else {
        idsync_sync::backfill(target, &progress).await?
    };
    println!(
        "Synced: {} added, {} updated, {} deleted.",
        report.counts.added, report.counts.updated, report.counts.deleted
    );

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (use --listen)", args.listen))?;
    let addr = listener.local_addr()?;
    // Okta's emulator delivers to the event hook `connect` registers below,
    // as Okta does; the others are told where to deliver.
    if !emulator.registers_endpoints() {
        emulator.auto_deliver(Some(WebhookTarget {
            url: format!("http://{addr}/webhooks/{connection_name}"),
            secret: c.webhook_secret.clone(),
        }))?;
    }
    let state = super::serve::build_state(&pool, &config, addr)?;

    println!();
    println!("idsync dev is running:");
    println!("  Postgres     {database_url}");
    println!(
        "  {:<12} {} (emulated, {} users)",
        info.display_name,
        emulator.base_url(),
        emulator.users().len()
    );
    println!(
        "  idsync       http://{addr}  (webhooks: /webhooks/{connection_name}, health: /readyz)"
    );
    println!(
        "  Console      http://{addr}/login?token={}  (admin token for this run; also for the API at /api/v1)",
        state.admin.token().expose()
    );
    println!();
    println!("Look at the synced table:");
    println!(
        "  psql '{database_url}' -c 'SELECT id, name, email, created_at, updated_at, deleted_at FROM {DEFAULT_SCHEMA}.{DEFAULT_TABLE} ORDER BY updated_at DESC LIMIT 10'"
    );
    match changes_every {
        Some(every) => println!(
            "The emulated project changes a user every {}; each change arrives as a webhook.",
            humantime::format_duration(every)
        ),
        None => println!("No live changes (--changes-every 0)."),
    }
    println!("Press Ctrl-C to stop.\n");

    let provider = config.connections[0].provider.clone();
    let push_url = format!("http://{addr}/webhooks/{connection_name}");
    tokio::select! {
        served = super::serve::serve(listener, state) => served?,
        () = async {
            // Where the provider's API can register the push endpoint
            // (Okta's event hook), do it as `idsync connect` would, once
            // idsync is serving the verification request.
            if let Some(result) = provider.connect(&push_url, false).await {
                match result {
                    Ok(connected) => println!("Connected: {}", connected.state),
                    Err(e) => println!("Could not connect {}: {e}", info.display_name),
                }
            }
            sign_in_app(&provider, connection_name, &database_url).await;
            super::emulate::change_stream(&emulator, changes_every).await;
        } => {},
    }
    emulator.shutdown().await;
    pool.close().await;
    println!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Where the quotes example listens by default.
const QUOTES_URL: &str = "http://localhost:3000";

/// Where the provider's API can create the sign-in app (Okta), creates it
/// as `idsync create-app` would for the quotes example at its default
/// address, and prints the command that starts the example against it.
async fn sign_in_app(provider: &idsync_providers::Provider, name: &str, database_url: &str) {
    if !provider.creates_apps() {
        return;
    }
    let request = match super::create_app::request(name, QUOTES_URL, None, None) {
        Ok(request) => request,
        Err(e) => {
            println!("Could not create the sign-in app: {e:#}");
            return;
        }
    };
    let app = match super::create_app::create(provider, name, &request, false).await {
        Ok(app) => app,
        Err(e) => {
            println!("Could not create the sign-in app: {e:#}");
            return;
        }
    };
    let mut env = vec![r#"AUTH_SECRET="$(openssl rand -base64 33)""#.to_owned()];
    env.extend(super::create_app::env_lines(&app));
    env.push(format!("DATABASE_URL='{database_url}'"));
    println!();
    println!("Sign in to the quotes example with the emulated users (in another terminal):");
    println!("  {} cargo run -p quotes", env.join(" \\\n  "));
    println!(
        "then open {QUOTES_URL} (localhost, not 127.0.0.1) and sign in as any active user (its login) with the emulator's password {}.\n",
        idsync_emulator::DEV_PASSWORD
    );
}
