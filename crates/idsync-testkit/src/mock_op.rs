//! A small OpenID Provider on loopback for the login layer's and the
//! console's tests: the endpoints the code flow touches (discovery, JWKS,
//! authorize, token, userinfo, end session), an Ed25519 key made per test,
//! PKCE and client authentication checked like a real issuer does, the
//! user to sign in as ([`MockOp::sign_in_as`], with `email_verified` and
//! `groups`), and switches to make it misbehave (another issuer or
//! audience, a wrong nonce, an unknown key, an error from the token
//! endpoint).
//!
//! The browser test of `examples/quotes` runs against a real provider
//! (`oidc-provider`); this one exists to produce the bad tokens a real
//! provider never would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreEdDsaPrivateSigningKey, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, EndUserEmail, EndUserName, IdToken, IdTokenClaims,
    IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "quotes-app";
pub const CLIENT_SECRET: &str = "client-secret-for-tests";

/// Ways to make the next token response wrong.
#[derive(Debug, Default, Clone)]
pub struct Misbehave {
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub unknown_key: bool,
    /// (HTTP status, OAuth error code) from the token endpoint.
    pub token_error: Option<(u16, &'static str)>,
}

/// The `groups` claim, which the core claims lack.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Groups {
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
}
impl AdditionalClaims for Groups {}

/// Who the next sign-in is (see [`MockOp::sign_in_as`]).
#[derive(Debug, Clone)]
pub struct MockUser {
    pub sub: &'static str,
    pub email: &'static str,
    pub email_verified: Option<bool>,
    pub groups: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct Pending {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    user: Option<MockUser>,
}

struct OpState {
    issuer: String,
    misbehave: Misbehave,
    token_requests: usize,
    /// Set by [`MockOp::sign_in_as`]; `None` is Ada (see [`token`]).
    user: Option<MockUser>,
    key: CoreEdDsaPrivateSigningKey,
    other_key: CoreEdDsaPrivateSigningKey,
    pending: HashMap<String, Pending>,
    /// Access token to the userinfo answer.
    access_tokens: HashMap<String, serde_json::Value>,
    /// The `scope` of every authorization request, in order.
    scopes: Vec<String>,
}

#[derive(Clone)]
pub struct MockOp {
    pub url: String,
    state: Arc<Mutex<OpState>>,
}

impl MockOp {
    pub async fn start() -> MockOp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(OpState {
            issuer: url.clone(),
            misbehave: Misbehave::default(),
            token_requests: 0,
            user: None,
            key: ed25519_key("key-1"),
            other_key: ed25519_key("key-1"),
            pending: HashMap::new(),
            access_tokens: HashMap::new(),
            scopes: Vec::new(),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockOp { url, state }
    }

    pub fn misbehave(&self, m: Misbehave) {
        self.state.lock().unwrap().misbehave = m;
    }

    pub fn token_requests(&self) -> usize {
        self.state.lock().unwrap().token_requests
    }

    /// The user the next authorization request approves.
    pub fn sign_in_as(&self, user: MockUser) {
        self.state.lock().unwrap().user = Some(user);
    }

    /// The scopes of the last authorization request.
    pub fn last_scopes(&self) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.scopes
            .last()
            .map(|s| s.split(' ').map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

/// A fresh Ed25519 key as PKCS#8 PEM: the fixed DER prefix of an Ed25519
/// private key, then 32 random bytes.
fn ed25519_key(kid: &str) -> CoreEdDsaPrivateSigningKey {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&rand::random::<[u8; 32]>());
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    );
    CoreEdDsaPrivateSigningKey::from_ed25519_pem(&pem, Some(JsonWebKeyId::new(kid.to_owned())))
        .unwrap()
}

type Shared = State<Arc<Mutex<OpState>>>;

async fn discovery(State(s): Shared) -> Json<serde_json::Value> {
    let iss = s.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/session/end"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
    }))
}

async fn jwks(State(s): Shared) -> Json<serde_json::Value> {
    let key = s.lock().unwrap().key.as_verification_key();
    Json(json!({ "keys": [key] }))
}

/// Approves at once (no login page) as the current user and sends the
/// browser back with a code.
async fn authorize(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    assert_eq!(get("response_type"), "code");
    assert_eq!(get("client_id"), CLIENT_ID);
    assert_eq!(get("code_challenge_method"), "S256");
    let scopes = get("scope");
    assert!(scopes.split(' ').any(|s| s == "openid"), "{scopes}");
    let code = format!("code-{}", rand::random::<u64>());
    let mut st = s.lock().unwrap();
    st.scopes.push(scopes);
    let user = st.user.clone();
    st.pending.insert(
        code.clone(),
        Pending {
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            redirect_uri: get("redirect_uri"),
            user,
        },
    );
    let to = format!(
        "{}?code={code}&state={}&iss={}",
        get("redirect_uri"),
        urlencode(&get("state")),
        urlencode(&st.issuer)
    );
    Redirect::to(&to).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

fn oauth_error(status: u16, code: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({ "error": code, "error_description": format!("mock: {code}") })),
    )
        .into_response()
}

async fn token(State(s): Shared, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let mut st = s.lock().unwrap();
    st.token_requests += 1;
    if let Some((status, code)) = st.misbehave.token_error {
        return oauth_error(status, code);
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()) != Some(expected.as_bytes()) {
        return oauth_error(401, "invalid_client");
    }
    assert_eq!(f.grant_type, "authorization_code");
    let Some(p) = st.pending.remove(&f.code) else {
        return oauth_error(400, "invalid_grant");
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(f.code_verifier.as_bytes()));
    if challenge != p.challenge || f.redirect_uri != p.redirect_uri {
        return oauth_error(400, "invalid_grant");
    }
    let m = st.misbehave.clone();
    let access = AccessToken::new(format!("at-{}", rand::random::<u64>()));
    let (standard, groups, userinfo) = match p.user {
        Some(u) => (
            StandardClaims::new(SubjectIdentifier::new(u.sub.to_owned()))
                .set_name(Some(EndUserName::new(u.sub.to_owned()).into()))
                .set_email(Some(EndUserEmail::new(u.email.to_owned())))
                .set_email_verified(u.email_verified),
            u.groups.map(|g| g.into_iter().map(str::to_owned).collect()),
            json!({ "sub": u.sub, "name": u.sub, "email": u.email }),
        ),
        // Ada, like oidc-provider: the ID token carries the name, userinfo
        // the email.
        None => (
            StandardClaims::new(SubjectIdentifier::new("u-ada".to_owned()))
                .set_name(Some(EndUserName::new("Ada Lovelace".to_owned()).into())),
            None,
            json!({
                "sub": "u-ada",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "email_verified": true,
            }),
        ),
    };
    st.access_tokens.insert(access.secret().clone(), userinfo);
    let now = Utc::now();
    let claims = IdTokenClaims::<Groups, CoreGenderClaim>::new(
        IssuerUrl::new(m.issuer.unwrap_or_else(|| st.issuer.clone())).unwrap(),
        vec![Audience::new(
            m.audience.unwrap_or_else(|| CLIENT_ID.to_owned()),
        )],
        now + Duration::minutes(5),
        now,
        standard,
        Groups { groups },
    )
    .set_nonce(Some(Nonce::new(m.nonce.unwrap_or(p.nonce))));
    let key = if m.unknown_key {
        &st.other_key
    } else {
        &st.key
    };
    let id_token = IdToken::<
        Groups,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        key,
        CoreJwsSigningAlgorithm::EdDsa,
        Some(&access),
        None,
    )
    .unwrap();
    Json(json!({
        "access_token": access.secret(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
    .into_response()
}

async fn userinfo(State(s): Shared, headers: HeaderMap) -> Response {
    let st = s.lock().unwrap();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match st.access_tokens.get(token) {
        Some(claims) => Json(claims.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
