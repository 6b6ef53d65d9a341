//! Everything that must not sign anyone in, and the page each case shows.

use reqwest::StatusCode;

use crate::helpers::{Browser, TestApp, location, spawn_app, spawn_app_with_issuer};
use idsync_testkit::mock_op::{Misbehave, urlencode};

/// Asserts a refused sign-in: the status, the error code on the page, no
/// session cookie, nobody written to the users table.
async fn assert_refused(
    app: &TestApp,
    browser: &Browser,
    res: reqwest::Response,
    status: StatusCode,
    code: &str,
) -> String {
    assert_eq!(res.status(), status);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("Error: {code}")),
        "{code} not in {page}"
    );
    assert!(page.contains("Back to the home page"), "{page}");
    assert!(
        browser.cookie("idsync_session").is_none(),
        "a session was issued"
    );
    assert!(
        browser.cookie("idsync_flow").is_none(),
        "the flow cookie was kept"
    );
    assert!(app.user_rows().await.is_empty(), "a user was written");
    page
}

/// Signs in with the provider misbehaving as `m` and asserts the refusal
/// (see [`assert_refused`]); returns the page.
async fn refused_when(m: Misbehave, status: StatusCode, code: &str) -> String {
    let app = spawn_app().await;
    app.op.misbehave(m);
    let browser = Browser::new(&app);
    let res = browser.sign_in().await;
    assert_refused(&app, &browser, res, status, code).await
}

/// Replaces the `state` parameter of a callback URL.
fn with_state(callback: &str, state: &str) -> String {
    let mut url = reqwest::Url::parse(callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                state.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

#[tokio::test]
async fn wrong_state_is_rejected_before_the_code_is_used() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let authorize = browser.start_sign_in().await;
    let callback = browser.approve(&authorize).await;
    let res = browser.get(&with_state(&callback, "forged-state")).await;
    let page = assert_refused(
        &app,
        &browser,
        res,
        StatusCode::BAD_REQUEST,
        "state_mismatch",
    )
    .await;
    assert!(page.contains("Try again"));
    assert_eq!(app.op.token_requests(), 0, "the code was exchanged");
}

#[tokio::test]
async fn callback_without_a_sign_in_in_progress_is_rejected() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let authorize = browser.start_sign_in().await;
    let callback = browser.approve(&authorize).await;
    // Another browser (no flow cookie) gets the callback: login CSRF.
    let other = Browser::new(&app);
    let res = other.get(&callback).await;
    assert_refused(
        &app,
        &other,
        res,
        StatusCode::BAD_REQUEST,
        "no_sign_in_in_progress",
    )
    .await;
    assert_eq!(app.op.token_requests(), 0);
}

#[tokio::test]
async fn id_token_from_another_issuer_is_rejected() {
    refused_when(
        Misbehave {
            issuer: Some("https://evil.example".into()),
            ..Misbehave::default()
        },
        StatusCode::BAD_REQUEST,
        "invalid_id_token",
    )
    .await;
}

#[tokio::test]
async fn id_token_for_another_audience_is_rejected() {
    refused_when(
        Misbehave {
            audience: Some("some-other-app".into()),
            ..Misbehave::default()
        },
        StatusCode::BAD_REQUEST,
        "invalid_id_token",
    )
    .await;
}

#[tokio::test]
async fn id_token_with_another_nonce_is_rejected() {
    refused_when(
        Misbehave {
            nonce: Some("replayed-nonce".into()),
            ..Misbehave::default()
        },
        StatusCode::BAD_REQUEST,
        "invalid_id_token",
    )
    .await;
}

#[tokio::test]
async fn id_token_signed_with_an_unknown_key_is_rejected() {
    refused_when(
        Misbehave {
            unknown_key: true,
            ..Misbehave::default()
        },
        StatusCode::BAD_REQUEST,
        "invalid_id_token",
    )
    .await;
}

#[tokio::test]
async fn invalid_client_says_the_app_is_misconfigured() {
    let page = refused_when(
        Misbehave {
            token_error: Some((401, "invalid_client")),
            ..Misbehave::default()
        },
        StatusCode::BAD_GATEWAY,
        "client_rejected",
    )
    .await;
    assert!(page.contains("AUTH_OKTA_ID"), "{page}");
    assert!(
        !page.contains("client-secret-for-tests"),
        "secret on the page"
    );
}

#[tokio::test]
async fn used_code_asks_to_start_again() {
    refused_when(
        Misbehave {
            token_error: Some((400, "invalid_grant")),
            ..Misbehave::default()
        },
        StatusCode::BAD_REQUEST,
        "code_rejected",
    )
    .await;
}

#[tokio::test]
async fn denied_consent_shows_a_clear_page() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let authorize = browser.start_sign_in().await;
    let state = crate::helpers::query_param(&authorize, "state").unwrap();
    let res = browser
        .get(&format!(
            "/api/auth/callback/okta?error=access_denied&error_description={}&state={}",
            urlencode("User <b>declined</b>"),
            urlencode(&state)
        ))
        .await;
    let page = assert_refused(&app, &browser, res, StatusCode::FORBIDDEN, "access_denied").await;
    assert!(page.contains("Sign-in cancelled"), "{page}");
    assert!(page.contains("User &lt;b&gt;declined&lt;/b&gt;"), "{page}");
}

#[tokio::test]
async fn unreachable_issuer_shows_a_clear_page() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = spawn_app_with_issuer(Some(format!("http://127.0.0.1:{port}"))).await;
    let browser = Browser::new(&app);
    let res = browser.get("/api/auth/signin").await;
    let page = assert_refused(
        &app,
        &browser,
        res,
        StatusCode::BAD_GATEWAY,
        "issuer_unreachable",
    )
    .await;
    assert!(page.contains("could not reach Okta"), "{page}");
}

#[tokio::test]
async fn unknown_provider_in_the_callback_is_rejected() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let res = browser
        .get("/api/auth/callback/github?code=x&state=y")
        .await;
    assert_refused(
        &app,
        &browser,
        res,
        StatusCode::NOT_FOUND,
        "unknown_provider",
    )
    .await;
}

#[tokio::test]
async fn tampered_session_cookie_is_rejected() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    browser.sign_in().await;
    let good = browser.cookie("idsync_session").unwrap();
    assert_eq!(browser.get("/me").await.status(), StatusCode::OK);

    let mut bytes = good.into_bytes();
    let i = bytes.len() / 3;
    bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    browser.set_cookie("idsync_session", std::str::from_utf8(&bytes).unwrap());
    let res = browser.get("/me").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/api/auth/signin"));
    assert_eq!(browser.get("/").await.text().await.unwrap(), "signed out");
    let res = browser.post("/write", &app.url).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cross_site_posts_do_not_use_the_session() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    browser.sign_in().await;
    let res = browser.post("/write", "https://evil.example").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = browser.post("/write", &app.url).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "written for u-ada");

    // Nor can another site sign the user out.
    let res = browser
        .post("/api/auth/signout", "https://evil.example")
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(browser.cookie("idsync_session").is_some());
}
