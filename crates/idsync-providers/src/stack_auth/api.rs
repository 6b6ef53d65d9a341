//! Stack Auth's server API: `/api/v1/users`, listed with its inclusive
//! cursor, read, created, changed and deleted with a secret server key.

use idsync_core::{Change, Secret, Version};
use serde_json::{Value, json};

use super::user::read_change;
use crate::manage::{NewUser, UserUpdate, user_path};
use crate::provider::Page;
use crate::{ApiError, RetryPolicy, http_client};

pub const DEFAULT_API_URL: &str = "https://api.stack-auth.com";
/// Users per list request.
pub const PAGE_SIZE: u32 = 200;

/// Client of the server API's `/api/v1/users` endpoints.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    users_url: String,
    project_id: String,
    key: Secret,
    retry: RetryPolicy,
}

impl Client {
    pub fn new(api_url: &str, project_id: &str, key: Secret, retry: RetryPolicy) -> Self {
        Self {
            http: http_client::client(),
            users_url: format!("{}/api/v1/users", api_url.trim_end_matches('/')),
            project_id: project_id.to_owned(),
            key,
            retry,
        }
    }

    /// A request to `url` with server access.
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("X-Stack-Access-Type", "server")
            .header("X-Stack-Project-Id", &self.project_id)
            .header("X-Stack-Secret-Server-Key", self.key.expose())
    }

    /// A management call on `/api/v1/users{suffix}`.
    pub(crate) async fn send_json(
        &self,
        method: reqwest::Method,
        suffix: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{suffix}", self.users_url);
        http_client::call_json(&self.retry, method, &url, body.as_ref(), |m, u| {
            self.request(m, u)
        })
        .await
    }

    /// `GET /api/v1/users` from `cursor`: the items, the next cursor, and
    /// the time the request was sent (see [`read_change`]).
    async fn fetch(&self, cursor: Option<&str>) -> Result<(Vec<Change>, Option<String>), ApiError> {
        let limit = PAGE_SIZE.to_string();
        let mut query = vec![
            ("limit", limit.as_str()),
            ("order_by", "signed_up_at"),
            ("desc", "false"),
            ("include_anonymous", "true"),
        ];
        if let Some(c) = cursor {
            query.push(("cursor", c));
        }
        // Before sending: the server reads its data after this.
        let asked = Version::now();
        let resp = http_client::send(&self.retry, &self.users_url, || {
            self.request(reqwest::Method::GET, &self.users_url)
                .query(&query)
        })
        .await?;
        let body = http_client::bytes(resp).await?;
        decode_page(body.as_ref(), asked)
    }

    /// `fetch`, but from the first page when the listing has lost its place.
    async fn fetch_from_start(&self) -> Result<(Vec<Change>, Option<String>), ApiError> {
        tracing::warn!(
            "the users around the cursor were deleted; listing again from the first page"
        );
        self.fetch(None).await
    }
}

impl Client {
    /// One page in sign-up order, anonymous users included.
    ///
    /// Stack Auth's cursor is inclusive: the id of the next page's first
    /// user. If that user is deleted before the page is read, Stack Auth
    /// answers an empty last page, which would end a listing early. So the
    /// cursor also remembers the last user already read (`after`), and an
    /// empty page is retried from there, skipping that user. If `after` is
    /// gone too, the listing has lost its place and starts over: ending it
    /// would leave every later user unlisted, and users listed twice are
    /// unchanged the second time.
    pub async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
        let next = cursor.and_then(|c| c.get("next")).and_then(Value::as_str);
        let after = cursor.and_then(|c| c.get("after")).and_then(Value::as_str);
        let (mut changes, mut next_cursor) = self.fetch(next).await?;
        if changes.is_empty() && next.is_some() {
            (changes, next_cursor) = match after {
                Some(after) => {
                    tracing::info!("cursor user vanished; listing again from the last user read");
                    let (again, cursor) = self.fetch(Some(after)).await?;
                    if again.is_empty() {
                        self.fetch_from_start().await?
                    } else {
                        let rest = again
                            .into_iter()
                            .skip_while(|c| c.user_id.as_str() == after)
                            .collect();
                        (rest, cursor)
                    }
                }
                None => self.fetch_from_start().await?,
            };
        }
        let last = changes.last().map(|c| c.user_id.to_string());
        let next = next_cursor.map(|n| serde_json::json!({ "next": n, "after": last }));
        Ok(Page { changes, next })
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}{}", self.users_url, user_path(id)?);
        http_client::get_optional(
            &self.retry,
            &url,
            || self.request(reqwest::Method::GET, &url),
            |body| body["code"] == "USER_NOT_FOUND",
        )
        .await
    }

    pub async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
        let mut body = json!({
            "primary_email": user.email,
            "primary_email_auth_enabled": true,
            "display_name": user.name,
        });
        if let Some(p) = &user.password {
            body["password"] = json!(p);
        }
        self.send_json(reqwest::Method::POST, "", Some(body)).await
    }

    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
        let mut body = json!({});
        if let Some(n) = &update.name {
            body["display_name"] = json!(n);
        }
        if let Some(e) = &update.email {
            body["primary_email"] = json!(e);
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

/// A `GET /api/v1/users` body: the users of `items`, and
/// `pagination.next_cursor`.
pub fn decode_page(body: &[u8], asked: Version) -> Result<(Vec<Change>, Option<String>), ApiError> {
    let mut body: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::Body(format!("not JSON: {e}")))?;
    let next = body
        .pointer("/pagination/next_cursor")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(Value::Array(items)) = body.get_mut("items").map(Value::take) else {
        return Err(ApiError::Body("no items array".to_owned()));
    };
    let changes = items
        .into_iter()
        .map(|u| read_change(u, asked))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((changes, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Version {
        Version::from_unix_seconds(1_700_000_000).unwrap()
    }

    #[test]
    fn a_page_gives_its_users_and_the_next_cursor() {
        let body = json!({
            "items": [{ "id": "u1", "primary_email": "a@example.com", "signed_up_at_millis": 1 }],
            "is_paginated": true,
            "pagination": { "next_cursor": "u2" }
        });
        let (changes, next) = decode_page(body.to_string().as_bytes(), asked()).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].user_id.as_str(), "u1");
        assert_eq!(next.as_deref(), Some("u2"));
    }

    #[test]
    fn a_body_without_items_is_refused() {
        for body in [&b"{\"pagination\":{}}"[..], b"[]", b"not json"] {
            assert!(matches!(decode_page(body, asked()), Err(ApiError::Body(_))));
        }
    }
}
