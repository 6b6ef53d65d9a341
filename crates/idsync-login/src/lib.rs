//! OpenID Connect sign-in for axum applications (Okta, Auth0, Keycloak, any
//! OpenID Connect issuer), with encrypted cookie sessions, a
//! [`CurrentUser`] extractor, and optional just-in-time sync of the
//! signed-in user into idsync's users table.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use idsync_login::{Auth, CurrentUser, MaybeUser};
//!
//! async fn home(MaybeUser(user): MaybeUser) -> String {
//!     match user {
//!         Some(u) => format!("Welcome, {}!", u.display_name()),
//!         None => "Please sign in at /api/auth/signin".to_owned(),
//!     }
//! }
//!
//! async fn me(user: CurrentUser) -> String {
//!     user.id.to_string()
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // AUTH_SECRET, AUTH_OKTA_ISSUER, AUTH_OKTA_ID, AUTH_OKTA_SECRET [, AUTH_URL]
//! let auth = Auth::from_env()?;
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route("/me", get(me))
//!     .merge(auth.router())
//!     .layer(auth.layer());
//! # Ok(()) }
//! ```
//!
//! The flow is the authorization-code flow with PKCE (S256), `state` and
//! `nonce`; the ID token is validated against the issuer's keys found by
//! discovery (`{issuer}/.well-known/openid-configuration`, cached for an
//! hour, refetched when a token names an unknown key). Issuers must use
//! https, except on loopback hosts (or with
//! [`AuthBuilder::allow_insecure_http`]).
//!
//! Sessions live in an encrypted, authenticated cookie keyed from
//! `AUTH_SECRET` (`HttpOnly`, `SameSite=Lax`, `Secure` when `AUTH_URL` is
//! https), with the expiry inside the encrypted payload. Sessions are not
//! stored server-side: signing out removes the cookie (and ends the
//! issuer's session when it supports RP-initiated logout), but a copy of
//! the cookie taken before stays valid until it expires. Open the
//! application at `AUTH_URL`: the sign-in cookies and the origin check of
//! unsafe requests are tied to it.

mod config;
mod error;
mod extract;
mod jit;
mod pages;
mod provider;
mod routes;
mod session;

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::{Extension, Router};
use axum_extra::extract::cookie::{Key, PrivateCookieJar};

pub use config::{
    AuthBuilder, ConfigError, DEFAULT_BASE_URL, DEFAULT_SESSION_TTL, MIN_SECRET_CHARS,
    ProviderConfig,
};
pub use extract::{AuthRejection, CurrentUser, MaybeUser};

use config::BaseUrl;
use jit::UserSync;
use provider::Provider;
use session::{CookiePolicy, read_session};

/// The login layer: configuration, keys, providers. Cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Inner>);

struct Inner {
    providers: Vec<Provider>,
    key: Key,
    base: BaseUrl,
    cookies: CookiePolicy,
    http: reqwest::Client,
    sync: Option<UserSync>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("base_url", &self.0.base.url)
            .field(
                "providers",
                &self.0.providers.iter().map(|p| &p.id).collect::<Vec<_>>(),
            )
            .field("sync_users", &self.0.sync.as_ref().map(|s| &s.table))
            .finish_non_exhaustive()
    }
}

impl AuthBuilder {
    /// Checks the configuration as [`AuthBuilder::build`] does, without
    /// building: to report mistakes before starting anything else.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.checked().map(|_| ())
    }

    fn checked(&self) -> Result<(Key, BaseUrl, Vec<Provider>), ConfigError> {
        let secret = config::check_secret(self.secret.as_ref())?;
        let key = session::derive_key(secret)?;
        let base = BaseUrl::parse(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;
        if self.session_ttl.as_secs() == 0 {
            return Err(ConfigError::ZeroSessionTtl);
        }
        if self.providers.is_empty() {
            return Err(ConfigError::NoProvider);
        }
        // Two issuers may hand out the same `sub` to different people; one
        // users table must hold one issuer's users.
        if self.sync.is_some() && self.providers.len() > 1 {
            return Err(ConfigError::SyncWithSeveralIssuers(self.providers.len()));
        }
        let mut providers: Vec<Provider> = Vec::with_capacity(self.providers.len());
        for p in &self.providers {
            if providers.iter().any(|q| q.id == p.id) {
                return Err(ConfigError::DuplicateProvider(p.id.clone()));
            }
            providers.push(Provider::new(
                p.clone(),
                &base.url,
                self.allow_insecure_http,
            )?);
        }
        Ok((key, base, providers))
    }

    /// Validates the configuration and builds the layer. Contacts no issuer.
    pub fn build(self) -> Result<Auth, ConfigError> {
        let (key, base, providers) = self.checked()?;
        // No redirects: a discovery or token request must not be bounced to
        // an address the issuer did not name itself (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.http_timeout)
            .timeout(self.http_timeout)
            .user_agent(concat!("idsync-login/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        let cookies = CookiePolicy {
            secure: base.https,
            path: if base.path.is_empty() {
                "/".to_owned()
            } else {
                base.path.clone()
            },
            session_ttl_secs: i64::try_from(self.session_ttl.as_secs()).unwrap_or(i64::MAX),
        };
        if !base.https {
            tracing::debug!(base_url = %base.url, "AUTH_URL is plain http: session cookies are not marked Secure");
        }
        for p in &providers {
            tracing::info!(provider = %p.id, issuer = %p.issuer(), redirect_uri = %format!("{}/api/auth/callback/{}", base.url, p.id), "sign-in provider configured");
        }
        Ok(Auth(Arc::new(Inner {
            providers,
            key,
            base,
            cookies,
            http,
            sync: self.sync.map(|(pool, table)| UserSync { pool, table }),
        })))
    }
}

impl Auth {
    pub fn builder() -> AuthBuilder {
        AuthBuilder::new()
    }

    /// [`AuthBuilder::from_env`], then [`AuthBuilder::build`].
    pub fn from_env() -> Result<Self, ConfigError> {
        AuthBuilder::from_env()?.build()
    }

    /// The sign-in, callback and sign-out routes, to merge into the
    /// application's router.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        routes::router(self.clone())
    }

    /// The layer that makes [`CurrentUser`] and [`MaybeUser`] work: add it
    /// to the application's router, after the routes that use them.
    pub fn layer(&self) -> Extension<Auth> {
        Extension(self.clone())
    }

    /// The signed-in user of a request with these headers, if any. What the
    /// extractors use; for middleware of your own.
    pub fn user(&self, headers: &HeaderMap) -> Option<CurrentUser> {
        let jar = PrivateCookieJar::from_headers(headers, self.0.key.clone());
        let s = read_session(&jar, chrono::Utc::now().timestamp())?;
        let id = idsync_core::UserId::parse(&s.sub)?;
        // A session from a provider since removed from the configuration
        // is not honoured.
        self.provider(&s.provider)?;
        Some(CurrentUser {
            id,
            name: s.name,
            email: s.email,
            provider: s.provider,
            email_verified: s.email_verified,
            groups: s.groups,
        })
    }

    /// Whether a request with these headers comes from the application's
    /// own origin (see [`CurrentUser`]). For handlers of unsafe requests
    /// that do not take a `CurrentUser`.
    pub fn is_same_origin(&self, headers: &HeaderMap) -> bool {
        extract::same_origin(headers, &self.0.base.origin)
    }

    /// The public base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.0.base.url
    }

    /// The path of the sign-in route, with a provider (else the chooser
    /// when there are several) and where to come back (a path of this
    /// application), percent-encoded.
    pub fn signin_url(&self, provider: Option<&str>, return_to: Option<&str>) -> String {
        let mut query = Vec::new();
        if let Some(p) = provider {
            query.push(format!("provider={}", encode(p)));
        }
        if let Some(r) = return_to.filter(|r| *r != "/") {
            query.push(format!("return_to={}", encode(r)));
        }
        let base = format!("{}/api/auth/signin", self.0.base.path);
        if query.is_empty() {
            base
        } else {
            format!("{base}?{}", query.join("&"))
        }
    }

    /// The path the sign-out form posts to.
    pub fn signout_url(&self) -> String {
        format!("{}/api/auth/signout", self.0.base.path)
    }

    /// The configured providers: (id, display name).
    pub fn providers(&self) -> Vec<(&str, &str)> {
        self.0
            .providers
            .iter()
            .map(|p| (p.id.as_str(), p.display_name.as_str()))
            .collect()
    }

    fn provider(&self, id: &str) -> Option<&Provider> {
        self.0.providers.iter().find(|p| p.id == id)
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(base: &str) -> Auth {
        Auth::builder()
            .secret("0123456789abcdef0123456789abcdef")
            .base_url(base)
            .provider(ProviderConfig::okta("https://dev-1.okta.com", "cid", "s"))
            .build()
            .unwrap()
    }

    #[test]
    fn signin_url_encodes_return_to() {
        let a = auth("http://localhost:3000");
        assert_eq!(a.signin_url(None, None), "/api/auth/signin");
        assert_eq!(a.signin_url(None, Some("/")), "/api/auth/signin");
        assert_eq!(
            a.signin_url(Some("okta"), Some("/q?a=1&b=2")),
            "/api/auth/signin?provider=okta&return_to=/q%3Fa%3D1%26b%3D2"
        );
        let a = auth("https://example.com/app/");
        assert_eq!(a.signin_url(None, None), "/app/api/auth/signin");
        assert_eq!(a.signout_url(), "/app/api/auth/signout");
        assert_eq!(a.base_url(), "https://example.com/app");
    }

    #[tokio::test]
    async fn sync_takes_the_users_of_one_issuer_only() {
        let pool = idsync_store::PgPool::connect_lazy("postgres://127.0.0.1:1/none").unwrap();
        let table = idsync_store::UsersTable::new(
            idsync_core::SqlIdent::parse("neon_identity").unwrap(),
            idsync_core::SqlIdent::parse("users_sync").unwrap(),
        );
        let builder = || {
            Auth::builder()
                .secret("0123456789abcdef0123456789abcdef")
                .provider(ProviderConfig::okta("https://dev-1.okta.com", "cid", "s"))
                .sync_users(pool.clone(), table.clone())
        };
        assert!(builder().build().is_ok());
        let two = builder().provider(ProviderConfig::new(
            "google",
            "https://accounts.google.com",
            "cid",
        ));
        assert!(matches!(
            two.build(),
            Err(ConfigError::SyncWithSeveralIssuers(2))
        ));
    }

    #[test]
    fn debug_shows_no_secret() {
        let a = auth("http://localhost:3000");
        let shown = format!("{a:?}");
        assert!(shown.contains("okta"), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
}
