//! A small OpenID Provider on loopback for the console's single sign-on
//! tests, cut down from idsync-login's test provider: discovery, keys,
//! an authorization endpoint that approves at once as the user set with
//! [`MockOp::sign_in_as`], and a token endpoint that checks the client's
//! credentials and signs an ID token (Ed25519) carrying that user's email,
//! `email_verified` and `groups`.

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

pub const CLIENT_ID: &str = "idsync-console";
pub const CLIENT_SECRET: &str = "console-client-secret";

/// The `groups` claim, which the core claims lack.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Groups {
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
}
impl AdditionalClaims for Groups {}

/// Who the next sign-in is.
#[derive(Debug, Clone)]
pub struct MockUser {
    pub sub: &'static str,
    pub email: &'static str,
    pub email_verified: Option<bool>,
    pub groups: Option<Vec<&'static str>>,
}

struct Pending {
    nonce: String,
    redirect_uri: String,
    user: MockUser,
}

struct OpState {
    issuer: String,
    user: Option<MockUser>,
    key: CoreEdDsaPrivateSigningKey,
    pending: HashMap<String, Pending>,
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
            user: None,
            key: ed25519_key("console-key"),
            pending: HashMap::new(),
            scopes: Vec::new(),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockOp { url, state }
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

/// Approves at once as the configured user and sends the browser back
/// with a code.
async fn authorize(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    assert_eq!(get("response_type"), "code");
    assert_eq!(get("client_id"), CLIENT_ID);
    assert_eq!(get("code_challenge_method"), "S256");
    let code = format!("code-{}", rand::random::<u64>());
    let mut st = s.lock().unwrap();
    st.scopes.push(get("scope"));
    let user = st.user.clone().expect("sign_in_as before signing in");
    st.pending.insert(
        code.clone(),
        Pending {
            nonce: get("nonce"),
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
    code: String,
    redirect_uri: String,
}

fn oauth_error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

async fn token(State(s): Shared, headers: HeaderMap, Form(f): Form<TokenForm>) -> Response {
    let mut st = s.lock().unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()) != Some(expected.as_bytes()) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some(p) = st.pending.remove(&f.code) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if f.redirect_uri != p.redirect_uri {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let access = AccessToken::new(format!("at-{}", rand::random::<u64>()));
    let now = Utc::now();
    let u = p.user;
    let claims = IdTokenClaims::<Groups, CoreGenderClaim>::new(
        IssuerUrl::new(st.issuer.clone()).unwrap(),
        vec![Audience::new(CLIENT_ID.to_owned())],
        now + Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new(u.sub.to_owned()))
            .set_name(Some(EndUserName::new(u.sub.to_owned()).into()))
            .set_email(Some(EndUserEmail::new(u.email.to_owned())))
            .set_email_verified(u.email_verified),
        Groups {
            groups: u.groups.map(|g| g.into_iter().map(str::to_owned).collect()),
        },
    )
    .set_nonce(Some(Nonce::new(p.nonce)));
    let id_token = IdToken::<
        Groups,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >::new(
        claims,
        &st.key,
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
