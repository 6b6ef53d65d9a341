//! A running idsync with one SCIM connection, and a client for it.

use reqwest::header::HeaderMap;
use serde_json::Value;
use sqlx::PgPool;

use crate::common::{self, Server, TestDb};

pub const TOKEN: &str = "scim-test-token-0123456789abcdef";
pub const USERS: &str = "app.users_sync";
pub const GROUPS: &str = "app.groups_sync";
pub const MEMBERS: &str = "app.group_members_sync";

pub struct Scim {
    pub db: TestDb,
    pub server: Server,
    pub base: String,
    client: reqwest::Client,
}

/// Postgres and `idsync serve` with a `scim` connection named `idp`,
/// tables in schema `app`; `extra` adds keys to the connection.
pub async fn start(extra: &str) -> Scim {
    let db = common::postgres().await;
    let cfg = common::config_file(
        &db.url,
        &format!(
            "admin_token = \"{}\"\n[[connections]]\nname = \"idp\"\nprovider = \"scim\"\nschema = \"app\"\nbearer_token = \"{TOKEN}\"\n{extra}\n",
            common::ADMIN_TOKEN
        ),
    );
    let server = common::serve_owning(cfg, &[]).await;
    let base = server.url("/scim/idp/v2");
    Scim {
        db,
        server,
        base,
        client: reqwest::Client::new(),
    }
}

/// An answer: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Scim {
    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// A request with the right token.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call_with(method, path, body, Some(TOKEN)).await
    }

    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> Answer {
        let request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(body);
        answer(request.send().await.unwrap()).await
    }

    /// Every row of `table`, as text, to compare before and after.
    pub async fn snapshot(&self) -> String {
        let mut all = String::new();
        for t in [USERS, GROUPS, MEMBERS] {
            all.push_str(&common::snapshot(self.pool(), t).await);
            all.push('\n');
        }
        all
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A user row: (name, email, raw_json, deleted).
pub async fn user_row(
    pool: &PgPool,
    id: &str,
) -> Option<(Option<String>, Option<String>, Value, bool)> {
    sqlx::query_as(&format!(
        "SELECT name, email, raw_json, deleted_at IS NOT NULL FROM {USERS} WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// The live members of a group, in order.
pub async fn members(pool: &PgPool, group: &str) -> Vec<String> {
    sqlx::query_scalar(&format!(
        "SELECT user_id FROM {MEMBERS} WHERE group_id = $1 AND deleted_at IS NULL ORDER BY created_at, user_id"
    ))
    .bind(group)
    .fetch_all(pool)
    .await
    .unwrap()
}
