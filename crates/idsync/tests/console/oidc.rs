//! Console sign-in through OpenID Connect: the real `idsync serve` with
//! `[admin_oidc]`, a test OpenID Provider in this process, and a
//! hand-driven browser keeping its cookies by hand. Allowed emails and
//! groups get the ordinary console session; anyone else gets a 403 and no
//! session.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::{Response, StatusCode};

use crate::common::{ADMIN_TOKEN, Server, cli, config_file, postgres, serve_owning};
use crate::helpers::{csrf_in, location, set_cookie_line};
use idsync_testkit::mock_op::{CLIENT_ID, CLIENT_SECRET, MockOp, MockUser};

/// Starts `idsync serve` with `toml` appended to its file and `env` set;
/// returns once it is ready.
async fn serve(db_url: &str, toml: &str, env: &[(&str, String)]) -> Server {
    serve_owning(config_file(db_url, toml), env).await
}

/// The `[admin_oidc]` table for `op`, with these extra lines.
fn admin_oidc_toml(op: &MockOp, extra: &str) -> String {
    format!(
        "[admin_oidc]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nname = \"Test SSO\"\n{extra}",
        op.url
    )
}

/// A browser stand-in: follows no redirects by itself, keeps idsync's
/// cookies by name from `Set-Cookie` (`Max-Age=0` deletes), sends them
/// only to idsync.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, res: &Response) {
        for line in res.headers().get_all(SET_COOKIE) {
            let line = line.to_str().unwrap();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// GET a path of idsync, or an absolute URL (idsync's cookies go only
    /// to idsync).
    async fn get(&mut self, url: &str) -> Response {
        let ours = !url.starts_with("http") || url.starts_with(&self.base);
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let mut req = self.http.get(&url);
        if ours && !self.cookies.is_empty() {
            req = req.header(COOKIE, self.cookie_header());
        }
        let res = req.send().await.unwrap();
        if ours {
            self.keep_cookies(&res);
        }
        res
    }

    /// A same-origin form POST, as a browser sends it.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, &self.base)
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&res);
        res
    }

    /// Clicks the login page's single sign-on button and follows the
    /// redirects through the provider back to idsync; returns the answer of
    /// the page the login layer lands on, `/console/oidc`.
    async fn sign_in(&mut self) -> Response {
        let login = self.get("/login").await.text().await.unwrap();
        let at = login.find("id=\"sso\" href=\"").expect("a sign-in button");
        let rest = &login[at + "id=\"sso\" href=\"".len()..];
        let href = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
        assert_eq!(
            href,
            "/api/auth/signin?provider=oidc&return_to=/console/oidc"
        );
        let mut res = self.get(&href).await;
        for _ in 0..3 {
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.url());
            let to = location(&res);
            if to == "/console/oidc" {
                // The login layer's session is no console session yet.
                assert!(self.cookies.contains_key("idsync_session"));
                assert_eq!(location(&self.get("/").await), "/login");
                return self.get(&to).await;
            }
            res = self.get(&to).await;
        }
        panic!("the sign-in did not come back to /console/oidc");
    }
}

fn ada() -> MockUser {
    MockUser {
        sub: "u-ada",
        email: "ada@example.com",
        email_verified: Some(true),
        groups: None,
    }
}

#[tokio::test]
async fn an_allowed_email_gets_a_console_session() {
    let db = postgres().await;
    let op = MockOp::start().await;
    let server = serve(
        &db.url,
        &admin_oidc_toml(&op, "allowed_emails = [\"Ada@Example.com\"]\n"),
        &[("IDSYNC_ADMIN_TOKEN", ADMIN_TOKEN.to_owned())],
    )
    .await;
    let mut browser = Browser::new(&server);

    // The login page offers both ways in, and names the redirect URI.
    let login = browser.get("/login").await.text().await.unwrap();
    assert!(login.contains("Sign in with Test SSO"), "{login}");
    assert!(
        login.contains(&format!("{}/api/auth/callback/oidc", server.base)),
        "{login}"
    );
    assert!(login.contains("name=\"token\""), "{login}");

    op.sign_in_as(ada());
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::OK);
    // The console's own cookie, as the token login sets it.
    let line = set_cookie_line(&res).expect("a console session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(line.contains(attr), "{attr} missing in {line}");
    }
    let page = res.text().await.unwrap();
    assert!(
        page.contains("http-equiv=\"refresh\" content=\"0;url=/\""),
        "{page}"
    );

    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let home = home.text().await.unwrap();
    // Same session as the token's: a CSRF token, and signing out needs it.
    let csrf = csrf_in(&home);
    assert_eq!(csrf.len(), 32);
    assert_eq!(
        browser.post("/logout", &[("csrf", "wrong")]).await.status(),
        StatusCode::FORBIDDEN
    );

    // The admin API stays bearer-token only.
    let api = browser.get("/api/v1/connections").await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    let res = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&res), "/login");
    assert_eq!(location(&browser.get("/").await), "/login");
}

#[tokio::test]
async fn changing_the_allow_lists_ends_console_sessions() {
    let db = postgres().await;
    let op = MockOp::start().await;
    let token = [("IDSYNC_ADMIN_TOKEN", ADMIN_TOKEN.to_owned())];
    let only_ada = admin_oidc_toml(&op, "allowed_emails = [\"ada@example.com\"]\n");
    let first = serve(&db.url, &only_ada, &token).await;
    let mut browser = Browser::new(&first);
    op.sign_in_as(ada());
    assert_eq!(browser.sign_in().await.status(), StatusCode::OK);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    // Another replica, or a restart, with the same settings and token
    // accepts the session...
    let same = serve(&db.url, &only_ada, &token).await;
    browser.base = same.base.clone();
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);

    // ...one with other allow-lists does not: the admin signs in again.
    let changed = serve(
        &db.url,
        &admin_oidc_toml(
            &op,
            "allowed_emails = [\"ada@example.com\"]\nallowed_groups = [\"ops\"]\n",
        ),
        &token,
    )
    .await;
    browser.base = changed.base.clone();
    assert_eq!(location(&browser.get("/").await), "/login");
    assert_eq!(browser.sign_in().await.status(), StatusCode::OK);
    assert_eq!(browser.get("/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn others_get_403_and_no_console_session() {
    let db = postgres().await;
    let op = MockOp::start().await;
    let server = serve(
        &db.url,
        &admin_oidc_toml(
            &op,
            "allowed_emails = [\"ada@example.com\"]\nallowed_groups = [\"idsync-admins\"]\n",
        ),
        &[("IDSYNC_ADMIN_TOKEN", ADMIN_TOKEN.to_owned())],
    )
    .await;

    let mut browser = Browser::new(&server);
    op.sign_in_as(MockUser {
        sub: "u-eve",
        email: "eve@example.com",
        email_verified: Some(true),
        groups: Some(vec!["staff", "IDSYNC-ADMINS"]),
    });
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie_line(&res).is_none());
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {}", op.url)),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains(
            "Signed in as <strong>eve@example.com</strong>, which is not an idsync admin"
        ),
        "{page}"
    );
    assert!(!page.contains("has not verified"), "{page}");
    assert!(page.contains("action=\"/api/auth/signout\""), "{page}");
    assert_eq!(location(&browser.get("/").await), "/login");
    // Landing again changes nothing.
    let again = browser.get("/console/oidc").await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie_line(&again).is_none());

    // Signing out ends the login layer's session, then the issuer's.
    let res = browser.post("/api/auth/signout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with(&format!("{}/session/end?", op.url)),
        "{}",
        location(&res)
    );
    assert!(!browser.cookies.contains_key("idsync_session"));
    assert_eq!(location(&browser.get("/console/oidc").await), "/login");

    // An allowed address the issuer marks unverified is not trusted.
    let mut browser = Browser::new(&server);
    op.sign_in_as(MockUser {
        email_verified: Some(false),
        ..ada()
    });
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie_line(&res).is_none());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("has not verified this email address")
    );
    assert_eq!(location(&browser.get("/").await), "/login");

    // Nor one from an issuer that omits `email_verified`: only groups can
    // admit its users.
    let mut browser = Browser::new(&server);
    op.sign_in_as(MockUser {
        email_verified: None,
        ..ada()
    });
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie_line(&res).is_none());
    let page = res.text().await.unwrap();
    assert!(
        page.contains("does not say whether this email address is verified"),
        "{page}"
    );
    assert!(!page.contains("allowed_emails"), "{page}");
    assert_eq!(location(&browser.get("/").await), "/login");
}

#[tokio::test]
async fn an_allowed_group_gets_a_console_session() {
    let db = postgres().await;
    let op = MockOp::start().await;
    // Configured through the environment only, without an admin token.
    let server = serve(
        &db.url,
        "",
        &[
            ("IDSYNC_ADMIN_OIDC_ISSUER", op.url.clone()),
            ("IDSYNC_ADMIN_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("IDSYNC_ADMIN_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            (
                "IDSYNC_ADMIN_OIDC_ALLOWED_GROUPS",
                "ops, idsync-admins".to_owned(),
            ),
            ("IDSYNC_ADMIN_OIDC_SCOPES", "groups".to_owned()),
        ],
    )
    .await;

    let mut browser = Browser::new(&server);
    // No token was configured and none printed: no token form.
    let login = browser.get("/login").await.text().await.unwrap();
    assert!(login.contains("Sign in with Single sign-on"), "{login}");
    assert!(!login.contains("name=\"token\""), "{login}");

    op.sign_in_as(MockUser {
        sub: "u-grace",
        email: "grace@example.com",
        email_verified: None,
        groups: Some(vec!["staff", "idsync-admins"]),
    });
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookie_line(&res).is_some());
    assert!(
        op.last_scopes().contains(&"groups".to_owned()),
        "{:?}",
        op.last_scopes()
    );
    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("name=\"csrf\""));

    // Groups that are not listed do not count.
    let mut browser = Browser::new(&server);
    op.sign_in_as(MockUser {
        sub: "u-bob",
        email: "bob@example.com",
        email_verified: Some(true),
        groups: Some(vec!["staff"]),
    });
    let res = browser.sign_in().await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(location(&browser.get("/").await), "/login");
}

/// `idsync serve` with this configuration file: exit status and stderr.
async fn serve_exits(toml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idsync.toml");
    std::fs::write(&config, toml).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), cli(&config, &["serve"]))
        .await
        .expect("serve exits");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn invalid_admin_oidc_configuration_exits_naming_the_key() {
    let (ok, stderr) = serve_exits(
        "[admin_oidc]\nissuer = \"https://sso.example.com\"\nallowed_emails = [\"ada@example.com\"]\n",
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("admin_oidc.client_id: missing"), "{stderr}");

    let (ok, stderr) =
        serve_exits("[admin_oidc]\nissuer = \"https://sso.example.com\"\nclient_id = \"idsync\"\n")
            .await;
    assert!(!ok);
    assert!(
        stderr.contains("admin_oidc: set allowed_emails or allowed_groups"),
        "{stderr}"
    );
    assert!(stderr.contains("would be an idsync admin"), "{stderr}");
}
