//! Harness of the console tests, beyond `common`: `idsync serve` for some
//! connections, waiting, and a small HTTP client that keeps the session
//! cookie by hand.
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{RequestBuilder, Response, StatusCode};

use crate::common::{ADMIN_TOKEN, Conn, Server, config, serve_owning, wait_for};

/// `idsync serve` for `conns`; returns once it is ready.
pub async fn serve(db_url: &str, conns: &[Conn]) -> Server {
    serve_owning(config(db_url, conns), &[]).await
}

/// Waits until the admin API reports the connection with this health.
pub async fn wait_for_health(server: &Server, connection: &str, health: &str) {
    let client = reqwest::Client::new();
    let url = server.url(&format!("/api/v1/connections/{connection}"));
    wait_for(&format!("{connection} to be {health}"), async || {
        let Ok(r) = client.get(&url).bearer_auth(ADMIN_TOKEN).send().await else {
            return false;
        };
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        body["health"] == health
    })
    .await;
}

/// A browser stand-in: no redirects followed, the session cookie kept by
/// hand from `Set-Cookie`.
pub struct Client {
    http: reqwest::Client,
    base: String,
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookie: None,
        }
    }

    fn with_cookie(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.cookie {
            Some(c) => req.header(COOKIE, c),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.with_cookie(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.with_cookie(self.http.post(format!("{}{path}", self.base)))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Logs in through the form and keeps the session cookie.
    pub async fn login(&mut self) {
        let res = self.post("/login", &[("token", ADMIN_TOKEN)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/");
        self.cookie = Some(session_cookie(&res).expect("session cookie set"));
    }

    /// GETs a page (200 expected) and returns its HTML.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    /// The CSRF token of the session, read from a page's forms.
    pub async fn csrf(&self) -> String {
        csrf_in(&self.page("/").await)
    }
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// `idsync_session=...` from a response's `Set-Cookie`, if it set one.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_cookie_line(res).map(|line| line.split(';').next().unwrap_or_default().to_owned())
}

/// The whole `Set-Cookie` line of the session cookie, attributes included.
pub fn set_cookie_line(res: &Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("idsync_session="))
        .map(str::to_owned)
}

/// The value of the first hidden `csrf` input in `html`.
pub fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}
