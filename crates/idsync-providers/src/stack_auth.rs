//! Stack Auth: webhook events and the server-side users API.
//!
//! Webhook bodies are `{type, data}` with no timestamp of their own, so an
//! event's version is the Svix message's creation time. The user object
//! has no update time either: a user read through the API (listed or got by
//! id) is versioned by the whole second before the request was sent, so it
//! is never later than the state the server read, and a webhook from the
//! same second wins.

use chrono::DateTime;
use idsync_core::{Change, Profile, Secret, Version};
use serde_json::{Value, json};

use crate::manage::{NewUser, UserUpdate, user_path};
use crate::provider::{ProviderApi, envelope, opt_str, user_id};
use crate::svix::WebhookMeta;
use crate::{ApiError, DecodeError, Decoded, Page, RetryPolicy, http_client};

pub const DEFAULT_API_URL: &str = "https://api.stack-auth.com";
/// Users per list request.
pub const PAGE_SIZE: u32 = 200;

fn decode(meta: &WebhookMeta, body: &[u8]) -> Result<Decoded, DecodeError> {
    let (event_type, value) = envelope(body)?;
    let data = value
        .get("data")
        .filter(|d| d.is_object())
        .ok_or(DecodeError::NotAnObject);
    let version = meta.created().ok_or(DecodeError::MissingVersion)?;
    let change = match event_type.as_str() {
        "user.created" | "user.updated" => Change::upsert(profile(data?)?, version),
        "user.deleted" => {
            let data = data?;
            Change::delete(user_id(data)?, version, data.clone())
        }
        _ => return Ok(Decoded::Ignored { event_type }),
    };
    Ok(Decoded::Change { event_type, change })
}

/// Maps a Stack Auth server user object to the table's columns.
pub fn profile(user: &Value) -> Result<Profile, DecodeError> {
    Ok(Profile {
        id: user_id(user)?,
        name: opt_str(user, "display_name"),
        email: opt_str(user, "primary_email"),
        created_at: user
            .get("signed_up_at_millis")
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis),
        raw_json: user.clone(),
    })
}

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
    /// the time the request was sent (see [`ProviderApi::read_change`]).
    async fn fetch(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>, Version), ApiError> {
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
        let mut body = http_client::json(resp).await?;
        let next = body
            .pointer("/pagination/next_cursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let items = match body.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => return Err(ApiError::Body("no items array".to_owned())),
        };
        Ok((items, next, asked))
    }

    /// `fetch`, but from the first page when the listing has lost its place.
    async fn fetch_from_start(&self) -> Result<(Vec<Value>, Option<String>, Version), ApiError> {
        tracing::warn!(
            "the users around the cursor were deleted; listing again from the first page"
        );
        self.fetch(None).await
    }
}

impl ProviderApi for Client {
    fn decode_webhook(meta: &WebhookMeta, body: &[u8]) -> Result<Decoded, DecodeError> {
        decode(meta, body)
    }

    /// The whole second before `asked`: `asked` is only known to precede
    /// the server's read, and Stack Auth event versions are whole seconds, so
    /// an event from the same second as the request must win the tie.
    fn read_change(user: &Value, asked: Version) -> Result<Change, DecodeError> {
        let version = Version::new(asked.whole_seconds().at() - chrono::TimeDelta::seconds(1));
        Ok(Change::upsert(profile(user)?, version))
    }

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
    async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
        let next = cursor.and_then(|c| c.get("next")).and_then(Value::as_str);
        let after = cursor.and_then(|c| c.get("after")).and_then(Value::as_str);
        let (mut items, mut next_cursor, mut asked) = self.fetch(next).await?;
        if items.is_empty() && next.is_some() {
            (items, next_cursor, asked) = match after {
                Some(after) => {
                    tracing::info!("cursor user vanished; listing again from the last user read");
                    let (again, cursor, at) = self.fetch(Some(after)).await?;
                    if again.is_empty() {
                        self.fetch_from_start().await?
                    } else {
                        let rest = again
                            .into_iter()
                            .skip_while(|u| u.get("id").and_then(Value::as_str) == Some(after))
                            .collect();
                        (rest, cursor, at)
                    }
                }
                None => self.fetch_from_start().await?,
            };
        }
        let changes = items
            .iter()
            .map(|u| Self::read_change(u, asked))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Body(e.to_string()))?;
        let last = changes.last().map(|c| c.user_id.to_string());
        let next = next_cursor.map(|n| serde_json::json!({ "next": n, "after": last }));
        Ok(Page { changes, next })
    }

    async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let read = self
            .send_json(reqwest::Method::GET, &user_path(id)?, None)
            .await;
        http_client::none_if_gone(read, |body| body["code"] == "USER_NOT_FOUND")
    }

    async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
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

    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
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

    async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        self.send_json(reqwest::Method::DELETE, &user_path(id)?, None)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> WebhookMeta {
        WebhookMeta {
            message_id: "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".into(),
            timestamp: 1_649_367_560,
        }
    }

    #[test]
    fn decodes_user_created_from_documented_payload() {
        let body = json!({
            "type": "user.created",
            "data": {
                "id": "3241a285-8329-4d69-8f3d-316e08cf140c",
                "primary_email": "john.doe@example.com",
                "primary_email_verified": true,
                "primary_email_auth_enabled": true,
                "display_name": "John Doe",
                "selected_team": null,
                "selected_team_id": null,
                "profile_image_url": null,
                "signed_up_at_millis": 1_630_000_000_000_i64,
                "has_password": true,
                "otp_auth_enabled": false,
                "passkey_auth_enabled": false,
                "client_metadata": {},
                "client_read_only_metadata": {},
                "server_metadata": {},
                "last_active_at_millis": 1_630_000_000_000_i64,
                "is_anonymous": false,
                "oauth_providers": []
            }
        });
        let decoded = decode(&meta(), body.to_string().as_bytes()).unwrap();
        let Decoded::Change { event_type, change } = decoded else {
            panic!("ignored")
        };
        assert_eq!(event_type, "user.created");
        assert_eq!(
            change.user_id.as_str(),
            "3241a285-8329-4d69-8f3d-316e08cf140c"
        );
        assert_eq!(change.version.at().timestamp(), 1_649_367_553);
        let idsync_core::ChangeKind::Upsert(p) = change.kind else {
            panic!("not upsert")
        };
        assert_eq!(p.name.as_deref(), Some("John Doe"));
        assert_eq!(p.email.as_deref(), Some("john.doe@example.com"));
        assert_eq!(p.created_at.unwrap().timestamp(), 1_630_000_000);
        assert_eq!(p.raw_json, body["data"]);
    }

    #[test]
    fn decodes_user_updated_with_missing_name_and_email() {
        let body = json!({"type": "user.updated", "data": {"id": "u1", "display_name": null, "primary_email": null, "is_anonymous": true}});
        let Decoded::Change { change, .. } = decode(&meta(), body.to_string().as_bytes()).unwrap()
        else {
            panic!()
        };
        let idsync_core::ChangeKind::Upsert(p) = change.kind else {
            panic!()
        };
        assert_eq!((p.name, p.email, p.created_at), (None, None, None));
    }

    #[test]
    fn a_user_read_through_the_api_has_the_whole_second_before_the_request() {
        let asked = Version::from_unix_millis(1_714_564_800_500).unwrap();
        let user = json!({ "id": "3241a285-8329-4d69-8f3d-316e08cf140c" });
        let change = Client::read_change(&user, asked).unwrap();
        assert_eq!(
            change.version,
            Version::from_unix_seconds(1_714_564_799).unwrap()
        );
    }

    #[test]
    fn decodes_user_deleted() {
        let body = json!({"type": "user.deleted", "data": {"id": "u1", "teams": [{"id": "t1"}]}});
        let Decoded::Change { change, .. } = decode(&meta(), body.to_string().as_bytes()).unwrap()
        else {
            panic!()
        };
        assert!(change.is_delete());
        assert_eq!(change.user_id.as_str(), "u1");
    }

    #[test]
    fn ignores_other_events_and_rejects_bad_bodies() {
        let team = json!({"type": "team.created", "data": {"id": "t1"}});
        assert!(matches!(
            decode(&meta(), team.to_string().as_bytes()).unwrap(),
            Decoded::Ignored { .. }
        ));
        assert!(matches!(
            decode(&meta(), b"{not json"),
            Err(DecodeError::Json(_))
        ));
        let no_id = json!({"type": "user.updated", "data": {"display_name": "x"}});
        assert_eq!(
            decode(&meta(), no_id.to_string().as_bytes()),
            Err(DecodeError::MissingUserId)
        );
        let no_data = json!({"type": "user.deleted"});
        assert_eq!(
            decode(&meta(), no_data.to_string().as_bytes()),
            Err(DecodeError::NotAnObject)
        );
    }
}
