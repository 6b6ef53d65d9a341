//! Clerk's Backend API: `/v1/users`, listed by offset oldest first,
//! counted, read, created, changed and deleted with a secret key.

use idsync_core::{Change, Secret, Version};
use serde_json::{Value, json};

use super::user::read_change;
use crate::manage::{NewUser, UserUpdate, split_name, user_path};
use crate::provider::Page;
use crate::{ApiError, RetryPolicy, decode, http_client};

pub const DEFAULT_API_URL: &str = "https://api.clerk.com";
/// Clerk's largest page.
pub const PAGE_SIZE: u64 = 500;

/// Client of the Backend API's `/v1/users` endpoints.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Secret,
    retry: RetryPolicy,
}

impl Client {
    pub fn new(api_url: &str, key: Secret, retry: RetryPolicy) -> Self {
        Self {
            http: http_client::client(),
            base: format!("{}/v1", api_url.trim_end_matches('/')),
            key,
            retry,
        }
    }

    /// A management call on `/v1/users{suffix}`.
    pub(crate) async fn send_json(
        &self,
        method: reqwest::Method,
        suffix: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/users{suffix}", self.base);
        http_client::call_json(&self.retry, method, &url, body.as_ref(), |m, u| {
            self.http.request(m, u).bearer_auth(self.key.expose())
        })
        .await
    }
}

impl Client {
    /// One page, oldest first, so users created during a backfill land on
    /// later pages instead of shifting earlier offsets. The cursor is the
    /// offset of the page.
    pub async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
        let offset = cursor.and_then(Value::as_u64).unwrap_or(0);
        let url = format!("{}/users", self.base);
        let query = [
            ("limit", PAGE_SIZE.to_string()),
            ("offset", offset.to_string()),
            ("order_by", "+created_at".to_owned()),
        ];
        let asked = Version::now();
        let resp = http_client::send(&self.retry, &url, || {
            self.http
                .get(&url)
                .query(&query)
                .bearer_auth(self.key.expose())
        })
        .await?;
        let body = http_client::bytes(resp).await?;
        let changes = decode_page(body.as_ref(), asked)?;
        let next =
            (changes.len() as u64 == PAGE_SIZE).then(|| Value::from(offset + changes.len() as u64));
        Ok(Page { changes, next })
    }

    pub async fn total_users(&self) -> Result<Option<u64>, ApiError> {
        let url = format!("{}/users/count", self.base);
        let resp = http_client::send(&self.retry, &url, || {
            self.http.get(&url).bearer_auth(self.key.expose())
        })
        .await?;
        http_client::json(resp)
            .await?
            .get("total_count")
            .and_then(Value::as_u64)
            .map(Some)
            .ok_or_else(|| ApiError::Body("no total_count".to_owned()))
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}/users{}", self.base, user_path(id)?);
        http_client::get_optional(
            &self.retry,
            &url,
            || self.http.get(&url).bearer_auth(self.key.expose()),
            |body| {
                body["errors"]
                    .as_array()
                    .is_some_and(|errors| errors.iter().any(|e| e["code"] == "resource_not_found"))
            },
        )
        .await
    }

    pub async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
        let (first, last) = user.name.as_deref().map(split_name).unwrap_or(("", None));
        let mut body = json!({ "email_address": [user.email] });
        if !first.is_empty() {
            body["first_name"] = json!(first);
        }
        if let Some(last) = last {
            body["last_name"] = json!(last);
        }
        match &user.password {
            Some(p) => body["password"] = json!(p),
            None => body["skip_password_requirement"] = json!(true),
        }
        self.send_json(reqwest::Method::POST, "", Some(body)).await
    }

    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
        if update.email.is_some() {
            return Err(ApiError::Unsupported(
                "Clerk changes email addresses through its email address endpoints; change it in the Clerk dashboard",
            ));
        }
        let mut body = json!({});
        if let Some(n) = &update.name {
            let (first, last) = split_name(n);
            body["first_name"] = json!(first);
            body["last_name"] = json!(last);
        }
        self.send_json(reqwest::Method::PATCH, &user_path(id)?, Some(body))
            .await
    }

    pub async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        self.send_json(reqwest::Method::DELETE, &user_path(id)?, None)
            .await?;
        Ok(())
    }
}

/// A `GET /v1/users` body: a JSON array of users.
pub fn decode_page(body: &[u8], asked: Version) -> Result<Vec<Change>, ApiError> {
    decode::user_array(body, asked, read_change)
}
