//! Console sign-in through OpenID Connect, limited to configured admin
//! emails or groups.
//!
//! The protocol work is the login layer's (`idsync-login`, mounted at
//! `/api/auth/*`): the login page links to its sign-in with
//! `return_to=/console/oidc`; it verifies the ID token and writes its own
//! session cookie. `GET /console/oidc` reads that session, checks the
//! allow-lists and exchanges it for the ordinary console session, the same
//! cookie the admin token buys, so expiry and CSRF work identically. Both
//! cookies are named `idsync_session` (sealed with different keys): the
//! exchange overwrites the login layer's session instead of leaving a
//! second one behind.
//!
//! The admin JSON API does not take these sessions: it stays bearer-token
//! only.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use idsync_core::Secret;
use idsync_login::{Auth, CurrentUser, ProviderConfig};
use maud::{DOCTYPE, Markup, html};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use super::PageError;
use super::layout::{self, Page};
use super::session::{self, Jar, Session};
use crate::AppState;
use crate::admin::AdminAccess;

/// The login layer's provider id: the last segment of the callback path.
const PROVIDER_ID: &str = "oidc";
/// The login layer's callback for [`PROVIDER_ID`].
pub(super) const CALLBACK_PATH: &str = "/api/auth/callback/oidc";
/// Where the login layer sends the browser once signed in.
pub(super) const LANDING_PATH: &str = "/console/oidc";
/// The button label when none is configured.
pub const DEFAULT_NAME: &str = "Single sign-on";
/// The login layer's session only has to last until it is exchanged for a
/// console session (or, when refused, until the user signs out).
const LOGIN_SESSION_TTL: Duration = Duration::from_secs(10 * 60);

/// `[admin_oidc]` as configured.
#[derive(Debug, Clone)]
pub struct AdminOidcConfig {
    /// The issuer URL, exactly as its discovery document names itself.
    pub issuer: String,
    pub client_id: String,
    /// `None`: a public client, relying on PKCE alone.
    pub client_secret: Option<Secret>,
    /// Emails that may use the console, matched ignoring case, and only
    /// when the ID token says `email_verified: true`.
    pub allowed_emails: Vec<String>,
    /// Values of the ID token's `groups` claim that may use the console,
    /// matched exactly.
    pub allowed_groups: Vec<String>,
    /// Scopes to request besides `openid email profile` (e.g. `groups`).
    pub scopes: Vec<String>,
    /// The button label: "Sign in with {name}".
    pub name: String,
}

impl AdminOidcConfig {
    /// The allowed emails, trimmed and lowercased.
    fn emails(&self) -> BTreeSet<String> {
        self.allowed_emails
            .iter()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    }

    fn groups(&self) -> BTreeSet<String> {
        self.allowed_groups
            .iter()
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .collect()
    }

    /// Who is admitted, in one canonical string: `serve` binds console
    /// sessions to it (see [`AdminAccess::scoped`]).
    pub fn admission_scope(&self) -> String {
        serde_json::json!({
            "issuer": self.issuer,
            "emails": self.emails(),
            "groups": self.groups(),
        })
        .to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminOidcError {
    #[error(
        "admin_oidc: set allowed_emails or allowed_groups; without an allow-list everyone who can sign in at the issuer would be an idsync admin"
    )]
    NoAllowList,
    #[error("admin_oidc: {0}")]
    Login(#[from] idsync_login::ConfigError),
}

/// Console sign-in through OpenID Connect: the login layer and who it
/// admits.
pub struct AdminOidc {
    auth: Auth,
    /// The login layer's routes, served under `/api/auth/`.
    routes: Router,
    name: String,
    issuer_origin: String,
    /// Lowercased.
    emails: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl std::fmt::Debug for AdminOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOidc")
            .field("auth", &self.auth)
            .field("emails", &self.emails.len())
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

/// Why a signed-in user may use the console.
enum Grant {
    Email,
    Group(String),
}

impl AdminOidc {
    /// Validates the configuration and sets up the login layer. Contacts no
    /// issuer. `public_url` is idsync's base URL: the issuer sends browsers
    /// back to `{public_url}/api/auth/callback/oidc`. The login layer's
    /// cookie key is derived from the admin token, so with a configured
    /// token every replica accepts the same sign-ins, and with a generated
    /// one a sign-in in progress does not survive a restart.
    pub fn new(
        config: AdminOidcConfig,
        public_url: &str,
        admin: &AdminAccess,
    ) -> Result<Self, AdminOidcError> {
        let (emails, groups) = (config.emails(), config.groups());
        if emails.is_empty() && groups.is_empty() {
            return Err(AdminOidcError::NoAllowList);
        }
        let name = match config.name.trim() {
            "" => DEFAULT_NAME.to_owned(),
            n => n.to_owned(),
        };
        let issuer_origin = origin_of(&config.issuer);
        let mut provider = ProviderConfig::new(PROVIDER_ID, config.issuer, config.client_id)
            .display_name(name.clone())
            .scopes(config.scopes);
        if let Some(secret) = config.client_secret {
            provider = provider.client_secret(secret.expose());
        }
        let auth = Auth::builder()
            .secret(login_secret(admin.token()))
            .base_url(public_url)
            .session_ttl(LOGIN_SESSION_TTL)
            .provider(provider)
            .build()?;
        let routes = auth.router();
        Ok(Self {
            auth,
            routes,
            name,
            issuer_origin,
            emails,
            groups,
        })
    }

    /// The redirect URI to register with the issuer.
    pub fn callback_url(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.auth.base_url())
    }

    /// The button label: "Sign in with {name}".
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the login page's button goes.
    pub(super) fn signin_url(&self) -> String {
        self.auth.signin_url(Some(PROVIDER_ID), Some(LANDING_PATH))
    }

    /// Whether `user` may use the console. An email counts only when the
    /// issuer says it is verified: otherwise anyone could have typed it,
    /// and an issuer that omits the claim vouches for nothing.
    fn admits(&self, user: &CurrentUser) -> Option<Grant> {
        let email_ok = user.email_verified == Some(true)
            && user
                .email
                .as_deref()
                .is_some_and(|e| self.emails.contains(&e.trim().to_lowercase()));
        if email_ok {
            return Some(Grant::Email);
        }
        user.groups
            .iter()
            .find(|g| self.groups.contains(g.as_str()))
            .map(|g| Grant::Group(g.clone()))
    }
}

/// The login layer's secret: derived from the admin token (never the token
/// itself, and not the console's cookie key either), hex so it has the
/// length the login layer asks for.
fn login_secret(token: &Secret) -> String {
    Sha256::digest(format!(
        "idsync admin-oidc login cookies:{}",
        token.expose()
    ))
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect()
}

/// `scheme://host[:port]` of a URL, for the sign-out form's CSP; empty
/// when there is none to find.
fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.trim().split_once("://") else {
        return String::new();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['\'', ';', ' ', '"']) {
        return String::new();
    }
    format!("{}://{authority}", scheme.to_ascii_lowercase())
}

/// `/api/auth/{signin,callback/oidc,signout}`: the login layer's routes,
/// when admin OIDC is configured.
pub(super) async fn login_layer(State(state): State<AppState>, request: Request) -> Response {
    let Some(oidc) = state.admin_oidc.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match oidc.routes.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// `GET /console/oidc`: the login layer's session becomes a console
/// session, if its user is an admin.
pub(super) async fn landing(
    State(state): State<AppState>,
    Jar(jar): Jar,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(oidc) = state.admin_oidc.as_ref() else {
        return Err(PageError::NotFound(
            "Single sign-on is not configured for this console.".to_owned(),
        ));
    };
    let Some(user) = oidc.auth.user(&headers) else {
        // Nothing to exchange: an old tab, or already exchanged.
        let to = if Session::from_jar(&jar).is_some() {
            "/"
        } else {
            "/login"
        };
        return Ok(Redirect::to(to).into_response());
    };
    match oidc.admits(&user) {
        Some(grant) => {
            let via = match &grant {
                Grant::Email => "email".to_owned(),
                Grant::Group(g) => format!("group {g}"),
            };
            tracing::info!(
                user_id = %user.id,
                email = user.email.as_deref().unwrap_or(""),
                via = %via,
                "console sign-in through OpenID Connect"
            );
            let jar = jar.add(session::session_cookie(&state));
            Ok((jar, continue_page()).into_response())
        }
        None => {
            tracing::warn!(
                user_id = %user.id,
                email = user.email.as_deref().unwrap_or(""),
                email_verified = ?user.email_verified,
                groups = user.groups.len(),
                "console sign-in refused: not in admin_oidc.allowed_emails or allowed_groups"
            );
            Ok(refused_page(oidc, &user))
        }
    }
}

/// A page that moves on to `/` by itself. Not a redirect: the browser
/// arrives here at the end of redirects started on the issuer's site, and
/// would not send the new `SameSite=Strict` console cookie along a redirect
/// of that same chain; a refresh from this page is a same-site navigation.
fn continue_page() -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="0;url=/";
                title { "Signed in · idsync" }
                link rel="stylesheet" href="/console/style.css";
            }
            body {
                main.container {
                    section.card.narrow {
                        h1 { "Signed in" }
                        p { a href="/" { "Continue to the console" } }
                    }
                }
            }
        }
    }
}

/// 403, with a way to sign out of the issuer and try another account.
fn refused_page(oidc: &AdminOidc, user: &CurrentUser) -> Response {
    let who = user.email.as_deref().unwrap_or(user.display_name());
    // `None` without an email; otherwise the `email_verified` claim.
    let verified = user.email.as_ref().map(|_| user.email_verified);
    let page = Page {
        title: "Not an idsync admin",
        crumbs: Vec::new(),
        session: None,
        flash: None,
    };
    let body = page.render(html! {
        section.card.narrow {
            h1 { "Not an idsync admin" }
            p { "Signed in as " strong { (who) } ", which is not an idsync admin." }
            @match verified {
                Some(Some(false)) => p { "The sign-in provider has not verified this email address, so it is not accepted." },
                Some(None) => p { "The sign-in provider does not say whether this email address is verified (no " code { "email_verified" } " claim), so it is not accepted: only a group can admit you." },
                _ => {},
            }
            p.muted {
                "An idsync administrator can add "
                @if verified != Some(None) {
                    "the address to " code { "admin_oidc.allowed_emails" } " or "
                }
                "one of your groups to " code { "admin_oidc.allowed_groups" } "."
            }
            form.stack method="post" action=(oidc.auth.signout_url()) {
                button.button type="submit" { "Sign out" }
            }
            p { a href="/login" { "Back to sign in" } }
        }
    });
    // Signing out ends with a redirect to the issuer's end-session
    // endpoint, which `form-action 'self'` would block.
    let csp = format!(
        "default-src 'self'; frame-ancestors 'none'; form-action 'self' {}; base-uri 'none'",
        oidc.issuer_origin
    );
    let mut response = (StatusCode::FORBIDDEN, body).into_response();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// The login page's button, and the redirect URI to register.
pub(super) fn login_button(state: &AppState) -> Option<layout::SsoButton> {
    state.admin_oidc.as_ref().map(|oidc| layout::SsoButton {
        name: oidc.name().to_owned(),
        href: oidc.signin_url(),
        callback: oidc.callback_url(),
    })
}

#[cfg(test)]
mod tests {
    use idsync_core::UserId;

    use super::*;

    fn config() -> AdminOidcConfig {
        AdminOidcConfig {
            issuer: "https://sso.example.com/realms/ops".into(),
            client_id: "idsync".into(),
            client_secret: Some(Secret::new("s")),
            allowed_emails: vec![" Ada@Example.com ".into()],
            allowed_groups: vec!["idsync-admins".into()],
            scopes: vec!["groups".into()],
            name: String::new(),
        }
    }

    fn admin() -> AdminAccess {
        AdminAccess::new(Secret::new("admin-token-0123456789"))
    }

    fn user(email: Option<&str>, verified: Option<bool>, groups: &[&str]) -> CurrentUser {
        CurrentUser {
            id: UserId::parse("u1").unwrap(),
            name: None,
            email: email.map(str::to_owned),
            provider: PROVIDER_ID.into(),
            email_verified: verified,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    #[test]
    fn admits_allowed_emails_ignoring_case_unless_unverified() {
        let oidc = AdminOidc::new(config(), "https://idsync.example.com", &admin()).unwrap();
        assert!(matches!(
            oidc.admits(&user(Some("ADA@example.COM"), Some(true), &[])),
            Some(Grant::Email)
        ));
        assert!(
            oidc.admits(&user(Some("ada@example.com"), Some(false), &[]))
                .is_none()
        );
        assert!(
            oidc.admits(&user(Some("ada@example.com"), None, &[]))
                .is_none(),
            "an issuer that omits email_verified does not vouch for the email"
        );
        assert!(
            oidc.admits(&user(Some("eve@example.com"), Some(true), &[]))
                .is_none()
        );
        assert!(oidc.admits(&user(None, None, &[])).is_none());
    }

    #[test]
    fn admits_allowed_groups_exactly() {
        let oidc = AdminOidc::new(config(), "https://idsync.example.com", &admin()).unwrap();
        assert!(matches!(
            oidc.admits(&user(Some("eve@example.com"), Some(false), &["staff", "idsync-admins"])),
            Some(Grant::Group(g)) if g == "idsync-admins"
        ));
        assert!(oidc.admits(&user(None, None, &["IDSYNC-ADMINS"])).is_none());
    }

    #[test]
    fn an_allow_list_is_required() {
        let c = AdminOidcConfig {
            allowed_emails: vec![" ".into()],
            allowed_groups: Vec::new(),
            ..config()
        };
        assert!(matches!(
            AdminOidc::new(c, "https://idsync.example.com", &admin()),
            Err(AdminOidcError::NoAllowList)
        ));
    }

    #[test]
    fn urls_and_defaults() {
        let oidc = AdminOidc::new(config(), "https://idsync.example.com/", &admin()).unwrap();
        assert_eq!(
            oidc.callback_url(),
            "https://idsync.example.com/api/auth/callback/oidc"
        );
        assert_eq!(
            oidc.signin_url(),
            "/api/auth/signin?provider=oidc&return_to=/console/oidc"
        );
        assert_eq!(CALLBACK_PATH, format!("/api/auth/callback/{PROVIDER_ID}"));
        assert_eq!(oidc.name(), DEFAULT_NAME);
        assert_eq!(oidc.issuer_origin, "https://sso.example.com");
        let shown = format!("{oidc:?}");
        assert!(!shown.contains("admin-token"), "{shown}");
    }

    #[test]
    fn login_secret_is_derived_not_the_token() {
        let token = Secret::new("admin-token-0123456789");
        let s = login_secret(&token);
        assert_eq!(s.len(), 64);
        assert!(!s.contains(token.expose()));
        assert_ne!(s, login_secret(&Secret::new("another-token-0123456789")));
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://a.example.com:8443/x/y"),
            "https://a.example.com:8443"
        );
        assert_eq!(origin_of("HTTP://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(origin_of("nope"), "");
        assert_eq!(origin_of("https://a.example'; script-src *"), "");
    }
}
