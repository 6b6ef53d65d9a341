//! Clerk: webhook events and the Backend API's users endpoints.
//!
//! Clerk user objects carry `updated_at` (ms), which is the version of a
//! created/updated event and of a user read through the API; a deletion's
//! version is the event envelope's `timestamp` (ms).

use chrono::DateTime;
use idsync_core::{Change, Profile, Secret, Version};
use serde_json::{Value, json};

use crate::manage::{NewUser, UserUpdate, split_name, user_path};
use crate::provider::{ProviderApi, envelope, opt_str, user_id};
use crate::svix::WebhookMeta;
use crate::{ApiError, DecodeError, Decoded, Page, RetryPolicy, http_client};

pub const DEFAULT_API_URL: &str = "https://api.clerk.com";
/// Clerk's largest page.
pub const PAGE_SIZE: u64 = 500;

fn decode(meta: &WebhookMeta, body: &[u8]) -> Result<Decoded, DecodeError> {
    let (event_type, value) = envelope(body)?;
    let data = value
        .get("data")
        .filter(|d| d.is_object())
        .ok_or(DecodeError::NotAnObject);
    let envelope_version = value
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(Version::from_unix_millis)
        .or_else(|| meta.created());
    let change = match event_type.as_str() {
        "user.created" | "user.updated" => {
            let data = data?;
            let version = user_version(data)
                .or(envelope_version)
                .ok_or(DecodeError::MissingVersion)?;
            Change::upsert(profile(data)?, version)
        }
        "user.deleted" => {
            let data = data?;
            let version = envelope_version.ok_or(DecodeError::MissingVersion)?;
            Change::delete(user_id(data)?, version, data.clone())
        }
        _ => return Ok(Decoded::Ignored { event_type }),
    };
    Ok(Decoded::Change { event_type, change })
}

fn user_version(user: &Value) -> Option<Version> {
    user.get("updated_at")
        .and_then(Value::as_i64)
        .and_then(Version::from_unix_millis)
}

/// Maps a Clerk user object to the table's columns: name from first and
/// last name (else the username), email from `primary_email_address_id`.
pub fn profile(user: &Value) -> Result<Profile, DecodeError> {
    let full_name = [opt_str(user, "first_name"), opt_str(user, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = Some(full_name)
        .filter(|n| !n.is_empty())
        .or_else(|| opt_str(user, "username"));
    let primary = user.get("primary_email_address_id").and_then(Value::as_str);
    let email = primary.and_then(|primary| {
        user.get("email_addresses")?
            .as_array()?
            .iter()
            .find(|e| e.get("id").and_then(Value::as_str) == Some(primary))
            .and_then(|e| opt_str(e, "email_address"))
    });
    Ok(Profile {
        id: user_id(user)?,
        name,
        email,
        created_at: user
            .get("created_at")
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis),
        raw_json: user.clone(),
    })
}

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

impl ProviderApi for Client {
    fn decode_webhook(meta: &WebhookMeta, body: &[u8]) -> Result<Decoded, DecodeError> {
        decode(meta, body)
    }

    fn read_change(user: &Value, asked: Version) -> Result<Change, DecodeError> {
        let version = user_version(user).unwrap_or(asked);
        Ok(Change::upsert(profile(user)?, version))
    }

    /// One page, oldest first, so users created during a backfill land on
    /// later pages instead of shifting earlier offsets. The cursor is the
    /// offset of the page.
    async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
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
        let body = http_client::json(resp).await?;
        let users = body
            .as_array()
            .ok_or_else(|| ApiError::Body("expected a JSON array of users".to_owned()))?;
        let changes = users
            .iter()
            .map(|u| Self::read_change(u, asked))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Body(e.to_string()))?;
        let next =
            (changes.len() as u64 == PAGE_SIZE).then(|| Value::from(offset + changes.len() as u64));
        Ok(Page { changes, next })
    }

    async fn total_users(&self) -> Result<Option<u64>, ApiError> {
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

    async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let read = self
            .send_json(reqwest::Method::GET, &user_path(id)?, None)
            .await;
        http_client::none_if_gone(read, |body| {
            body["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["code"] == "resource_not_found"))
        })
    }

    async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
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

    async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
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
            message_id: "msg_2abc".into(),
            timestamp: 1_654_012_591,
        }
    }

    fn user() -> Value {
        json!({
            "id": "user_29w83sxmDNGwOuEthce5gg56FcC",
            "object": "user",
            "first_name": "Example",
            "last_name": null,
            "username": null,
            "external_id": null,
            "email_addresses": [
                {"id": "idn_29w83yL7CwVlJXylYLxcslromF1", "object": "email_address", "email_address": "old@example.org",
                 "verification": {"status": "verified", "strategy": "ticket"}, "linked_to": []},
                {"id": "idn_29w83yL7CwVlJXylYLxcslromF2", "object": "email_address", "email_address": "example@example.org",
                 "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []}
            ],
            "primary_email_address_id": "idn_29w83yL7CwVlJXylYLxcslromF2",
            "banned": false,
            "locked": false,
            "created_at": 1_654_012_591_514_i64,
            "updated_at": 1_654_012_591_835_i64
        })
    }

    #[test]
    fn decodes_user_created_and_updated_from_documented_payloads() {
        for t in ["user.created", "user.updated"] {
            let body = json!({
                "data": user(), "object": "event", "type": t, "timestamp": 1_654_012_591_900_i64,
                "instance_id": "ins_123",
                "event_attributes": {"http_request": {"client_ip": "0.0.0.0", "user_agent": "Mozilla"}}
            });
            let Decoded::Change { event_type, change } =
                decode(&meta(), body.to_string().as_bytes()).unwrap()
            else {
                panic!()
            };
            assert_eq!(event_type, t);
            assert_eq!(change.version.at().timestamp_millis(), 1_654_012_591_835);
            let idsync_core::ChangeKind::Upsert(p) = change.kind else {
                panic!()
            };
            assert_eq!(p.id.as_str(), "user_29w83sxmDNGwOuEthce5gg56FcC");
            assert_eq!(p.name.as_deref(), Some("Example"));
            assert_eq!(p.email.as_deref(), Some("example@example.org"));
            assert_eq!(p.created_at.unwrap().timestamp_millis(), 1_654_012_591_514);
        }
    }

    #[test]
    fn decodes_user_deleted_with_envelope_timestamp() {
        let body = json!({
            "data": {"deleted": true, "id": "user_29wBMCtzATuFJut8jO2VNTVekS4", "object": "user"},
            "object": "event", "type": "user.deleted", "timestamp": 1_661_861_640_000_i64, "instance_id": "ins_1"
        });
        let Decoded::Change { change, .. } = decode(&meta(), body.to_string().as_bytes()).unwrap()
        else {
            panic!()
        };
        assert!(change.is_delete());
        assert_eq!(change.version.at().timestamp_millis(), 1_661_861_640_000);
    }

    #[test]
    fn name_falls_back_to_username_and_email_to_none() {
        let u = json!({"id": "user_1", "first_name": null, "last_name": "", "username": "ann", "email_addresses": [], "primary_email_address_id": null});
        let p = profile(&u).unwrap();
        assert_eq!(p.name.as_deref(), Some("ann"));
        assert_eq!(p.email, None);
    }

    #[test]
    fn ignores_sessions_and_rejects_missing_id() {
        let s = json!({"type": "session.created", "object": "event", "data": {"id": "sess_1"}});
        assert!(matches!(
            decode(&meta(), s.to_string().as_bytes()).unwrap(),
            Decoded::Ignored { .. }
        ));
        let no_id = json!({"type": "user.deleted", "object": "event", "timestamp": 1, "data": {"deleted": true}});
        assert_eq!(
            decode(&meta(), no_id.to_string().as_bytes()),
            Err(DecodeError::MissingUserId)
        );
    }
}
