//! One OpenID Connect issuer: discovery (cached), the authorization
//! request, the code exchange and ID token validation, userinfo, and the
//! end-session URL. The protocol work is `openidconnect`'s; this module
//! turns its results and errors into what the routes need.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreErrorResponseType,
    CoreUserInfoClaims,
};
use openidconnect::url::Url;
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, DiscoveryError, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::config::{ConfigError, ProviderConfig, is_loopback};
use crate::error::{LoginError, ProviderLabel};

type Metadata = ProviderMetadataWithLogout;
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long discovery metadata and keys are reused before being fetched
/// again.
const METADATA_TTL: Duration = Duration::from_secs(60 * 60);
/// A token signed with an unknown key makes us refetch the keys (the issuer
/// may have rotated them), but not more often than this.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Always requested; the provider's extra scopes come after.
const BASE_SCOPES: &[&str] = &["email", "profile"];

pub(crate) struct Provider {
    pub id: String,
    pub display_name: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    scopes: Vec<Scope>,
    redirect_uri: RedirectUrl,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    metadata: Arc<Metadata>,
    fetched: Instant,
}

/// Where to send the browser, and what to remember until it comes back.
pub(crate) struct AuthorizationStart {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A verified sign-in.
pub(crate) struct SignedIn {
    /// The ID token's claims (and userinfo's, for claims the ID token
    /// lacks), as JSON.
    pub claims: Map<String, Value>,
    /// The raw ID token, for `id_token_hint` at sign-out.
    pub id_token: String,
}

impl Provider {
    /// Validates a provider's configuration. `base_url` has no trailing
    /// slash.
    pub fn new(
        config: ProviderConfig,
        base_url: &str,
        allow_insecure_http: bool,
    ) -> Result<Self, ConfigError> {
        crate::config::check_provider_id(&config.id)?;
        let invalid = |reason: String| ConfigError::InvalidIssuer {
            provider: config.id.clone(),
            value: config.issuer.clone(),
            reason,
        };
        // Kept as written: discovery requires the document's `issuer` to be
        // exactly this string.
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| invalid(e.to_string()))?;
        match issuer.url().scheme() {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(issuer.url()) => {}
            "http" => {
                return Err(ConfigError::InsecureIssuer {
                    provider: config.id.clone(),
                    value: config.issuer.clone(),
                });
            }
            other => return Err(invalid(format!("unsupported scheme {other:?}"))),
        }
        if config.client_id.trim().is_empty() {
            return Err(ConfigError::EmptyClientId(config.id.clone()));
        }
        let redirect_uri = RedirectUrl::new(format!("{base_url}/api/auth/callback/{}", config.id))
            .map_err(|e| ConfigError::InvalidBaseUrl {
                value: base_url.to_owned(),
                reason: e.to_string(),
            })?;
        let mut scopes: Vec<Scope> = BASE_SCOPES
            .iter()
            .map(|s| Scope::new((*s).to_owned()))
            .collect();
        for extra in &config.extra_scopes {
            let extra = Scope::new(extra.clone());
            if extra.as_str() != "openid" && !scopes.contains(&extra) {
                scopes.push(extra);
            }
        }
        Ok(Self {
            id: config.id,
            display_name: config.display_name,
            issuer,
            client_id: ClientId::new(config.client_id.trim().to_owned()),
            client_secret: config
                .client_secret
                .map(|s| ClientSecret::new(s.expose().to_owned())),
            scopes,
            redirect_uri,
            cache: Mutex::new(None),
        })
    }

    pub fn label(&self) -> ProviderLabel {
        ProviderLabel {
            id: self.id.clone(),
            name: self.display_name.clone(),
        }
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }

    /// The issuer's metadata and keys: cached, or fetched when missing,
    /// older than [`METADATA_TTL`], or (`refresh`) older than
    /// [`MIN_REFRESH_INTERVAL`].
    async fn metadata(
        &self,
        http: &reqwest::Client,
        refresh: bool,
    ) -> Result<Arc<Metadata>, LoginError> {
        // Held across the fetch so concurrent sign-ins share one request.
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            let age = c.fetched.elapsed();
            let stale = age > METADATA_TTL || (refresh && age > MIN_REFRESH_INTERVAL);
            if !stale {
                return Ok(Arc::clone(&c.metadata));
            }
        }
        let started = Instant::now();
        let metadata = Metadata::discover_async(self.issuer.clone(), http)
            .await
            .map_err(|e| self.discovery_error(e))?;
        tracing::info!(
            provider = %self.id,
            issuer = %self.issuer.as_str(),
            keys = metadata.jwks().keys().len(),
            elapsed = ?started.elapsed(),
            "fetched the issuer's discovery document and keys"
        );
        let metadata = Arc::new(metadata);
        *cache = Some(Cached {
            metadata: Arc::clone(&metadata),
            fetched: Instant::now(),
        });
        Ok(metadata)
    }

    fn discovery_error(&self, e: DiscoveryError<HttpClientError<reqwest::Error>>) -> LoginError {
        let provider = self.label();
        let issuer = self.issuer.as_str();
        match e {
            DiscoveryError::Request(e) => LoginError::IssuerUnreachable {
                provider,
                detail: format!("{issuer}: {}", error_chain(&e)),
            },
            DiscoveryError::Response(status, _, msg) => LoginError::IssuerMisconfigured {
                provider,
                detail: format!(
                    "discovery of {issuer} failed (HTTP {status}): {msg}; is the issuer URL right?"
                ),
            },
            DiscoveryError::Validation(msg) => LoginError::IssuerMisconfigured {
                provider,
                detail: format!(
                    "the discovery document of {issuer} does not match: {msg}; set the issuer exactly as the document's `issuer`"
                ),
            },
            other => LoginError::IssuerMisconfigured {
                provider,
                detail: format!("discovery of {issuer} failed: {}", error_chain(&other)),
            },
        }
    }

    fn client(&self, metadata: &Metadata) -> Client {
        // client_secret_basic is the spec's default; use client_secret_post
        // only for an issuer that supports nothing else.
        let post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|m| {
                m.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        CoreClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect_uri.clone())
        .set_auth_type(if post_only {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        })
    }

    /// Builds the authorization request: code flow, PKCE (S256), fresh
    /// state and nonce.
    pub async fn start(&self, http: &reqwest::Client) -> Result<AuthorizationStart, LoginError> {
        let metadata = self.metadata(http, false).await?;
        let client = self.client(&metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizationStart {
            url,
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        })
    }

    /// Exchanges the code, validates the ID token (signature against the
    /// issuer's keys, `iss`, `aud`, `exp`, `nonce`, `at_hash`) and fetches
    /// userinfo when the ID token lacks the name or email.
    pub async fn finish(
        &self,
        http: &reqwest::Client,
        code: String,
        pkce_verifier: String,
        nonce: &str,
    ) -> Result<SignedIn, LoginError> {
        let mut metadata = self.metadata(http, false).await?;
        let client = self.client(&metadata);
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| LoginError::IssuerMisconfigured {
                provider: self.label(),
                detail: e.to_string(),
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(http)
            .await
            .map_err(|e| self.token_error(e))?;
        let id_token = token.id_token().ok_or_else(|| LoginError::InvalidIdToken {
            provider: self.label(),
            detail: "the token response has no id_token (is `openid` an allowed scope?)".to_owned(),
        })?;
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |client: &Client| {
            let verifier = client.id_token_verifier();
            id_token.claims(&verifier, &nonce).cloned()
        };
        let (client, claims) = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                // Maybe a key we have not seen yet: refetch the keys once.
                metadata = self.metadata(http, true).await?;
                let client = self.client(&metadata);
                let claims = verify(&client);
                (client, claims)
            }
            other => (client, other),
        };
        let claims = claims.map_err(|e| self.invalid_token(e.to_string()))?;

        if let Some(expected) = claims.access_token_hash() {
            let verifier = client.id_token_verifier();
            let alg = id_token
                .signing_alg()
                .map_err(|e| self.invalid_token(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| self.invalid_token(e.to_string()))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| self.invalid_token(e.to_string()))?;
            if actual != *expected {
                return Err(self.invalid_token("at_hash does not match the access token".into()));
            }
        }

        let raw = id_token.to_string();
        let mut all = jwt_payload(&raw).ok_or_else(|| {
            self.invalid_token("the ID token payload is not a JSON object".to_owned())
        })?;
        let lacks = |all: &Map<String, Value>, k: &str| all.get(k).is_none_or(Value::is_null);
        if (lacks(&all, "email") || lacks(&all, "name")) && metadata.userinfo_endpoint().is_some() {
            match self
                .userinfo(
                    &client,
                    token.access_token().clone(),
                    claims.subject().clone(),
                    http,
                )
                .await
            {
                Ok(extra) => {
                    for (k, v) in extra {
                        if !v.is_null() && lacks(&all, &k) {
                            all.insert(k, v);
                        }
                    }
                }
                // The sign-in stands without the profile; say why it is thin.
                Err(reason) => {
                    tracing::warn!(provider = %self.id, %reason, "userinfo request failed")
                }
            }
        }
        Ok(SignedIn {
            claims: all,
            id_token: raw,
        })
    }

    async fn userinfo(
        &self,
        client: &Client,
        access_token: openidconnect::AccessToken,
        subject: openidconnect::SubjectIdentifier,
        http: &reqwest::Client,
    ) -> Result<Map<String, Value>, String> {
        let claims: CoreUserInfoClaims = client
            .user_info(access_token, Some(subject))
            .map_err(|e| e.to_string())?
            .request_async(http)
            .await
            .map_err(|e| error_chain(&e))?;
        match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("userinfo is not a JSON object".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn invalid_token(&self, detail: String) -> LoginError {
        LoginError::InvalidIdToken {
            provider: self.label(),
            detail,
        }
    }

    fn token_error(
        &self,
        e: RequestTokenError<
            HttpClientError<reqwest::Error>,
            openidconnect::StandardErrorResponse<CoreErrorResponseType>,
        >,
    ) -> LoginError {
        let provider = self.label();
        match e {
            RequestTokenError::ServerResponse(resp) => {
                let code = resp.error().as_ref().to_owned();
                let description = resp.error_description().cloned();
                match resp.error() {
                    CoreErrorResponseType::InvalidClient
                    | CoreErrorResponseType::UnauthorizedClient => {
                        LoginError::ClientRejected { provider, code }
                    }
                    CoreErrorResponseType::InvalidGrant => LoginError::CodeRejected {
                        provider,
                        detail: description.unwrap_or(code),
                    },
                    _ => LoginError::ProviderError {
                        provider,
                        code,
                        description,
                    },
                }
            }
            RequestTokenError::Request(e) => LoginError::IssuerUnreachable {
                provider,
                detail: format!("token endpoint: {}", error_chain(&e)),
            },
            // Neither the body nor serde's message (which can quote a value
            // of it) is logged: it may hold tokens.
            RequestTokenError::Parse(e, _) => LoginError::IssuerMisconfigured {
                provider,
                detail: format!(
                    "the token endpoint's answer could not be parsed ({:?} error at `{}`)",
                    e.inner().classify(),
                    e.path()
                ),
            },
            RequestTokenError::Other(msg) => LoginError::IssuerMisconfigured {
                provider,
                detail: format!("token endpoint: {msg}"),
            },
        }
    }

    /// The issuer's `end_session_endpoint`, if it has one. Uses the cached
    /// metadata, or fetches it; a failure means "none" (sign-out must work
    /// while the issuer is down).
    pub async fn end_session_endpoint(&self, http: &reqwest::Client) -> Option<Url> {
        match self.metadata(http, false).await {
            Ok(m) => m
                .additional_metadata()
                .end_session_endpoint
                .as_ref()
                .map(|u| u.url().clone()),
            Err(e) => {
                tracing::warn!(provider = %self.id, error = %e, "no end-session endpoint: discovery failed");
                None
            }
        }
    }
}

/// The decoded payload of a JWS compact serialisation already verified by
/// `openidconnect`.
fn jwt_payload(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// An error and its sources on one line (reqwest says "error sending
/// request" and keeps "connection refused" in its source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_of_a_compact_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"u1","email":"a@example.com"}"#);
        let map = jwt_payload(&format!("e30.{payload}.c2ln")).unwrap();
        assert_eq!(map["sub"], "u1");
        assert!(jwt_payload("e30.bm90IGpzb24.c2ln").is_none());
        assert!(jwt_payload("nodots").is_none());
    }

    #[test]
    fn scopes_and_redirect_uri() {
        let p = Provider::new(
            ProviderConfig::new("okta", "https://dev-1.okta.com", "cid")
                .scopes(["openid", "groups", "email"]),
            "http://localhost:3000",
            false,
        )
        .unwrap();
        let scopes: Vec<_> = p.scopes.iter().map(|s| s.as_str().to_owned()).collect();
        assert_eq!(scopes, ["email", "profile", "groups"]);
        assert_eq!(
            p.redirect_uri.as_str(),
            "http://localhost:3000/api/auth/callback/okta"
        );
    }
}
