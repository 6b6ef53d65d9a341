//! Test harness: a throwaway Postgres, the mock OpenID Provider, a small
//! axum app with the login layer, and a "browser" (reqwest without
//! redirects, with a cookie jar) to walk the flow step by step.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::Router;
use axum::routing::{get, post};
use idsync_core::SqlIdent;
use idsync_login::{Auth, CurrentUser, MaybeUser, ProviderConfig};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::{PgPool, UsersTable};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Response, StatusCode};

use idsync_testkit::mock_op::{CLIENT_ID, CLIENT_SECRET, MockOp};

pub const SECRET: &str = "test-secret-test-secret-test-secret!";

pub struct TestApp {
    pub url: String,
    pub op: MockOp,
    pub pool: PgPool,
    pub table: UsersTable,
    _pg: PgServer,
}

pub fn users_table() -> UsersTable {
    UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    )
}

async fn home(MaybeUser(user): MaybeUser) -> String {
    match user {
        Some(u) => format!("signed in as {}", u.id),
        None => "signed out".to_owned(),
    }
}

async fn me(user: CurrentUser) -> String {
    format!(
        "{} {} {}",
        user.id,
        user.email.as_deref().unwrap_or("-"),
        user.display_name()
    )
}

async fn optional(user: Option<CurrentUser>) -> String {
    user.map_or_else(|| "nobody".to_owned(), |u| u.id.to_string())
}

async fn write(user: CurrentUser) -> String {
    format!("written for {}", user.id)
}

/// Starts Postgres (migrated), the mock provider and the app, the app with
/// its issuer set to `issuer` (default: the mock's URL).
pub async fn spawn_app_with_issuer(issuer: Option<String>) -> TestApp {
    let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
    let pool = idsync_store::connect(&pg.url(), 4).await.unwrap();
    let table = users_table();
    idsync_store::migrate::migrate(&pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    let op = MockOp::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let auth = Auth::builder()
        .secret(SECRET)
        .base_url(&url)
        .provider(ProviderConfig::okta(
            issuer.unwrap_or_else(|| op.url.clone()),
            CLIENT_ID,
            CLIENT_SECRET,
        ))
        .sync_users(pool.clone(), table.clone())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/optional", get(optional))
        .route("/write", post(write))
        .merge(auth.router())
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestApp {
        url,
        op,
        pool,
        table,
        _pg: pg,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with_issuer(None).await
}

impl TestApp {
    pub async fn user_rows(
        &self,
    ) -> Vec<(String, Option<String>, Option<String>, serde_json::Value)> {
        sqlx::query_as(&format!(
            "SELECT id, name, email, raw_json FROM {} ORDER BY id",
            self.table.qualified()
        ))
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

/// A browser, as far as cookies and redirects go: follows nothing by
/// itself, keeps the cookies the app sets.
pub struct Browser {
    http: reqwest::Client,
    pub app: String,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            app: app.url.clone(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.app)
        } else {
            url.to_owned()
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&self, url: &str, res: &Response) {
        if !url.starts_with(&self.app) {
            return;
        }
        let mut jar = self.cookies.lock().unwrap();
        for h in res.headers().get_all(SET_COOKIE) {
            let line = h.to_str().unwrap();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub async fn get(&self, url: &str) -> Response {
        let url = self.absolute(url);
        let res = self
            .http
            .get(&url)
            .header(COOKIE, self.cookie_header())
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        self.remember(&url, &res);
        res
    }

    /// A form POST as a browser on `origin` would send it.
    pub async fn post(&self, url: &str, origin: &str) -> Response {
        let url = self.absolute(url);
        let res = self
            .http
            .post(&url)
            .header(COOKIE, self.cookie_header())
            .header(ORIGIN, origin)
            .form(&[("x", "1")])
            .send()
            .await
            .unwrap();
        self.remember(&url, &res);
        res
    }

    /// Starts a sign-in: returns the provider's authorization URL.
    pub async fn start_sign_in(&self) -> reqwest::Url {
        let res = self.get("/api/auth/signin").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        reqwest::Url::parse(location(&res)).unwrap()
    }

    /// Lets the provider approve: returns the callback URL it redirects to.
    pub async fn approve(&self, authorize: &reqwest::Url) -> String {
        let res = self.get(authorize.as_str()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        location(&res).to_owned()
    }

    /// The whole happy path up to the app's answer to the callback.
    pub async fn sign_in(&self) -> Response {
        let authorize = self.start_sign_in().await;
        let callback = self.approve(&authorize).await;
        self.get(&callback).await
    }
}

pub fn location(res: &Response) -> &str {
    res.headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
}

pub fn query_param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
