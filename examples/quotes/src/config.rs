//! Settings: the command line and the environment (`PORT`, `DATABASE_URL`,
//! and the login layer's `AUTH_*` variables).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use idsync_core::SqlIdent;
use idsync_login::AuthBuilder;
use idsync_store::UsersTable;

/// The favorite-quote app of Neon's Okta guide, in Rust.
///
/// Sign-in is configured by AUTH_SECRET and AUTH_OKTA_ISSUER / AUTH_OKTA_ID
/// / AUTH_OKTA_SECRET (or AUTH_OIDC_* for any OpenID Connect issuer);
/// AUTH_URL is the public URL (default http://localhost:<port>).
#[derive(Debug, Parser)]
#[command(name = "quotes", version)]
pub struct Cli {
    /// Address to listen on [default: 127.0.0.1:$PORT, else 127.0.0.1:3000].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Postgres URL. When unset, a private PostgreSQL is started from the
    /// local installation, with its data in --pg-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Data directory of the private PostgreSQL (used without DATABASE_URL).
    #[arg(long, default_value = ".idsync/quotes-pg")]
    pub pg_dir: PathBuf,
    /// Schema of the synced users table (`{schema}.users_sync`).
    #[arg(long, env = "USERS_SCHEMA", default_value = "neon_identity")]
    pub users_schema: String,
}

/// Everything the application needs to start.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: Database,
    pub users_table: UsersTable,
    /// The login layer's settings; the base URL defaults to
    /// `http://localhost:<port>` when `AUTH_URL` is not set.
    pub auth: AuthBuilder,
}

#[derive(Debug)]
pub enum Database {
    Url(String),
    /// Start a private PostgreSQL with its data here.
    Private(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("PORT={0:?} is not a port number")]
    BadPort(String),
    #[error(transparent)]
    Schema(#[from] idsync_core::IdentError),
    #[error(transparent)]
    Auth(#[from] idsync_login::ConfigError),
}

impl Settings {
    /// From the command line and the process environment.
    pub fn from_cli(cli: Cli) -> Result<Self, SettingsError> {
        Self::new(cli, |name| std::env::var(name).ok())
    }

    pub fn new<F>(cli: Cli, env: F) -> Result<Self, SettingsError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let listen = match cli.listen {
            Some(addr) => addr,
            None => {
                let port = match env("PORT").filter(|p| !p.is_empty()) {
                    Some(p) => p.parse().map_err(|_| SettingsError::BadPort(p))?,
                    None => 3000,
                };
                SocketAddr::from((Ipv4Addr::LOCALHOST, port))
            }
        };
        let database = match cli.database_url.filter(|u| !u.is_empty()) {
            Some(url) => Database::Url(url),
            None => Database::Private(cli.pg_dir),
        };
        let users_table = UsersTable::new(
            SqlIdent::parse(&cli.users_schema)?,
            SqlIdent::parse("users_sync")?,
        );
        Ok(Self {
            listen,
            database,
            users_table,
            auth: AuthBuilder::from_lookup(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["quotes"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap()
    }

    #[test]
    fn listens_on_port_env_or_3000() {
        let s = Settings::new(cli(&["--database-url", "postgres://x"]), |_| None).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        let s = Settings::new(cli(&["--database-url", "postgres://x"]), |k| {
            (k == "PORT").then(|| "8080".to_owned())
        })
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        let s = Settings::new(
            cli(&["--listen", "0.0.0.0:9000", "--database-url", "postgres://x"]),
            |k| (k == "PORT").then(|| "8080".to_owned()),
        )
        .unwrap();
        assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
        let err =
            Settings::new(cli(&[]), |k| (k == "PORT").then(|| "http".to_owned())).unwrap_err();
        assert!(matches!(err, SettingsError::BadPort(_)));
    }

    #[test]
    fn private_postgres_without_database_url() {
        // An empty DATABASE_URL counts as unset.
        let s = Settings::new(cli(&["--database-url", ""]), |_| None).unwrap();
        assert!(matches!(s.database, Database::Private(ref p) if p.ends_with("quotes-pg")));
        assert_eq!(s.users_table.to_string(), "neon_identity.users_sync");
        assert!(Settings::new(cli(&["--users-schema", "Bad-Name"]), |_| None).is_err());
    }
}
