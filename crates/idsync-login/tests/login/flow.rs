//! The happy path: sign in, use the session, sign out.

use idsync_login::{Auth, ProviderConfig};
use reqwest::StatusCode;

use crate::helpers::{Browser, SECRET, location, query_param, spawn_app};
use idsync_testkit::mock_op::{CLIENT_ID, CLIENT_SECRET, MockOp};

#[tokio::test]
async fn sign_in_syncs_the_user_and_sign_out_ends_both_sessions() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);

    // Nobody signed in yet: a page needs sign-in, an API call gets 401.
    let res = browser.get("/me?x=1").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/api/auth/signin?return_to=/me%3Fx%3D1");
    let res = reqwest::get(format!("{}/me", app.url)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The authorization request: code flow, PKCE S256, state, nonce, our
    // callback path.
    let authorize = browser.start_sign_in().await;
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", app.op.url))
    );
    let q = |k| query_param(&authorize, k);
    assert_eq!(q("response_type").as_deref(), Some("code"));
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(
        q("redirect_uri"),
        Some(format!("{}/api/auth/callback/okta", app.url))
    );
    assert!(q("state").is_some_and(|s| s.len() >= 16));
    assert!(q("nonce").is_some_and(|s| s.len() >= 16));
    let scopes = q("scope").unwrap();
    for s in ["openid", "email", "profile"] {
        assert!(scopes.split(' ').any(|x| x == s), "{scopes}");
    }
    assert!(browser.cookie("idsync_flow").is_some());

    let callback = browser.approve(&authorize).await;
    let res = browser.get(&callback).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(location(&res), "/");
    assert!(
        browser.cookie("idsync_flow").is_none(),
        "flow cookie not cleared"
    );
    let session = browser.cookie("idsync_session").expect("a session cookie");
    assert!(!session.contains("ada"), "session cookie is readable");

    assert_eq!(
        browser.get("/optional").await.text().await.unwrap(),
        "u-ada"
    );

    // The session: name from the ID token, email from userinfo.
    let res = browser.get("/me").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.text().await.unwrap(),
        "u-ada ada@example.com Ada Lovelace"
    );

    // JIT: the user is in the users table, through the applier.
    let rows = app.user_rows().await;
    assert_eq!(rows.len(), 1);
    let (id, name, email, raw) = &rows[0];
    assert_eq!(id, "u-ada");
    assert_eq!(name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(email.as_deref(), Some("ada@example.com"));
    assert_eq!(raw["iss"], app.op.url.as_str());
    assert!(raw.get("nonce").is_none(), "per-token claims kept: {raw}");

    // Signing in again with the same profile does not rewrite the row.
    let before: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(&format!(
        "SELECT updated_at FROM {} WHERE id = 'u-ada'",
        app.table.qualified()
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let after: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(&format!(
        "SELECT updated_at FROM {} WHERE id = 'u-ada'",
        app.table.qualified()
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(before, after, "an unchanged profile was rewritten");

    // The confirmation page posts to the sign-out route.
    let page = browser.get("/api/auth/signout").await.text().await.unwrap();
    assert!(page.contains(r#"action="/api/auth/signout""#), "{page}");

    // Sign-out: cookie cleared, then to the issuer's end-session endpoint
    // with the hints Okta requires.
    let res = browser.post("/api/auth/signout", &app.url).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let end = reqwest::Url::parse(location(&res)).unwrap();
    assert!(
        end.as_str()
            .starts_with(&format!("{}/session/end?", app.op.url))
    );
    assert_eq!(
        query_param(&end, "post_logout_redirect_uri").as_deref(),
        Some(app.url.as_str())
    );
    assert_eq!(
        query_param(&end, "client_id").as_deref(),
        Some("quotes-app")
    );
    assert_eq!(
        query_param(&end, "id_token_hint").map(|t| t.split('.').count()),
        Some(3)
    );
    assert!(browser.cookie("idsync_session").is_none());
    let res = browser.get("/").await;
    assert_eq!(res.text().await.unwrap(), "signed out");
    assert_eq!(
        browser.get("/optional").await.text().await.unwrap(),
        "nobody"
    );
}

#[tokio::test]
async fn several_providers_get_a_chooser() {
    let op = MockOp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let auth = Auth::builder()
        .secret(SECRET)
        .base_url(&url)
        .provider(ProviderConfig::okta(&op.url, CLIENT_ID, CLIENT_SECRET))
        .provider(
            ProviderConfig::new("keycloak", &op.url, CLIENT_ID)
                .client_secret(CLIENT_SECRET)
                .display_name("Keycloak"),
        )
        .build()
        .unwrap();
    assert_eq!(
        auth.providers(),
        [("okta", "Okta"), ("keycloak", "Keycloak")]
    );
    let app = axum::Router::new().merge(auth.router()).layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let res = http
        .get(format!("{url}/api/auth/signin?return_to=/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    for (id, name) in [("okta", "Okta"), ("keycloak", "Keycloak")] {
        assert!(
            page.contains(&format!(
                r#"href="/api/auth/signin?provider={id}&amp;return_to=/x""#
            )),
            "{page}"
        );
        assert!(page.contains(&format!("Sign in with {name}")), "{page}");
    }

    let res = http
        .get(format!("{url}/api/auth/signin?provider=keycloak"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let authorize = reqwest::Url::parse(location(&res)).unwrap();
    assert_eq!(
        query_param(&authorize, "redirect_uri"),
        Some(format!("{url}/api/auth/callback/keycloak"))
    );
}

#[tokio::test]
async fn sign_in_comes_back_to_the_page_that_asked() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let res = browser.get("/me").await;
    let signin = location(&res).to_owned();
    let res = browser.get(&signin).await;
    let authorize = reqwest::Url::parse(location(&res)).unwrap();
    let callback = browser.approve(&authorize).await;
    let res = browser.get(&callback).await;
    assert_eq!(location(&res), "/me");

    // An absolute URL as return_to is not followed (no open redirect).
    let res = browser
        .get("/api/auth/signin?return_to=https://evil.example/")
        .await;
    let authorize = reqwest::Url::parse(location(&res)).unwrap();
    let callback = browser.approve(&authorize).await;
    let res = browser.get(&callback).await;
    assert_eq!(location(&res), "/");
}
