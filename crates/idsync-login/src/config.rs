//! Configuration: the sign-in providers, the session secret, the public URL.
//!
//! [`AuthBuilder`] is the one way in, filled from the environment
//! ([`AuthBuilder::from_env`]), programmatically, or both; everything is
//! validated in [`AuthBuilder::build`](crate::AuthBuilder::build), so a
//! running [`Auth`](crate::Auth) never holds a half-valid setting.

use std::net::IpAddr;
use std::time::Duration;

use idsync_core::Secret;
use idsync_store::{PgPool, UsersTable};
use openidconnect::url::{Host, Url};

/// Where the application is reached when `AUTH_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "http://localhost:3000";
/// How long a session lasts when not set otherwise.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The shortest accepted `AUTH_SECRET`, in characters.
pub const MIN_SECRET_CHARS: usize = 32;

/// The providers read from the environment: (provider id, variable prefix,
/// display name). The id is the last segment of the callback path,
/// `/api/auth/callback/{id}`. `None`: named by `{prefix}_NAME`, else by
/// the issuer's host.
const ENV_PROVIDERS: &[(&str, &str, Option<&str>)] = &[
    ("okta", "AUTH_OKTA", Some("Okta")),
    ("oidc", "AUTH_OIDC", None),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "AUTH_SECRET is not set: set it to a random string of at least {MIN_SECRET_CHARS} characters, e.g. the output of `openssl rand -base64 33`"
    )]
    MissingSecret,
    #[error(
        "AUTH_SECRET is too short ({chars} characters): use at least {MIN_SECRET_CHARS} random characters, e.g. the output of `openssl rand -base64 33`"
    )]
    ShortSecret { chars: usize },
    #[error(
        "no sign-in provider is configured: set AUTH_OKTA_ISSUER, AUTH_OKTA_ID and AUTH_OKTA_SECRET (Okta), or AUTH_OIDC_ISSUER, AUTH_OIDC_ID and AUTH_OIDC_SECRET (any OpenID Connect issuer)"
    )]
    NoProvider,
    #[error("{set} is set but {missing} is not: the provider needs {all}")]
    IncompleteProvider {
        set: String,
        missing: String,
        all: String,
    },
    #[error("invalid provider id {0:?}: use 1-32 lowercase letters, digits, '-' or '_'")]
    InvalidProviderId(String),
    #[error("provider {0:?} is configured twice")]
    DuplicateProvider(String),
    #[error("the client id of provider {0:?} is empty")]
    EmptyClientId(String),
    #[error("invalid issuer URL {value:?} of provider {provider:?}: {reason}")]
    InvalidIssuer {
        provider: String,
        value: String,
        reason: String,
    },
    #[error(
        "the issuer {value:?} of provider {provider:?} uses plain http: use https (http is accepted only for loopback hosts such as 127.0.0.1 or localhost, or with AuthBuilder::allow_insecure_http)"
    )]
    InsecureIssuer { provider: String, value: String },
    #[error("invalid AUTH_URL {value:?}: {reason}")]
    InvalidBaseUrl { value: String, reason: String },
    #[error("the session lifetime must be at least one second")]
    ZeroSessionTtl,
    #[error("could not set up the HTTP client for the issuers: {0}")]
    HttpClient(String),
    #[error("could not derive the cookie key from AUTH_SECRET: {0}")]
    KeyDerivation(String),
    #[error(
        "just-in-time sync writes users keyed by their `sub`, which is unique only within one issuer, but {0} providers are configured: sync the users of one issuer per users table"
    )]
    SyncWithSeveralIssuers(usize),
}

/// One OpenID Connect issuer and this application's client registration
/// with it.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) extra_scopes: Vec<String>,
}

impl ProviderConfig {
    /// A provider whose callback is `/api/auth/callback/{id}`. Scopes
    /// `openid email profile` are requested; add more with
    /// [`ProviderConfig::scopes`].
    pub fn new(
        id: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        let id = id.into();
        Self {
            display_name: id.clone(),
            id,
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            extra_scopes: Vec::new(),
        }
    }

    /// Okta (id `okta`, callback `/api/auth/callback/okta`), as in the Okta
    /// app integration of Neon's guide.
    pub fn okta(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self::new("okta", issuer, client_id)
            .client_secret(client_secret)
            .display_name("Okta")
    }

    /// The client secret (a confidential client). Without one, the client is
    /// public and relies on PKCE alone.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(Secret::new(secret));
        self
    }

    /// The name shown on the sign-in chooser and error pages.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Scopes to request besides `openid email profile`.
    pub fn scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.extra_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Builds an [`Auth`](crate::Auth). Nothing is contacted before the first
/// sign-in: the issuer's discovery document is fetched then (and cached), so
/// an application starts even while its issuer is unreachable, and the user
/// gets a clear page instead.
#[derive(Debug, Clone)]
pub struct AuthBuilder {
    pub(crate) providers: Vec<ProviderConfig>,
    pub(crate) secret: Option<Secret>,
    pub(crate) base_url: Option<String>,
    pub(crate) session_ttl: Duration,
    pub(crate) allow_insecure_http: bool,
    pub(crate) sync: Option<(PgPool, UsersTable)>,
    pub(crate) http_timeout: Duration,
}

impl Default for AuthBuilder {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            secret: None,
            base_url: None,
            session_ttl: DEFAULT_SESSION_TTL,
            allow_insecure_http: false,
            sync: None,
            http_timeout: Duration::from_secs(10),
        }
    }
}

impl AuthBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the process environment: `AUTH_SECRET`, `AUTH_URL`, and the
    /// providers `AUTH_OKTA_{ISSUER,ID,SECRET}` (id `okta`) and
    /// `AUTH_OIDC_{ISSUER,ID,SECRET}` (id `oidc`). Missing values are
    /// reported by [`AuthBuilder::build`], so settings can still be added
    /// programmatically.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`AuthBuilder::from_env`] with the variables taken from `lookup`.
    /// Empty values count as unset.
    pub fn from_lookup<F>(lookup: F) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = Self::new();
        if let Some(secret) = get("AUTH_SECRET") {
            builder.secret = Some(Secret::new(secret));
        }
        builder.base_url = get("AUTH_URL");
        for (id, prefix, display_name) in ENV_PROVIDERS {
            let names = ["ISSUER", "ID", "SECRET"].map(|suffix| format!("{prefix}_{suffix}"));
            let values = names.clone().map(|n| get(&n));
            let Some(set) = names.iter().zip(&values).find(|(_, v)| v.is_some()) else {
                continue;
            };
            if let Some((missing, _)) = names.iter().zip(&values).find(|(_, v)| v.is_none()) {
                return Err(ConfigError::IncompleteProvider {
                    set: set.0.clone(),
                    missing: missing.clone(),
                    all: names.join(", "),
                });
            }
            let [Some(issuer), Some(client_id), Some(secret)] = values else {
                continue;
            };
            let display_name = match display_name {
                Some(name) => (*name).to_owned(),
                None => get(&format!("{prefix}_NAME")).unwrap_or_else(|| issuer_host(&issuer)),
            };
            builder.providers.push(
                ProviderConfig::new(*id, issuer, client_id)
                    .client_secret(secret)
                    .display_name(display_name),
            );
        }
        Ok(builder)
    }

    /// Adds a provider (after those from the environment).
    pub fn provider(mut self, provider: ProviderConfig) -> Self {
        self.providers.push(provider);
        self
    }

    /// The master secret the cookie keys are derived from (`AUTH_SECRET`).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(Secret::new(secret));
        self
    }

    /// The public base URL of the application (`AUTH_URL`), e.g.
    /// `https://app.example.com`. The callback is
    /// `{base}/api/auth/callback/{provider}`; cookies are `Secure` when it is
    /// https.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Whether a base URL was given (by `AUTH_URL` or [`AuthBuilder::base_url`]).
    pub fn has_base_url(&self) -> bool {
        self.base_url.is_some()
    }

    /// How long a session lasts (default 30 days).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Accepts http issuers on any host, not only on loopback. For private
    /// networks in development (a Keycloak container, say); never in
    /// production.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Timeout of each request to an issuer (default 10 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// On every sign-in, upserts the user into `table` through idsync's
    /// applier, so a foreign key to the users table holds from the user's
    /// first request.
    pub fn sync_users(mut self, pool: PgPool, table: UsersTable) -> Self {
        self.sync = Some((pool, table));
        self
    }
}

/// `host[:port]` of an issuer URL, to name a provider by; the URL itself
/// when it does not parse (the error comes later, from the build).
fn issuer_host(issuer: &str) -> String {
    Url::parse(issuer)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| issuer.to_owned())
}

/// The session secret, checked for length.
pub(crate) fn check_secret(secret: Option<&Secret>) -> Result<&Secret, ConfigError> {
    let secret = secret.ok_or(ConfigError::MissingSecret)?;
    let chars = secret.expose().chars().count();
    if chars < MIN_SECRET_CHARS {
        return Err(ConfigError::ShortSecret { chars });
    }
    Ok(secret)
}

/// The application's public base URL, parsed.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    /// Without a trailing slash: `https://app.example.com` or
    /// `https://example.com/app`.
    pub url: String,
    /// `scheme://host[:port]`, as browsers send it in `Origin`.
    pub origin: String,
    /// The path prefix, empty or `/app`.
    pub path: String,
    pub https: bool,
}

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError::InvalidBaseUrl {
            value: raw.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("use an http or https URL")),
        };
        if url.host().is_none() {
            return Err(bad("the URL has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("the URL must not have a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("the URL must not contain credentials"));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        let origin = url.origin().ascii_serialization();
        Ok(Self {
            url: format!("{origin}{path}"),
            origin,
            path,
            https,
        })
    }
}

/// Whether `host` is this machine: 127.0.0.0/8, ::1, `localhost` and its
/// subdomains. Plain http to such an issuer never leaves the machine.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// Provider ids go into the callback path: keep them URL-safe.
pub(crate) fn check_provider_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidProviderId(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn reads_the_guides_okta_variables() {
        let b = AuthBuilder::from_lookup(lookup(&[
            ("AUTH_SECRET", SECRET),
            ("AUTH_OKTA_ISSUER", "https://dev-123.okta.com"),
            ("AUTH_OKTA_ID", "0oa1"),
            ("AUTH_OKTA_SECRET", "shh"),
        ]))
        .unwrap();
        assert_eq!(b.providers.len(), 1);
        let p = &b.providers[0];
        assert_eq!(p.id, "okta");
        assert_eq!(p.display_name, "Okta");
        assert_eq!(p.issuer, "https://dev-123.okta.com");
        assert_eq!(p.client_id, "0oa1");
        assert_eq!(p.client_secret.as_ref().unwrap().expose(), "shh");
        assert!(!b.has_base_url());
        assert!(b.build().is_ok());
    }

    #[test]
    fn reads_both_providers_in_order() {
        let b = AuthBuilder::from_lookup(lookup(&[
            ("AUTH_SECRET", SECRET),
            ("AUTH_OIDC_ISSUER", "https://id.example.com/realms/x"),
            ("AUTH_OIDC_ID", "app"),
            ("AUTH_OIDC_SECRET", "s"),
            ("AUTH_OKTA_ISSUER", "https://dev-123.okta.com"),
            ("AUTH_OKTA_ID", "0oa1"),
            ("AUTH_OKTA_SECRET", "shh"),
            ("AUTH_URL", "https://app.example.com/"),
        ]))
        .unwrap();
        let ids: Vec<_> = b.providers.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["okta", "oidc"]);
        assert_eq!(b.providers[1].display_name, "id.example.com");
        assert_eq!(b.base_url.as_deref(), Some("https://app.example.com/"));
    }

    #[test]
    fn generic_provider_can_be_named() {
        let b = AuthBuilder::from_lookup(lookup(&[
            ("AUTH_OIDC_ISSUER", "http://localhost:4000"),
            ("AUTH_OIDC_ID", "app"),
            ("AUTH_OIDC_SECRET", "s"),
        ]))
        .unwrap();
        assert_eq!(b.providers[0].display_name, "localhost:4000");
        let b = AuthBuilder::from_lookup(lookup(&[
            ("AUTH_OIDC_ISSUER", "https://kc.example.com/realms/x"),
            ("AUTH_OIDC_ID", "app"),
            ("AUTH_OIDC_SECRET", "s"),
            ("AUTH_OIDC_NAME", "Keycloak"),
        ]))
        .unwrap();
        assert_eq!(b.providers[0].display_name, "Keycloak");
    }

    #[test]
    fn incomplete_provider_names_the_missing_variable() {
        let err = AuthBuilder::from_lookup(lookup(&[
            ("AUTH_SECRET", SECRET),
            ("AUTH_OKTA_ISSUER", "https://dev-123.okta.com"),
            ("AUTH_OKTA_ID", "0oa1"),
            ("AUTH_OKTA_SECRET", "  "),
        ]))
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("AUTH_OKTA_SECRET is not"), "{msg}");
        assert!(msg.contains("AUTH_OKTA_ISSUER is set"), "{msg}");
    }

    #[test]
    fn secret_is_required_and_long_enough() {
        let okta = [
            ("AUTH_OKTA_ISSUER", "https://dev-123.okta.com"),
            ("AUTH_OKTA_ID", "0oa1"),
            ("AUTH_OKTA_SECRET", "shh"),
        ];
        let err = AuthBuilder::from_lookup(lookup(&okta))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecret));
        assert!(err.to_string().contains("openssl rand"));

        let mut vars = okta.to_vec();
        vars.push(("AUTH_SECRET", "too-short"));
        let err = AuthBuilder::from_lookup(lookup(&vars))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::ShortSecret { chars: 9 }),
            "{err}"
        );
        // The message must not echo the secret.
        assert!(!err.to_string().contains("too-short"));
    }

    #[test]
    fn no_provider_is_an_error() {
        let err = AuthBuilder::from_lookup(lookup(&[("AUTH_SECRET", SECRET)]))
            .unwrap()
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoProvider));
    }

    #[test]
    fn http_issuers_only_on_loopback_unless_allowed() {
        let build = |issuer: &str, allow: bool| {
            AuthBuilder::new()
                .secret(SECRET)
                .provider(ProviderConfig::new("oidc", issuer, "app"))
                .allow_insecure_http(allow)
                .build()
        };
        assert!(build("http://127.0.0.1:4000", false).is_ok());
        assert!(build("http://localhost:4000/oidc", false).is_ok());
        assert!(build("http://[::1]:4000", false).is_ok());
        assert!(matches!(
            build("http://keycloak:8080/realms/dev", false),
            Err(ConfigError::InsecureIssuer { .. })
        ));
        assert!(build("http://keycloak:8080/realms/dev", true).is_ok());
        assert!(matches!(
            build("not a url", false),
            Err(ConfigError::InvalidIssuer { .. })
        ));
        assert!(matches!(
            build("ftp://example.com", false),
            Err(ConfigError::InvalidIssuer { .. })
        ));
    }

    #[test]
    fn provider_ids_are_url_safe_and_unique() {
        let p = |id: &str| ProviderConfig::new(id, "https://id.example.com", "app");
        let base = || AuthBuilder::new().secret(SECRET);
        assert!(matches!(
            base().provider(p("Okta/1")).build(),
            Err(ConfigError::InvalidProviderId(_))
        ));
        assert!(matches!(
            base().provider(p("a")).provider(p("a")).build(),
            Err(ConfigError::DuplicateProvider(_))
        ));
        assert!(matches!(
            base()
                .provider(ProviderConfig::new("a", "https://id.example.com", " "))
                .build(),
            Err(ConfigError::EmptyClientId(_))
        ));
    }

    #[test]
    fn base_url_gives_origin_path_and_scheme() {
        let b = BaseUrl::parse("https://Example.com:8443/app/").unwrap();
        assert_eq!(b.url, "https://example.com:8443/app");
        assert_eq!(b.origin, "https://example.com:8443");
        assert_eq!(b.path, "/app");
        assert!(b.https);
        let b = BaseUrl::parse(DEFAULT_BASE_URL).unwrap();
        assert_eq!(b.url, "http://localhost:3000");
        assert_eq!(b.path, "");
        assert!(!b.https);
        for bad in [
            "localhost:3000",
            "ftp://x.example",
            "https://x.example/?a=1",
            "https://u:p@x.example",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
