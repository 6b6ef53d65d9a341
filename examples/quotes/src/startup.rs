//! Builds the application: database (given, or a private PostgreSQL),
//! migrations, the login layer with just-in-time user sync, the router.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use idsync_login::Auth;
use idsync_pg::{PgOptions, PgServer};
use tokio::net::TcpListener;

use crate::config::{Database, Settings};
use crate::db;
use crate::routes::{self, AppState};

pub struct Application {
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    base_url: String,
    /// The private PostgreSQL, stopped when the application is dropped.
    _pg: Option<PgServer>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("could not listen on {}", settings.listen))?;
        Self::build_with_listener(settings, listener).await
    }

    /// With a listener bound by the caller (tests bind port 0 first to
    /// know the URL).
    pub async fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        let mut auth = settings.auth;
        if !auth.has_base_url() {
            auth = auth.base_url(format!("http://localhost:{}", addr.port()));
        }
        // Configuration mistakes first, before starting anything.
        auth.validate()?;

        let (url, pg) = match settings.database {
            Database::Url(url) => (url, None),
            Database::Private(dir) => {
                let pg = PgServer::start(PgOptions::persistent(&dir))
                    .await
                    .with_context(|| {
                        format!(
                            "could not start a private PostgreSQL in {} (set DATABASE_URL to use another one)",
                            dir.display()
                        )
                    })?;
                tracing::info!(data_dir = %dir.display(), port = pg.port(), "using a private PostgreSQL");
                (pg.url(), Some(pg))
            }
        };
        let pool = idsync_store::connect(&url, 10).await?;
        db::migrate(&pool, &settings.users_table)
            .await
            .context("could not migrate the database")?;
        let auth: Auth = auth
            .sync_users(pool.clone(), settings.users_table.clone())
            .build()?;
        let base_url = auth.base_url().to_owned();
        let router = routes::router(AppState { pool, auth });
        Ok(Self {
            listener,
            router,
            addr,
            base_url,
            _pg: pg,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public URL (`AUTH_URL`): where to open it in a browser.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes (tests pass a future that never
    /// does, rather than taking over the process's signals).
    pub async fn run_until<F>(self, shutdown: F) -> std::io::Result<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let Self {
            listener,
            router,
            _pg,
            ..
        } = self;
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
