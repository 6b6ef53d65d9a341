//! Configuration: a TOML file, then the environment on top.
//!
//! - `DATABASE_URL` or `IDSYNC_DATABASE_URL`, `IDSYNC_LISTEN` override the
//!   top-level keys.
//! - `IDSYNC_ADMIN_OIDC_<KEY>` sets `[admin_oidc]`'s `<key>`; lists
//!   (`allowed_emails`, `allowed_groups`, `scopes`) are comma-separated.
//! - `IDSYNC_CONNECTIONS__<NAME>__<KEY>` sets `<key>` of the connection
//!   named `<name>` (matched ignoring case, `_` standing for `-`), creating
//!   the connection if the file has none of that name.
//! - Every secret may be given as `<key>_file`, a path whose content (trimmed)
//!   is the secret.
//!
//! Validation reports every problem at once, naming the key.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use idsync_core::{ConnectionName, Secret, SqlIdent};
use idsync_providers::keys::{Keys, read_secret};
use idsync_providers::{Provider, registry};
use idsync_server::console::{AdminOidcConfig, DEFAULT_OIDC_NAME};
use idsync_store::UsersTable;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_SCHEMA: &str = "neon_identity";
pub const DEFAULT_TABLE: &str = "users_sync";
pub const DEFAULT_RECONCILE: &str = "1h";
pub const DEFAULT_FULL_RECONCILE: &str = "24h";
pub const DEFAULT_DELIVERY_RETENTION: &str = "7d";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("configuration: {0}")]
    Parse(String),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Option<Secret>,
    pub listen: SocketAddr,
    /// Base URL providers reach idsync at (webhook URLs shown in the
    /// console); `None`: `http://` and the address idsync listens on (the
    /// one bound, when `listen` asks for port 0).
    pub public_url: Option<String>,
    /// How long webhook delivery records (and so redelivery de-duplication)
    /// are kept.
    pub delivery_retention: Duration,
    /// Admin API bearer token and console login; generated at start when
    /// unset (and then idsync listens on loopback only).
    pub admin_token: Option<Secret>,
    /// Console sign-in through OpenID Connect, for the admins it lists.
    pub admin_oidc: Option<AdminOidcConfig>,
    pub connections: Vec<ConnectionConfig>,
}

/// One connection: the keys idsync takes itself, and the provider
/// configured from the rest by its own module.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    pub name: ConnectionName,
    pub provider: Provider,
    pub table: UsersTable,
    pub reconcile_interval: Option<Duration>,
    /// How often a scheduled reconcile lists every user (finding users
    /// deleted outright) rather than only the changed ones, for providers
    /// that can list changes; `None`: only the first.
    pub full_reconcile_interval: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<String>,
    database_url_file: Option<PathBuf>,
    listen: Option<String>,
    public_url: Option<String>,
    delivery_retention: Option<String>,
    admin_token: Option<String>,
    admin_token_file: Option<PathBuf>,
    admin_oidc: Option<RawAdminOidc>,
    #[serde(default)]
    connections: Vec<RawConnection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdminOidc {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    allowed_emails: Option<Vec<String>>,
    allowed_groups: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    name: Option<String>,
}

/// `IDSYNC_ADMIN_OIDC_*`: (variable suffix, key, whether a comma-separated
/// list).
const ADMIN_OIDC_ENV: &[(&str, &str, bool)] = &[
    ("ISSUER", "issuer", false),
    ("CLIENT_ID", "client_id", false),
    ("CLIENT_SECRET", "client_secret", false),
    ("CLIENT_SECRET_FILE", "client_secret_file", false),
    ("ALLOWED_EMAILS", "allowed_emails", true),
    ("ALLOWED_GROUPS", "allowed_groups", true),
    ("SCOPES", "scopes", true),
    ("NAME", "name", false),
];

/// A connection as written. The provider's own keys (credentials, URLs,
/// secrets) are collected in `provider_keys` for its module to read.
#[derive(Debug, Default, Deserialize)]
struct RawConnection {
    name: Option<String>,
    provider: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    reconcile_interval: Option<String>,
    full_reconcile_interval: Option<String>,
    #[serde(flatten)]
    provider_keys: BTreeMap<String, serde_json::Value>,
}

impl RawConnection {
    /// Sets a key from an environment variable.
    fn set(&mut self, key: &str, value: String) {
        let slot = match key {
            "name" => &mut self.name,
            "provider" => &mut self.provider,
            "schema" => &mut self.schema,
            "table" => &mut self.table,
            "reconcile_interval" => &mut self.reconcile_interval,
            "full_reconcile_interval" => &mut self.full_reconcile_interval,
            _ => {
                self.provider_keys
                    .insert(key.to_owned(), serde_json::Value::String(value));
                return;
            }
        };
        *slot = Some(value);
    }
}

impl Config {
    /// Loads `path` (required only when `explicit`) and the environment.
    pub fn load(path: &Path, explicit: bool) -> Result<Self, ConfigError> {
        Self::load_from(path, explicit, std::env::vars())
    }

    /// [`load`](Self::load) with the environment given, for tests.
    pub fn load_from(
        path: &Path,
        explicit: bool,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        if explicit && !path.exists() {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                reason: "no such file".to_owned(),
            });
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        let mut figment = Figment::new();
        if path.exists() {
            figment = figment.merge(Toml::file_exact(path));
        }
        // Top-level keys from the environment; connections are handled below
        // because figment cannot address array entries by name.
        let top: Vec<(String, String)> = env
            .iter()
            .filter_map(|(k, v)| {
                let key = match k.as_str() {
                    "DATABASE_URL" | "IDSYNC_DATABASE_URL" => "database_url",
                    "IDSYNC_DATABASE_URL_FILE" => "database_url_file",
                    "IDSYNC_LISTEN" => "listen",
                    "IDSYNC_PUBLIC_URL" => "public_url",
                    "IDSYNC_DELIVERY_RETENTION" => "delivery_retention",
                    "IDSYNC_ADMIN_TOKEN" => "admin_token",
                    "IDSYNC_ADMIN_TOKEN_FILE" => "admin_token_file",
                    _ => return None,
                };
                Some((key.to_owned(), v.clone()))
            })
            .collect();
        for (k, v) in top {
            figment = figment.merge((k, v));
        }
        for (suffix, key, list) in ADMIN_OIDC_ENV {
            let Some(v) = env.get(&format!("IDSYNC_ADMIN_OIDC_{suffix}")) else {
                continue;
            };
            let key = format!("admin_oidc.{key}");
            figment = if *list {
                figment.merge((key, split_list(v)))
            } else {
                figment.merge((key, v.clone()))
            };
        }
        let mut raw: RawConfig = figment
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;

        let mut problems = Vec::new();
        apply_connection_env(&mut raw, &env, &mut problems);
        let config = validate(raw, &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    pub fn database_url(&self) -> Option<&Secret> {
        self.database_url.as_ref()
    }
}

fn apply_connection_env(
    raw: &mut RawConfig,
    env: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) {
    for (var, value) in env {
        let Some(rest) = var.strip_prefix("IDSYNC_CONNECTIONS__") else {
            continue;
        };
        let Some((name, key)) = rest.split_once("__") else {
            problems.push(format!("{var}: expected IDSYNC_CONNECTIONS__<NAME>__<KEY>"));
            continue;
        };
        let wanted = name.to_ascii_lowercase();
        let index = raw.connections.iter().position(|c| {
            c.name
                .as_deref()
                .is_some_and(|n| n.to_ascii_lowercase().replace('-', "_") == wanted)
        });
        let index = index.unwrap_or_else(|| {
            raw.connections.push(RawConnection {
                name: Some(wanted.clone()),
                ..RawConnection::default()
            });
            raw.connections.len() - 1
        });
        raw.connections[index].set(&key.to_ascii_lowercase(), value.clone());
    }
}

/// A comma-separated list from the environment, entries trimmed, empty
/// ones dropped.
fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether an issuer URL's host is this machine: the login layer accepts
/// plain http only there.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `[admin_oidc]`, checked. `derived`: whether `public_url` was derived
/// from `listen` rather than configured.
fn admin_oidc(
    raw: RawAdminOidc,
    derived: bool,
    listen: SocketAddr,
    problems: &mut Vec<String>,
) -> Option<AdminOidcConfig> {
    let at = "admin_oidc";
    let issuer = match raw.issuer.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(format!(
                "{at}.issuer: missing (the OpenID Connect issuer URL, e.g. https://example.okta.com; required with {at}.client_id)"
            ));
            None
        }
        Some(url) if url.starts_with("https://") => Some(url.to_owned()),
        Some(url) if url.starts_with("http://") && is_loopback_url(url) => Some(url.to_owned()),
        Some(url) if url.starts_with("http://") => {
            problems.push(format!(
                "{at}.issuer: {url:?} uses plain http; use https (http is accepted only for loopback hosts)"
            ));
            None
        }
        Some(url) => {
            problems.push(format!("{at}.issuer: {url:?} is not an http(s) URL"));
            None
        }
    };
    let client_id = match raw.client_id.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(format!(
                "{at}.client_id: missing (the client id of idsync's registration at the issuer; required with {at}.issuer)"
            ));
            None
        }
        Some(id) => Some(id.to_owned()),
    };
    let client_secret = match (raw.client_secret, raw.client_secret_file) {
        (None, None) => None,
        (inline, file) => read_secret(at, "client_secret", inline, file, problems),
    };
    let clean = |list: Option<Vec<String>>| -> Vec<String> {
        list.unwrap_or_default()
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let allowed_emails = clean(raw.allowed_emails);
    for e in &allowed_emails {
        let ok = e
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
        if !ok {
            problems.push(format!(
                "{at}.allowed_emails: {e:?} is not an email address"
            ));
        }
    }
    let allowed_groups = clean(raw.allowed_groups);
    if allowed_emails.is_empty() && allowed_groups.is_empty() {
        problems.push(format!(
            "{at}: set allowed_emails or allowed_groups; without an allow-list everyone who can sign in at the issuer would be an idsync admin"
        ));
    }
    if derived && listen.ip().is_unspecified() {
        problems.push(format!(
            "public_url: required with {at} when listen is {listen}: the issuer sends browsers back to {{public_url}}/api/auth/callback/oidc"
        ));
    }
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_OIDC_NAME.to_owned());
    Some(AdminOidcConfig {
        issuer: issuer?,
        client_id: client_id?,
        client_secret,
        allowed_emails,
        allowed_groups,
        scopes: clean(raw.scopes),
        name,
    })
}

/// Parses `"1h"`, `"30m"`, `"90s"`; `"0"` turns the schedule off.
pub fn parse_interval(raw: &str) -> Result<Option<Duration>, String> {
    let raw = raw.trim();
    if raw == "0" || raw == "off" {
        return Ok(None);
    }
    let d = humantime::parse_duration(raw).map_err(|e| {
        format!(
            "{raw:?} is not a duration ({e}); use e.g. \"1h\", \"15m\", or \"0\" to turn it off"
        )
    })?;
    Ok((!d.is_zero()).then_some(d))
}

/// The connection's provider, configured by its module from the keys idsync
/// does not take itself.
fn provider(
    at: &str,
    name: Option<&str>,
    raw_keys: BTreeMap<String, serde_json::Value>,
    problems: &mut Vec<String>,
) -> Option<Provider> {
    let def = match name.map(registry::lookup) {
        Some(Ok(def)) => def,
        Some(Err(e)) => {
            problems.push(format!("{at}.provider: {e}"));
            return None;
        }
        None => {
            problems.push(format!(
                "{at}.provider: missing (one of {})",
                registry::names().join(", ")
            ));
            return None;
        }
    };
    let mut values = BTreeMap::new();
    for (key, value) in raw_keys {
        match value {
            serde_json::Value::String(s) => {
                values.insert(key, s);
            }
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                values.insert(key, value.to_string());
            }
            _ => problems.push(format!("{at}.{key}: expected a string")),
        }
    }
    let mut keys = Keys::new(at, values, problems);
    let provider = def.configure(&mut keys);
    keys.finish(def.info());
    provider
}

fn validate(raw: RawConfig, problems: &mut Vec<String>) -> Config {
    let database_url = match (raw.database_url, raw.database_url_file) {
        (None, None) => None,
        (inline, file) => read_secret("config", "database_url", inline, file, problems),
    };
    let listen_raw = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen = listen_raw.parse().unwrap_or_else(|_| {
        problems.push(format!(
            "listen: {listen_raw:?} is not an address such as 127.0.0.1:8080"
        ));
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });

    let retention_raw = raw
        .delivery_retention
        .unwrap_or_else(|| DEFAULT_DELIVERY_RETENTION.to_owned());
    let delivery_retention = match humantime::parse_duration(retention_raw.trim()) {
        Ok(d) if d >= Duration::from_secs(3600) => d,
        Ok(_) => {
            problems.push(format!(
                "delivery_retention: {retention_raw:?} is too short: keep deliveries at least 1h (providers retry for a day or more)"
            ));
            Duration::ZERO
        }
        Err(e) => {
            problems.push(format!(
                "delivery_retention: {retention_raw:?} is not a duration ({e}); use e.g. \"7d\""
            ));
            Duration::ZERO
        }
    };
    let public_url_derived = raw.public_url.is_none();
    let public_url = match raw.public_url {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.trim_end_matches('/').to_owned())
        }
        Some(url) => {
            problems.push(format!("public_url: {url:?} is not an http(s) URL"));
            None
        }
        None => None,
    };
    let admin_token = match (raw.admin_token, raw.admin_token_file) {
        (None, None) => None,
        (inline, file) => {
            read_secret("config", "admin_token", inline, file, problems).filter(|t| {
                let long = t.expose().len() >= 16;
                if !long {
                    problems.push("admin_token: use at least 16 characters".to_owned());
                }
                long
            })
        }
    };

    let admin_oidc = raw
        .admin_oidc
        .and_then(|o| admin_oidc(o, public_url_derived, listen, problems));

    let mut connections = Vec::new();
    let mut names = HashSet::new();
    let mut tables = HashSet::new();
    for (i, c) in raw.connections.into_iter().enumerate() {
        let at = match &c.name {
            Some(n) => format!("connections[{i}] ({n})"),
            None => format!("connections[{i}]"),
        };
        let name = match c.name.as_deref().map(ConnectionName::parse) {
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                problems.push(format!("{at}.name: {e}"));
                None
            }
            None => {
                problems.push(format!("{at}.name: missing"));
                None
            }
        };
        if let Some(n) = &name
            && !names.insert(n.clone())
        {
            problems.push(format!("{at}.name: {n:?} is used by two connections"));
        }
        let ident =
            |key: &str, value: Option<String>, default: &str, problems: &mut Vec<String>| {
                SqlIdent::parse(value.as_deref().unwrap_or(default))
                    .map_err(|e| problems.push(format!("{at}.{key}: {e}")))
                    .ok()
            };
        let schema = ident("schema", c.schema, DEFAULT_SCHEMA, problems);
        let table = ident("table", c.table, DEFAULT_TABLE, problems);
        let table = schema.zip(table).map(|(s, t)| UsersTable::new(s, t));
        if let Some(t) = &table
            && !tables.insert(t.clone())
        {
            problems.push(format!(
                "{at}: table {t} is already used by another connection"
            ));
        }
        let reconcile_interval =
            parse_interval(c.reconcile_interval.as_deref().unwrap_or(DEFAULT_RECONCILE))
                .map_err(|e| problems.push(format!("{at}.reconcile_interval: {e}")))
                .ok()
                .flatten();
        let full_reconcile_interval = parse_interval(
            c.full_reconcile_interval
                .as_deref()
                .unwrap_or(DEFAULT_FULL_RECONCILE),
        )
        .map_err(|e| problems.push(format!("{at}.full_reconcile_interval: {e}")))
        .ok()
        .flatten();
        let provider = provider(&at, c.provider.as_deref(), c.provider_keys, problems);
        // A provider's own tables (SCIM's groups and memberships) sit in
        // the same schema and must not be another table of idsync's.
        if let (Some(p), Some(t)) = (&provider, &table)
            && let Some(served) = p.served()
        {
            let own = served.tables();
            for (key, name) in [("groups_table", own.groups), ("members_table", own.members)] {
                let other = UsersTable::new(t.schema.clone(), name.clone());
                if !tables.insert(other.clone()) {
                    problems.push(format!(
                        "{at}.{key}: table {other} is already used by this or another connection"
                    ));
                }
            }
        }
        if let (Some(name), Some(provider), Some(table)) = (name, provider, table) {
            connections.push(ConnectionConfig {
                name,
                provider,
                table,
                reconcile_interval,
                full_reconcile_interval,
            });
        }
    }
    Config {
        database_url,
        listen,
        public_url,
        delivery_retention,
        admin_token,
        admin_oidc,
        connections,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idsync.toml");
        std::fs::write(&path, toml).unwrap();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::load_from(&path, true, env)
    }

    fn problems(result: Result<Config, ConfigError>) -> Vec<String> {
        match result {
            Err(ConfigError::Invalid(p)) => p,
            other => panic!("expected validation problems, got {other:?}"),
        }
    }

    #[test]
    fn full_reconcile_interval_defaults_to_a_day_and_is_taken_by_idsync() {
        let okta = "[[connections]]\nname = \"main\"\nprovider = \"okta\"\norg_url = \"https://dev-1.okta.com\"\napi_token = \"t\"\nevent_hook_secret = \"s\"\n";
        let full = |toml: &str, env: &[(&str, &str)]| {
            load(toml, env).unwrap().connections[0].full_reconcile_interval
        };
        assert_eq!(full(okta, &[]), Some(Duration::from_secs(24 * 3600)));
        let weekly = format!("{okta}full_reconcile_interval = \"7d\"\n");
        assert_eq!(full(&weekly, &[]), Some(Duration::from_secs(7 * 24 * 3600)));
        let env = [("IDSYNC_CONNECTIONS__MAIN__FULL_RECONCILE_INTERVAL", "0")];
        assert_eq!(full(&weekly, &env), None);
    }

    #[test]
    fn scim_tables_must_not_clash() {
        let scim = "[[connections]]\nname = \"idp\"\nprovider = \"scim\"\nbearer_token = \"t\"\n";
        let config = load(scim, &[]).unwrap();
        assert!(config.connections[0].provider.served().is_some());
        let p = problems(load(&format!("{scim}groups_table = \"users_sync\"\n"), &[]));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "connections[0] (idp).groups_table: table neon_identity.users_sync is already used"
            ),
            "{p:?}"
        );
    }

    #[test]
    fn admin_oidc_from_the_file() {
        let config = load(
            "[admin_oidc]\nissuer = \"https://sso.example.com/realms/ops/\"\nclient_id = \"idsync\"\nclient_secret = \"shh\"\nallowed_emails = [\" Ada@Example.com \"]\n",
            &[],
        )
        .unwrap();
        let oidc = config.admin_oidc.unwrap();
        // Kept as written: discovery compares it to the document's issuer.
        assert_eq!(oidc.issuer, "https://sso.example.com/realms/ops/");
        assert_eq!(oidc.client_id, "idsync");
        assert_eq!(oidc.client_secret.unwrap().expose(), "shh");
        assert_eq!(oidc.allowed_emails, ["Ada@Example.com"]);
        assert!(oidc.allowed_groups.is_empty());
        assert_eq!(oidc.name, DEFAULT_OIDC_NAME);
        assert!(load("", &[]).unwrap().admin_oidc.is_none());
    }

    #[test]
    fn admin_oidc_from_the_environment_overrides_the_file() {
        let config = load(
            "[admin_oidc]\nissuer = \"https://old.example.com\"\nclient_id = \"old\"\nallowed_groups = [\"old\"]\n",
            &[
                ("IDSYNC_ADMIN_OIDC_ISSUER", "http://127.0.0.1:9000"),
                ("IDSYNC_ADMIN_OIDC_CLIENT_ID", "idsync"),
                ("IDSYNC_ADMIN_OIDC_ALLOWED_GROUPS", "admins, cn=ops ,,"),
                ("IDSYNC_ADMIN_OIDC_ALLOWED_EMAILS", "a@example.com,b@example.com"),
                ("IDSYNC_ADMIN_OIDC_SCOPES", "groups"),
                ("IDSYNC_ADMIN_OIDC_NAME", "Keycloak"),
            ],
        )
        .unwrap();
        let oidc = config.admin_oidc.unwrap();
        assert_eq!(oidc.issuer, "http://127.0.0.1:9000");
        assert_eq!(oidc.client_id, "idsync");
        assert!(oidc.client_secret.is_none());
        assert_eq!(oidc.allowed_groups, ["admins", "cn=ops"]);
        assert_eq!(oidc.allowed_emails, ["a@example.com", "b@example.com"]);
        assert_eq!(oidc.scopes, ["groups"]);
        assert_eq!(oidc.name, "Keycloak");
    }

    #[test]
    fn admin_oidc_problems_name_the_key() {
        let p = problems(load(
            "[admin_oidc]\nissuer = \"https://sso.example.com\"\nallowed_emails = [\"a@example.com\"]\n",
            &[],
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("admin_oidc.client_id: missing"), "{p:?}");

        let p = problems(load(
            "[admin_oidc]\nissuer = \"https://sso.example.com\"\nclient_id = \"x\"\n",
            &[],
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("admin_oidc: set allowed_emails or allowed_groups"),
            "{p:?}"
        );

        let p = problems(load(
            "listen = \"0.0.0.0:8080\"\n[admin_oidc]\nissuer = \"http://sso.example.com\"\nclient_id = \"x\"\nallowed_emails = [\"nobody\"]\nclient_secret = \"a\"\nclient_secret_file = \"/nope\"\n",
            &[],
        ));
        let has = |prefix: &str| p.iter().any(|m| m.starts_with(prefix));
        assert!(
            has("admin_oidc.issuer: \"http://sso.example.com\" uses plain http"),
            "{p:?}"
        );
        assert!(has("admin_oidc.allowed_emails: \"nobody\""), "{p:?}");
        assert!(has("admin_oidc.client_secret: give either"), "{p:?}");
        assert!(has("public_url: required with admin_oidc"), "{p:?}");
        assert_eq!(p.len(), 4, "{p:?}");

        // Only an allow-list from the environment: the issuer is missing.
        let p = problems(load(
            "",
            &[("IDSYNC_ADMIN_OIDC_ALLOWED_EMAILS", "a@example.com")],
        ));
        assert!(
            p.iter()
                .any(|m| m.starts_with("admin_oidc.issuer: missing")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("admin_oidc.client_id: missing")),
            "{p:?}"
        );

        assert!(matches!(
            load("[admin_oidc]\nissuers = \"x\"\n", &[]),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn loopback_issuers() {
        for url in [
            "http://127.0.0.1:9000",
            "http://localhost/realms/x",
            "http://[::1]:8080",
            "http://auth.localhost",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://sso.example.com",
            "http://127.0.0.1.example.com",
            "http://10.0.0.1",
            "http://localhost@evil.example",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
