//! The console over plain HTTP: access, CSRF, headers, pages.

use idsync_emulator::{Emulator, ProviderKind};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};

use crate::common::{ADMIN_TOKEN, Conn, Server, TestDb, emulator, postgres, wait_for};
use crate::helpers::{
    Client, csrf_in, location, serve, session_cookie, set_cookie_line, wait_for_health,
};

/// Postgres, a Stack Auth emulator with `users` users and idsync serving
/// it as connection `stack`, after its first backfill.
async fn setup(users: usize) -> (TestDb, Emulator, Server) {
    let db = postgres().await;
    let stack = emulator(ProviderKind::StackAuth, users).await;
    let server = serve(&db.url, &[Conn::new("stack", &stack).own_schema()]).await;
    wait_for_health(&server, "stack", "healthy").await;
    (db, stack, server)
}

#[tokio::test]
async fn pages_require_a_session_and_wrong_tokens_are_refused() {
    let (_db, stack, server) = setup(5).await;
    let user = stack.user_ids()[0].clone();
    let mut client = Client::new(&server);

    for path in [
        "/".to_owned(),
        "/connections/stack".to_owned(),
        "/connections/stack/users".to_owned(),
        format!("/connections/stack/users/{user}"),
        "/connections/stack/errors".to_owned(),
        "/connections/nope".to_owned(),
    ] {
        let res = client.get(&path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&res), "/login", "GET {path}");
    }
    // Actions too: nothing happens without a session.
    let res = client
        .post(&format!("/connections/stack/users/{user}/delete"), &[])
        .await;
    assert_eq!(location(&res), "/login");
    assert!(stack.user(&user).is_some());

    // The form, and refusals that set no cookie.
    let form = client.page("/login").await;
    assert!(form.contains("name=\"token\""));
    for res in [
        client.post("/login", &[("token", "wrong-token")]).await,
        client.post("/login", &[]).await,
        client.get("/login?token=wrong-token").await,
    ] {
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(session_cookie(&res).is_none());
        assert!(res.text().await.unwrap().contains("not"));
    }

    // A cookie not sealed with this server's key is no session.
    client.cookie = Some("idsync_session=1999999999:forged".to_owned());
    assert_eq!(location(&client.get("/").await), "/login");

    // The printed login URL: sets the session and drops the token from
    // the address bar.
    client.cookie = None;
    let res = client.get(&format!("/login?token={ADMIN_TOKEN}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    let line = set_cookie_line(&res).unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(line.contains(attr), "{attr} missing in {line}");
    }
    // Served over http here, so not Secure.
    assert!(!line.contains("Secure"), "{line}");
    assert!(
        !line.contains(ADMIN_TOKEN),
        "the token leaked into the cookie"
    );
    client.cookie = session_cookie(&res);
    let home = client.page("/").await;
    assert!(home.contains("data-connection=\"stack\""));
    // Logged in, the login page sends you home.
    assert_eq!(location(&client.get("/login").await), "/");

    // The form login works as well; logging out clears the cookie.
    client.cookie = None;
    client.login().await;
    let csrf = client.csrf().await;
    let res = client.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&res), "/login");
    let cleared = set_cookie_line(&res).unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn state_changing_forms_need_the_session_csrf_token() {
    let (db, stack, server) = setup(5).await;
    let user = stack.user_ids()[0].clone();
    let mut a = Client::new(&server);
    a.login().await;
    let mut b = Client::new(&server);
    b.login().await;
    let csrf_a = a.csrf().await;
    let csrf_b = b.csrf().await;
    assert_ne!(csrf_a, csrf_b, "each session has its own token");
    assert_eq!(csrf_a.len(), 32);

    let delete = format!("/connections/stack/users/{user}/delete");
    let create = [
        ("email", "csrf@example.com"),
        ("name", "Csrf"),
        ("password", ""),
    ];
    let runs = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM idsync.sync_runs")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    let runs_before = runs().await;
    for csrf in [None, Some(""), Some("x"), Some(csrf_b.as_str())] {
        let with = |fields: &[(&'static str, &'static str)]| {
            let mut f: Vec<(&str, &str)> = fields.to_vec();
            if let Some(c) = csrf {
                f.push(("csrf", c));
            }
            f
        };
        for (path, form) in [
            ("/connections/stack/backfill", with(&[])),
            ("/connections/stack/reconcile", with(&[])),
            ("/connections/stack/users", with(&create)),
            (delete.as_str(), with(&[])),
            ("/logout", with(&[])),
        ] {
            let res = a.post(path, &form).await;
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "POST {path} csrf={csrf:?}"
            );
            assert!(res.text().await.unwrap().contains("Forbidden"));
        }
    }
    assert!(stack.user(&user).is_some(), "deleted without a CSRF token");
    assert_eq!(stack.users().len(), 5, "created without a CSRF token");
    assert_eq!(
        runs().await,
        runs_before,
        "a job started without a CSRF token"
    );

    // With the token, the action happens and the page says so.
    let res = a
        .post("/connections/stack/reconcile", &[("csrf", &csrf_a)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.starts_with("/connections/stack?notice="), "{back}");
    assert!(a.page(&back).await.contains("Reconcile started"));
    wait_for("the reconcile run", async || runs().await > runs_before).await;

    // Banners are signed: a crafted link cannot put its words on a page.
    let forged = "/connections/stack?error=Session%20expired%3A%20log%20in%20at%20evil.example";
    assert!(!a.page(forged).await.contains("evil.example"));
    let tampered = back.replace("notice=Reconcile", "notice=Recompile");
    assert_ne!(tampered, back);
    assert!(!a.page(&tampered).await.contains("Recompile"));
}

#[tokio::test]
async fn console_responses_carry_security_headers() {
    let (_db, stack, server) = setup(3).await;
    let user = stack.user_ids()[0].clone();
    let mut client = Client::new(&server);
    let anonymous = [client.get("/login").await, client.get("/").await];
    client.login().await;
    let csrf = client.csrf().await;
    let pages = [
        client.get("/").await,
        client.get("/connections/stack").await,
        client.get("/connections/stack/users?search=a").await,
        client
            .get(&format!("/connections/stack/users/{user}"))
            .await,
        client
            .get(&format!("/connections/stack/users/{user}/delete"))
            .await,
        client.get("/connections/stack/errors").await,
        client.get("/connections/nope").await,
        client.post("/connections/stack/backfill", &[]).await,
        client
            .post("/connections/stack/backfill", &[("csrf", &csrf)])
            .await,
    ];
    for res in anonymous.iter().chain(&pages) {
        let h = res.headers();
        let what = res.url().path();
        assert_eq!(
            h["content-security-policy"],
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            "{what}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["referrer-policy"], "same-origin", "{what}");
        assert_eq!(h[CACHE_CONTROL], "no-store", "{what}");
    }
    // No inline style or script anywhere (the CSP would block them).
    for res in pages {
        if res.status() == StatusCode::OK {
            let html = res.text().await.unwrap();
            for banned in ["<style", "<script", " style=", " onclick="] {
                assert!(!html.contains(banned), "{banned} in a page");
            }
        }
    }
    let css = client.get("/console/style.css").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert!(css.text().await.unwrap().contains(".badge.good"));
}

#[tokio::test]
async fn pages_page_search_escape_and_404() {
    let (_db, stack, server) = setup(120).await;
    server.auto_deliver(&stack, "stack");
    let mut client = Client::new(&server);
    client.login().await;

    // Unknown connection, user, error: a 404 page.
    for path in [
        "/connections/nope",
        "/connections/nope/users",
        "/connections/stack/users/nope",
        "/connections/stack/errors/999999",
    ] {
        let res = client.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "GET {path}");
        assert!(res.text().await.unwrap().contains("Not found"));
    }

    // Keyset paging: 50 a page in id order, three pages for 120 users.
    let mut ids = Vec::new();
    let mut next = Some("/connections/stack/users?state=active".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let html = client.page(&path).await;
        pages += 1;
        ids.extend(attr_values(&html, "data-user-id"));
        next = attr_values(&html, "href")
            .into_iter()
            .find(|h| h.contains("after="))
            .filter(|_| html.contains(">Next page<"))
            .map(|h| h.replace("&amp;", "&"));
    }
    assert_eq!(pages, 3);
    let mut expected = stack.user_ids();
    expected.sort();
    assert_eq!(ids, expected, "every user once, in id order");

    // Search by email prefix, and by exact id.
    let u = stack
        .users()
        .into_iter()
        .find(|u| u["primary_email"].is_string())
        .unwrap();
    let (id, email) = (
        u["id"].as_str().unwrap(),
        u["primary_email"].as_str().unwrap(),
    );
    let local = email.split('@').next().unwrap();
    let html = client
        .page(&format!("/connections/stack/users?search={local}"))
        .await;
    assert!(attr_values(&html, "data-user-id").contains(&id.to_owned()));
    let html = client
        .page(&format!("/connections/stack/users?search={id}"))
        .await;
    assert_eq!(attr_values(&html, "data-user-id"), [id.to_owned()]);

    // Create through the console with a name that is markup: it comes back
    // through the webhook and is shown escaped.
    let csrf = csrf_in(&client.page("/connections/stack/users").await);
    let evil = "<img src=x onerror=alert(1)>";
    let res = client
        .post(
            "/connections/stack/users",
            &[
                ("csrf", &csrf),
                ("email", "evil@example.com"),
                ("name", evil),
                ("password", ""),
            ],
        )
        .await;
    let back = location(&res);
    let notice = client.page(&back).await;
    assert!(notice.contains("Created "), "{back}");
    let created = stack
        .users()
        .into_iter()
        .find(|u| u["primary_email"] == "evil@example.com")
        .expect("created at the provider");
    let created_id = created["id"].as_str().unwrap().to_owned();
    let detail = format!("/connections/stack/users/{created_id}");
    wait_for("the created user's webhook", async || {
        client.get(&detail).await.status() == StatusCode::OK
    })
    .await;
    let html = client.page(&detail).await;
    assert!(!html.contains(evil));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));

    // A bad email never reaches the provider.
    let res = client
        .post(
            "/connections/stack/users",
            &[("csrf", &csrf), ("email", "not-an-email")],
        )
        .await;
    assert!(location(&res).contains("error="));
    assert_eq!(stack.users().len(), 121);

    // A forged webhook is rejected, shown as a reason on the connection
    // page and as an error page of its own.
    let res = reqwest::Client::new()
        .post(server.url("/webhooks/stack"))
        .header("svix-id", "msg_forged")
        .header("svix-timestamp", chrono::Utc::now().timestamp().to_string())
        .header("svix-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    // The rejection is recorded in the background.
    wait_for("the rejection to be recorded", async || {
        client
            .page("/connections/stack")
            .await
            .contains("data-health=\"degraded\"")
    })
    .await;
    let html = client.page("/connections/stack").await;
    assert!(html.contains("rejected in the last hour"));
    let error_link = attr_values(&html, "href")
        .into_iter()
        .find(|h| h.starts_with("/connections/stack/errors/"))
        .expect("a link to the error");
    let html = client.page(&error_link).await;
    assert!(html.contains("webhook_secret"));
    assert!(
        client
            .page("/connections/stack/errors")
            .await
            .contains(&error_link)
    );
}

/// Every value of `attr="..."` in `html`, in order.
fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The console answers a failure with the admin API's status: a query the
/// database refuses is a 500 page, a database that is down a 503 page.
#[tokio::test]
async fn a_database_error_is_a_500_page_and_a_database_down_a_503_page() {
    let (db, _stack, server) = setup(3).await;
    let mut client = Client::new(&server);
    client.login().await;

    // The table was changed behind idsync's back.
    sqlx::query("ALTER TABLE stack.users_sync RENAME COLUMN email TO mail")
        .execute(&db.pool)
        .await
        .unwrap();
    let res = client.get("/connections/stack/users").await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.text().await.unwrap().contains("Internal error"));

    db.pool.close().await;
    db.server.stop().await.unwrap();
    let res = client.get("/connections/stack/users").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("Database unavailable"));
}

#[tokio::test]
async fn the_connect_button_registers_the_okta_event_hook_and_shows_its_state() {
    let db = postgres().await;
    let okta = emulator(ProviderKind::Okta, 3).await;
    let server = serve(&db.url, &[Conn::new("okta", &okta).own_schema()]).await;
    let mut client = Client::new(&server);
    client.login().await;

    let page = client.page("/connections/okta").await;
    assert!(page.contains("Not connected yet"), "{page}");
    assert!(page.contains("create event hook"), "{page}");
    let csrf = csrf_in(&page);
    let res = client
        .post("/connections/okta/connect", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = client.page("/connections/okta").await;
    assert!(
        page.contains("Connected through Okta&#39;s API")
            || page.contains("Connected through Okta's API"),
        "{page}"
    );
    assert!(page.contains("ACTIVE, VERIFIED"), "{page}");

    // Providers without such an API show the steps instead of a button.
    let stack = emulator(ProviderKind::StackAuth, 0).await;
    let other = serve(&db.url, &[Conn::new("stack", &stack).own_schema()]).await;
    let mut client = Client::new(&other);
    client.login().await;
    let page = client.page("/connections/stack").await;
    assert!(!page.contains("/connections/stack/connect"), "{page}");
    assert!(page.contains("Endpoint URL: http"), "{page}");
}
