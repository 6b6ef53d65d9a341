//! The org authorization server spoken to over HTTP: the code flow through
//! the `openidconnect` crate as the client, and the OAuth errors of each
//! way to get it wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};

use super::{Assignment, DEV_PASSWORD, OidcClient, SIGN_IN_PATH, TokenAuthMethod};
use crate::tests::start;
use crate::{Emulator, ProviderKind};

const APP: &str = "http://localhost:3000";
const CALLBACK: &str = "http://localhost:3000/api/auth/callback/okta";
const PASSWORD: &str = "correct horse battery";

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn client(id: &str, method: TokenAuthMethod, assignment: Assignment) -> OidcClient {
    OidcClient {
        client_id: id.to_owned(),
        client_secret: format!("{id}-secret"),
        token_auth_method: method,
        redirect_uris: vec![CALLBACK.to_owned()],
        post_logout_redirect_uris: vec![APP.to_owned()],
        assignment,
    }
}

/// A user made through the Users API, active, with a password; its id.
async fn create_user(emu: &Emulator, login: &str) -> String {
    let res = http()
        .post(format!("{}/api/v1/users?activate=true", emu.base_url()))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .json(&json!({
            "profile": { "firstName": "Ada", "lastName": "Lovelace", "email": login, "login": login },
            "credentials": { "password": { "value": PASSWORD } },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let user: Value = res.json().await.unwrap();
    user["id"].as_str().unwrap().to_owned()
}

fn location(res: &reqwest::Response) -> Url {
    Url::parse(res.headers()[LOCATION].to_str().unwrap()).unwrap()
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok()?.split(';').next().map(str::to_owned))
        .find(|c| c.starts_with("sid=") && c.len() > 4)
}

/// An authorize URL with the usual parameters, some replaced or removed
/// (`None`).
fn authorize_url(emu: &Emulator, client_id: &str, changes: &[(&str, Option<&str>)]) -> String {
    let mut params = vec![
        ("client_id", Some(client_id)),
        ("response_type", Some("code")),
        ("scope", Some("openid profile email")),
        ("redirect_uri", Some(CALLBACK)),
        ("state", Some("st-1")),
        ("nonce", Some("n-1")),
    ];
    for (name, value) in changes {
        match params.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = *value,
            None => params.push((name, *value)),
        }
    }
    let mut url = Url::parse(&format!("{}/oauth2/v1/authorize", emu.base_url())).unwrap();
    for (name, value) in params {
        if let Some(value) = value {
            url.query_pairs_mut().append_pair(name, value);
        }
    }
    url.to_string()
}

/// Opens the sign-in form at `url` and submits it; the answer.
async fn sign_in(url: &str, username: &str, password: &str) -> reqwest::Response {
    let http = http();
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the sign-in form");
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"stateToken\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stateToken in the form")
        .to_owned();
    let action = Url::parse(url).unwrap().join(SIGN_IN_PATH).unwrap();
    http.post(action)
        .form(&[
            ("stateToken", token.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// The code of a successful sign-in's redirect.
fn code_of(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(res);
    assert!(to.as_str().starts_with(CALLBACK), "{to}");
    assert_eq!(query(&to, "state").as_deref(), Some("st-1"));
    query(&to, "code").expect("a code")
}

async fn token_request(
    emu: &Emulator,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut request = http()
        .post(format!("{}/oauth2/v1/token", emu.base_url()))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let res = request.send().await.unwrap();
    let status = res.status();
    assert_eq!(res.headers()["cache-control"], "no-cache, no-store");
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn discovery_names_the_org_as_issuer() {
    let emu = start(ProviderKind::Okta, 0, None).await;
    let org = emu.base_url();
    let doc: Value = http()
        .get(format!("{org}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], org.as_str());
    for (key, path) in [
        ("authorization_endpoint", "authorize"),
        ("token_endpoint", "token"),
        ("jwks_uri", "keys"),
        ("userinfo_endpoint", "userinfo"),
        ("end_session_endpoint", "logout"),
    ] {
        assert_eq!(doc[key], format!("{org}/oauth2/v1/{path}"), "{key}");
    }
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    let methods = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(
        methods.contains(&json!("client_secret_basic"))
            && methods.contains(&json!("client_secret_post"))
    );
    // The openidconnect crate accepts it, keys included.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(org).unwrap(), &http())
        .await
        .unwrap();
    assert_eq!(metadata.jwks().keys().len(), 1);
}

#[tokio::test]
async fn code_flow_through_the_openidconnect_crate() {
    let emu = start(ProviderKind::Okta, 3, None).await;
    let login = "ada@example.com";
    let user_id = create_user(&emu, login).await;
    emu.register_oidc_client(client(
        "0oa-app",
        TokenAuthMethod::ClientSecretBasic,
        Assignment::Everyone,
    ));
    let http = http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(emu.base_url()).unwrap(), &http)
            .await
            .unwrap();
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("0oa-app".into()),
        Some(ClientSecret::new("0oa-app-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // A wrong password is refused on the page, and issues nothing.
    let refused = sign_in(url.as_str(), login, "wrong password").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get(LOCATION).is_none());
    assert!(refused.text().await.unwrap().contains("Unable to sign in"));

    let res = sign_in(url.as_str(), login, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert_eq!(
        query(&to, "state").as_deref(),
        Some(state.secret().as_str())
    );
    let code = query(&to, "code").unwrap();
    let token = oidc
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(token.expires_in().unwrap().as_secs(), 3600);
    let id_token = token.id_token().unwrap();
    // Signature (against the JWKS), iss, aud, exp, nonce, at_hash.
    let claims = id_token.claims(&oidc.id_token_verifier(), &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(claims.email().unwrap().as_str(), login);
    assert_eq!(claims.preferred_username().unwrap().as_str(), login);
    assert_eq!(
        claims.name().unwrap().get(None).unwrap().as_str(),
        "Ada Lovelace"
    );
    assert!(claims.access_token_hash().is_some());
    // Okta's own claims, as they travel.
    let raw = id_token.to_string();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(raw.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"].as_str().unwrap().len(), 43);
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(raw.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["iss"], emu.base_url().as_str());
    assert_eq!(payload["aud"], json!("0oa-app"));
    assert_eq!(payload["ver"], 1);
    assert_eq!(payload["amr"], json!(["pwd"]));
    assert!(payload["jti"].as_str().unwrap().starts_with("ID."));
    assert!(payload["idp"].as_str().unwrap().starts_with("00o"));
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        3600
    );
    assert!(payload["auth_time"].as_i64().unwrap() <= payload["iat"].as_i64().unwrap());

    let info: openidconnect::core::CoreUserInfoClaims = oidc
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.email().unwrap().as_str(), login);
    assert_eq!(
        info.given_name().unwrap().get(None).unwrap().as_str(),
        "Ada"
    );
    assert_eq!(info.email_verified(), Some(true));
    // The sign-in is on the user.
    assert!(emu.user(&user_id).unwrap()["lastLogin"].is_string());
}

#[tokio::test]
async fn token_errors_are_oauths() {
    let emu = start(ProviderKind::Okta, 0, None).await;
    let login = "grace@example.com";
    create_user(&emu, login).await;
    emu.register_oidc_client(client(
        "basic",
        TokenAuthMethod::ClientSecretBasic,
        Assignment::Everyone,
    ));
    emu.register_oidc_client(client(
        "post",
        TokenAuthMethod::ClientSecretPost,
        Assignment::Everyone,
    ));
    let verifier = PkceCodeVerifier::new("v".repeat(43));
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let pkce = [
        ("code_challenge", Some(challenge.as_str())),
        ("code_challenge_method", Some("S256")),
    ];
    let code = |client_id: &'static str| {
        let url = authorize_url(&emu, client_id, &pkce);
        async move { code_of(&sign_in(&url, login, PASSWORD).await) }
    };
    let exchange = |code: &str, verifier: &str| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), CALLBACK.to_owned()),
            ("code_verifier".to_owned(), verifier.to_owned()),
        ]
    };
    let send = |form: Vec<(String, String)>, basic: Option<(&'static str, &'static str)>| {
        let emu = emu.clone();
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            token_request(&emu, &form, basic).await
        }
    };

    // A wrong secret: invalid_client; the code is not the caller's to spend.
    let c = code("basic").await;
    let (status, body) = send(exchange(&c, verifier.secret()), Some(("basic", "nope"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = send(
        exchange(&c, verifier.secret()),
        Some(("basic", "basic-secret")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Redeemed once: never again.
    let (status, body) = send(
        exchange(&c, verifier.secret()),
        Some(("basic", "basic-secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // No credentials; the wrong method for the app.
    let c = code("basic").await;
    let (status, body) = send(exchange(&c, verifier.secret()), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let mut post = exchange(&code("basic").await, verifier.secret());
    post.extend([
        ("client_id".into(), "basic".into()),
        ("client_secret".into(), "basic-secret".into()),
    ]);
    let (status, _) = send(post, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // client_secret_post works for the app that uses it, once per code.
    let c = code("post").await;
    let mut post = exchange(&c, verifier.secret());
    post.extend([
        ("client_id".into(), "post".into()),
        ("client_secret".into(), "post-secret".into()),
    ]);
    let (status, body) = send(post.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid profile email");
    let (status, body) = send(post, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "code reuse"
    );

    // PKCE: a wrong verifier, none at all.
    let c = code("basic").await;
    let (status, body) = send(
        exchange(&c, &"w".repeat(43)),
        Some(("basic", "basic-secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(body["error_description"], "PKCE verification failed.");
    let c = code("basic").await;
    let mut no_verifier = exchange(&c, "");
    no_verifier.pop();
    let (status, body) = send(no_verifier, Some(("basic", "basic-secret"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // Another redirect URI than the authorize request's.
    let c = code("basic").await;
    let mut other = exchange(&c, verifier.secret());
    other[2].1 = format!("{APP}/elsewhere");
    let (status, body) = send(other, Some(("basic", "basic-secret"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // A code redeemed by another client.
    let c = code("post").await;
    let (status, body) = send(
        exchange(&c, verifier.secret()),
        Some(("basic", "basic-secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Codes live 300 s (on the emulator's clock).
    let c = code("basic").await;
    emu.advance_clock(chrono::Duration::seconds(301));
    let (status, body) = send(
        exchange(&c, verifier.secret()),
        Some(("basic", "basic-secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Other grant types, none at all.
    let (status, body) = send(
        vec![("grant_type".into(), "password".into())],
        Some(("basic", "basic-secret")),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, body) = send(vec![], Some(("basic", "basic-secret"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn authorize_errors_go_back_to_the_client_or_to_a_page() {
    let emu = start(ProviderKind::Okta, 0, None).await;
    emu.register_oidc_client(client(
        "app",
        TokenAuthMethod::ClientSecretBasic,
        Assignment::Everyone,
    ));
    let http = http();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    // Nowhere safe to redirect: a page, no Location.
    for changes in [
        vec![("client_id", Some("nobody"))],
        vec![("redirect_uri", Some("https://evil.example/cb"))],
        vec![("redirect_uri", None)],
    ] {
        let res = get(authorize_url(&emu, "app", &changes)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(res.headers().get(LOCATION).is_none());
    }
    // Everything else goes back to the redirect URI.
    for (changes, error) in [
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (vec![("scope", Some("profile email"))], "invalid_scope"),
        (vec![("scope", Some("openid admin"))], "invalid_scope"),
        (
            vec![
                ("code_challenge", Some("x".repeat(43).as_str())),
                ("code_challenge_method", Some("plain")),
            ],
            "invalid_request",
        ),
        (vec![("prompt", Some("none"))], "login_required"),
        (vec![("state", None)], "invalid_request"),
    ] {
        let res = get(authorize_url(&emu, "app", &changes)).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{changes:?}");
        let to = location(&res);
        assert!(to.as_str().starts_with(CALLBACK));
        assert_eq!(query(&to, "error").as_deref(), Some(error), "{changes:?}");
        assert!(query(&to, "error_description").is_some());
        assert!(query(&to, "code").is_none());
    }
}

#[tokio::test]
async fn only_assigned_active_users_sign_in() {
    let emu = start(ProviderKind::Okta, 0, None).await;
    let assigned = create_user(&emu, "assigned@example.com").await;
    create_user(&emu, "other@example.com").await;
    emu.register_oidc_client(client(
        "app",
        TokenAuthMethod::ClientSecretBasic,
        Assignment::Users([assigned.clone()].into()),
    ));
    let url = authorize_url(&emu, "app", &[]);

    // Not assigned: authenticated, then sent back with access_denied.
    let res = sign_in(&url, "other@example.com", PASSWORD).await;
    let to = location(&res);
    assert_eq!(query(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        query(&to, "error_description").as_deref(),
        Some("User is not assigned to the client application.")
    );
    assert_eq!(query(&to, "state").as_deref(), Some("st-1"));

    let res = sign_in(&url, "assigned@example.com", PASSWORD).await;
    code_of(&res);

    // Deactivated (through the API): the page refuses, nothing is issued.
    let res = http()
        .post(format!(
            "{}/api/v1/users/{assigned}/lifecycle/deactivate",
            emu.base_url()
        ))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = sign_in(&url, "assigned@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn generated_users_sign_in_with_the_dev_password() {
    let emu = start(ProviderKind::Okta, 40, None).await;
    emu.register_oidc_client(client(
        "app",
        TokenAuthMethod::ClientSecretBasic,
        Assignment::Everyone,
    ));
    let user = emu
        .users()
        .into_iter()
        .find(|u| u["status"] == "ACTIVE" && u["credentials"]["password"].is_object())
        .expect("an active generated user with a password");
    let login = user["profile"]["login"].as_str().unwrap();
    let url = authorize_url(&emu, "app", &[]);
    code_of(&sign_in(&url, login, DEV_PASSWORD).await);
    // Case does not matter in the username, as in Okta.
    code_of(&sign_in(&url, &login.to_uppercase(), DEV_PASSWORD).await);
}

#[tokio::test]
async fn session_then_logout() {
    let emu = start(ProviderKind::Okta, 0, None).await;
    let login = "ada@example.com";
    let user_id = create_user(&emu, login).await;
    emu.register_oidc_client(client(
        "app",
        TokenAuthMethod::ClientSecretBasic,
        Assignment::Everyone,
    ));
    let url = authorize_url(&emu, "app", &[]);
    let res = sign_in(&url, login, PASSWORD).await;
    let sid = session_cookie(&res).expect("a session cookie");
    let code = code_of(&res);
    let (status, tokens) = token_request(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ],
        Some(("app", "app-secret")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id_token = tokens["id_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();

    // With the session, authorize answers at once; prompt=login asks again.
    let http = http();
    let res = http.get(&url).header(COOKIE, &sid).send().await.unwrap();
    code_of(&res);
    let res = http
        .get(authorize_url(&emu, "app", &[("prompt", Some("login"))]))
        .header(COOKIE, &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Userinfo: the bearer token, or the challenge.
    let userinfo = format!("{}/oauth2/v1/userinfo", emu.base_url());
    let info: Value = http
        .get(&userinfo)
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], user_id.as_str());
    let res = http.get(&userinfo).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );
    let res = http
        .get(&userinfo)
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // Logout: no hint, or another user's session, is refused.
    let logout = format!("{}/oauth2/v1/logout", emu.base_url());
    let res = http
        .get(&logout)
        .query(&[("post_logout_redirect_uri", APP)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    create_user(&emu, "grace@example.com").await;
    let other_sid = session_cookie(&sign_in(&url, "grace@example.com", PASSWORD).await).unwrap();
    let res = http
        .get(&logout)
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", APP),
        ])
        .header(COOKIE, &other_sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id_token_does_not_match_session")
    );
    // A sign-out URI the app did not register is refused.
    let res = http
        .get(&logout)
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://evil.example"),
        ])
        .header(COOKIE, &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = http
        .get(&logout)
        .query(&[
            ("id_token_hint", "not.a.token"),
            ("post_logout_redirect_uri", APP),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = http
        .get(&logout)
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", APP),
            ("state", "bye"),
        ])
        .header(COOKIE, &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = location(&res);
    assert_eq!(to.origin(), Url::parse(APP).unwrap().origin());
    assert_eq!(query(&to, "state").as_deref(), Some("bye"));

    // The session is over: the form again, and prompt=none is refused.
    let res = http.get(&url).header(COOKIE, &sid).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .get(authorize_url(&emu, "app", &[("prompt", Some("none"))]))
        .header(COOKIE, &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(
        query(&location(&res), "error").as_deref(),
        Some("login_required")
    );
}

/// An Okta Management API call with the emulator's API token.
async fn management(emu: &Emulator, method: reqwest::Method, path: &str, body: Value) -> Value {
    let res = http()
        .request(method, format!("{}{path}", emu.base_url()))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_app_made_through_the_apps_api_signs_in_its_groups_members() {
    use reqwest::Method;
    let emu = start(ProviderKind::Okta, 0, None).await;
    let member = create_user(&emu, "member@example.com").await;
    create_user(&emu, "outsider@example.com").await;
    let group = management(
        &emu,
        Method::POST,
        "/api/v1/groups",
        json!({ "profile": { "name": "Quotes users" } }),
    )
    .await;
    let group = group["id"].as_str().unwrap();
    management(
        &emu,
        Method::PUT,
        &format!("/api/v1/groups/{group}/users/{member}"),
        Value::Null,
    )
    .await;
    // The app `idsync create-app --group "Quotes users"` makes.
    let app = management(
        &emu,
        Method::POST,
        "/api/v1/apps?activate=true",
        json!({
            "name": "oidc_client",
            "label": "idsync okta",
            "signOnMode": "OPENID_CONNECT",
            "credentials": { "oauthClient": { "token_endpoint_auth_method": "client_secret_basic" } },
            "settings": { "oauthClient": {
                "application_type": "web",
                "redirect_uris": [CALLBACK],
                "post_logout_redirect_uris": [APP],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
            } },
        }),
    )
    .await;
    let id = app["id"].as_str().unwrap();
    let client_id = app["credentials"]["oauthClient"]["client_id"]
        .as_str()
        .unwrap();
    let secret = app["credentials"]["oauthClient"]["client_secret"]
        .as_str()
        .unwrap();
    management(
        &emu,
        Method::PUT,
        &format!("/api/v1/apps/{id}/groups/{group}"),
        json!({}),
    )
    .await;
    let url = authorize_url(&emu, client_id, &[]);

    let res = sign_in(&url, "outsider@example.com", PASSWORD).await;
    assert_eq!(
        query(&location(&res), "error").as_deref(),
        Some("access_denied")
    );
    let code = code_of(&sign_in(&url, "member@example.com", PASSWORD).await);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let (status, tokens) = token_request(&emu, &form, Some((client_id, "wrong-secret"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{tokens}");
    let code = code_of(&sign_in(&url, "member@example.com", PASSWORD).await);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let (status, tokens) = token_request(&emu, &form, Some((client_id, secret))).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["id_token"].is_string());

    // A deactivated app signs nobody in.
    management(
        &emu,
        Method::POST,
        &format!("/api/v1/apps/{id}/lifecycle/deactivate"),
        Value::Null,
    )
    .await;
    let res = http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}
