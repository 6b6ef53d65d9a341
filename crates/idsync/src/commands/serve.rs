use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use idsync_server::AppState;
use idsync_server::admin::AdminAccess;
use idsync_server::console::AdminOidc;
use idsync_store::PgPool;

use crate::config::Config;
use crate::runtime;

pub async fn migrate_only(config: Config) -> Result<ExitCode> {
    let pool = runtime::pool(&config).await?;
    runtime::migrate(&pool, &config).await?;
    for c in &config.connections {
        println!("{}: {} ready", c.name, c.table);
    }
    println!(
        "idsync schema at version {}",
        idsync_store::migrate::expected_version()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run(config: Config) -> Result<ExitCode> {
    if config.connections.is_empty() {
        tracing::warn!("no connections configured: webhooks will all answer 404");
    }
    let pool = runtime::pool(&config).await?;
    runtime::migrate(&pool, &config).await?;
    let mut listen = config.listen;
    if config.admin_token.is_none() && config.admin_oidc.is_none() && !listen.ip().is_loopback() {
        // A generated token is printed to the terminal: keep the console
        // off the network until a real token or admin OIDC is configured.
        tracing::warn!(%listen, "neither admin_token nor admin_oidc configured: listening on loopback only");
        listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let state = build_state(&pool, &config, bound)?;
    // On stdout for whoever started us: with `listen` on port 0 (tests),
    // this is the only way to learn the port.
    println!("listening on http://{bound}");
    serve(listener, state).await?;
    Ok(ExitCode::SUCCESS)
}

/// The server's state; `bound` is the address listened on, the base of
/// the public URL unless one is configured.
pub fn build_state(pool: &PgPool, config: &Config, bound: SocketAddr) -> Result<AppState> {
    let connections = config
        .connections
        .iter()
        .map(|c| runtime::connection(pool, c))
        .collect();
    let mut state = AppState::new(pool.clone(), connections)
        .with_public_url(
            &config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{bound}")),
        )
        .with_delivery_retention(config.delivery_retention);
    match idsync_server::metrics::install() {
        Ok(handle) => state = state.with_metrics(handle),
        Err(e) => tracing::warn!(error = %e, "metrics disabled"),
    }
    if let Some(token) = &config.admin_token {
        state = state.with_admin(AdminAccess::new(token.clone()));
    }
    if let Some(sso) = &config.admin_oidc {
        // Console sessions are bound to who is admitted: changing the
        // allow-lists signs everyone out.
        let scoped = state.admin.scoped(&sso.admission_scope());
        state = state.with_admin(scoped);
        // After the admin token: the login layer's cookie key derives from it.
        let oidc = AdminOidc::new(sso.clone(), &state.public_url, &state.admin)
            .context("cannot set up console sign-in through OpenID Connect")?;
        tracing::info!(
            issuer = %sso.issuer,
            redirect_uri = %oidc.callback_url(),
            "console sign-in through OpenID Connect"
        );
        state = state.with_admin_oidc(oidc);
    }
    Ok(state)
}

/// Serves until Ctrl-C/SIGTERM, with the background jobs running.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> Result<()> {
    let addr = listener.local_addr()?;
    let jobs = idsync_server::jobs::spawn(&state);
    for name in state.connections.keys() {
        tracing::info!("webhook URL for {name}: http://{addr}/webhooks/{name}");
    }
    tracing::info!(%addr, "idsync listening");
    match (state.admin.generated, &state.admin_oidc) {
        (true, None) => {
            // The one place a secret is shown: the operator needs it to log in.
            eprintln!(
                "No admin token configured. Console login (valid until restart): http://{addr}/login?token={}",
                state.admin.token().expose()
            );
        }
        // idsync may be on the network: the generated token stays unknown,
        // so the console is single sign-on only and the API refuses all.
        (true, Some(_)) => {
            tracing::warn!(
                "no admin_token configured: the console takes single sign-on only, and the admin API (bearer token only) is unusable"
            );
            // Sign-in cookies and console sessions are keyed by the token,
            // so a replica cannot read another's.
            tracing::warn!(
                "no admin_token configured: several replicas behind a load balancer need a shared admin_token for single sign-on to work"
            );
        }
        (false, _) => {}
    }
    axum::serve(listener, idsync_server::router(state))
        .with_graceful_shutdown(super::shutdown_signal())
        .await
        .context("server error")?;
    drop(jobs);
    tracing::info!("stopped");
    Ok(())
}
