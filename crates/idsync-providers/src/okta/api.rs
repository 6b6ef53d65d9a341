//! Okta's Users API with an SSWS API token: listed 200 at a time by
//! following the `link: <…>; rel="next"` header exactly as given, read,
//! created, changed, deactivated and deleted.
//!
//! Okta's rate limits are per endpoint and announced on every answer
//! (`X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset` in epoch seconds): when
//! none are left the client waits for the reset before its next request,
//! instead of running into a 429 (which it also waits out).

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use idsync_core::{Change, Secret, Version};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use super::user::read_change;
use crate::manage::{NewUser, UserUpdate, split_name, user_path};
use crate::provider::Page;
use crate::{ApiError, RetryPolicy, decode, http_client};

/// Users per list request: Okta's default and largest.
pub const PAGE_SIZE: u32 = 200;

/// Okta's default list leaves deprovisioned users out, so a listing is two
/// passes: the default list, then the deprovisioned users.
const PHASES: [Phase; 2] = [Phase::Listed, Phase::Deprovisioned];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Listed,
    Deprovisioned,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Self::Listed => "listed",
            Self::Deprovisioned => "deprovisioned",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        PHASES.into_iter().find(|p| p.name() == name)
    }
}

/// Client of one Okta org's `/api/v1/users`.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    org_url: String,
    token: Secret,
    retry: RetryPolicy,
    /// No request before this instant: the rate limit's reset.
    paused_until: Mutex<Option<std::time::Instant>>,
}

impl Client {
    pub fn new(org_url: &str, token: Secret, retry: RetryPolicy) -> Self {
        Self {
            http: http_client::client(),
            org_url: org_url.trim_end_matches('/').to_owned(),
            token,
            retry,
            paused_until: Mutex::new(None),
        }
    }

    /// `{org_url}{path}`, for a path under `/api/v1`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.org_url)
    }

    fn users_url(&self) -> String {
        format!("{}/api/v1/users", self.org_url)
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .header("Authorization", format!("SSWS {}", self.token.expose()))
            .header("Accept", "application/json")
    }

    /// Waits out a rate limit announced by an earlier answer.
    async fn pace(&self) {
        let until = self.paused_until.lock().map(|g| *g).unwrap_or(None);
        if let Some(until) = until {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    /// Notes the rate limit an answer announces.
    fn observe(&self, headers: &HeaderMap) {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let (Some(remaining), Some(reset)) = (
            number("x-rate-limit-remaining"),
            number("x-rate-limit-reset"),
        ) else {
            return;
        };
        if remaining > 0 {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let wait = Duration::from_secs(reset.saturating_sub(now)).min(self.retry.max_wait);
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "Okta rate limit used up; pausing until its reset"
        );
        if let Ok(mut until) = self.paused_until.lock() {
            *until = Some(std::time::Instant::now() + wait);
        }
    }

    pub(super) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Response, ApiError> {
        self.pace().await;
        let policy = self.retry.for_method(&method);
        let resp = http_client::send(&policy, url, || {
            let req = self.request(method.clone(), url);
            match body {
                Some(b) => req.json(b),
                None => req,
            }
        })
        .await?;
        self.observe(resp.headers());
        Ok(resp)
    }

    /// The first page of a phase.
    fn first_url(&self, phase: Phase) -> String {
        match phase {
            Phase::Listed => format!("{}?limit={PAGE_SIZE}", self.users_url()),
            Phase::Deprovisioned => format!(
                "{}?limit={PAGE_SIZE}&filter=status%20eq%20%22DEPROVISIONED%22",
                self.users_url()
            ),
        }
    }

    /// One page. The cursor holds the phase and the URL of its next page.
    pub async fn list_page(&self, cursor: Option<&Value>) -> Result<Page, ApiError> {
        let phase = cursor
            .and_then(|c| c.get("phase"))
            .and_then(Value::as_str)
            .and_then(Phase::parse)
            .unwrap_or(Phase::Listed);
        let url = cursor
            .and_then(|c| c.get("url"))
            .and_then(Value::as_str)
            .map_or_else(|| self.first_url(phase), str::to_owned);
        let (changes, next_link) = self.fetch_page(&url).await?;
        let next = match next_link {
            Some(link) => Some(json!({ "phase": phase.name(), "url": link })),
            None => match phase {
                Phase::Listed => Some(json!({ "phase": Phase::Deprovisioned.name() })),
                Phase::Deprovisioned => None,
            },
        };
        Ok(Page { changes, next })
    }

    /// One page of the users whose `lastUpdated` is after `since`. Unlike
    /// the default list, a `filter` query returns users of every status, so
    /// deactivations are in this one listing. A lifecycle operation is
    /// taken to move `lastUpdated` with `statusChanged` (the emulator's do;
    /// Okta's documentation does not say). `filter` cannot name
    /// `statusChanged` (`search` can, but is only eventually consistent),
    /// so a status change that moved only `statusChanged` waits for the
    /// next full pass. The cursor holds the URL of the next page.
    pub async fn list_changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&Value>,
    ) -> Result<Page, ApiError> {
        let url = cursor
            .and_then(|c| c.get("url"))
            .and_then(Value::as_str)
            .map_or_else(|| self.changed_url(since), str::to_owned);
        let (changes, next_link) = self.fetch_page(&url).await?;
        Ok(Page {
            changes,
            next: next_link.map(|link| json!({ "url": link })),
        })
    }

    /// The first page of the users changed after `since`: Okta compares
    /// RFC 3339 times in UTC with milliseconds.
    fn changed_url(&self, since: DateTime<Utc>) -> String {
        let since = since.to_rfc3339_opts(SecondsFormat::Millis, true);
        // Digits, `-`, `:`, `.`, `T` and `Z` need no escaping in a query.
        format!(
            "{}?limit={PAGE_SIZE}&filter=lastUpdated%20gt%20%22{since}%22",
            self.users_url()
        )
    }

    /// Fetches one page of users at `url`: their changes, and the `next`
    /// link if there is one.
    async fn fetch_page(&self, url: &str) -> Result<(Vec<Change>, Option<String>), ApiError> {
        let asked = Version::now();
        let resp = self.send(Method::GET, url, None).await?;
        let next_link = next_link(resp.headers());
        let body = http_client::bytes(resp).await?;
        let changes = decode_page(body.as_ref(), asked)?;
        if let Some(link) = &next_link {
            // The token goes only to the org it was configured for.
            if !link.starts_with(&format!("{}/", self.org_url)) {
                return Err(ApiError::Body(format!(
                    "the next page link {link:?} leaves {}",
                    self.org_url
                )));
            }
        }
        Ok((changes, next_link))
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<Value>, ApiError> {
        self.pace().await;
        let url = format!("{}{}", self.users_url(), user_path(id)?);
        let resp =
            http_client::send_optional(&self.retry, &url, || self.request(Method::GET, &url))
                .await?;
        // The refresher's reads count against the limit too.
        self.observe(resp.headers());
        http_client::read_optional(resp, |body| body["errorCode"] == "E0000007").await
    }

    pub async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
        // Okta's default profile requires both names.
        let Some((first, Some(last))) = user.name.as_deref().map(split_name) else {
            return Err(ApiError::Unsupported(
                "Okta users need a first and a last name: give a name of at least two words",
            ));
        };
        let mut body = json!({
            "profile": {
                "firstName": first,
                "lastName": last,
                "email": user.email,
                "login": user.email,
            }
        });
        if let Some(p) = &user.password {
            body["credentials"] = json!({ "password": { "value": p } });
        }
        let url = format!("{}?activate=true", self.users_url());
        let resp = self.send(Method::POST, &url, Some(&body)).await?;
        http_client::json(resp).await
    }

    /// A partial profile update (Okta's `POST /api/v1/users/{id}`).
    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
        let mut profile = json!({});
        if let Some(n) = &update.name {
            let (first, Some(last)) = split_name(n) else {
                return Err(ApiError::Unsupported(
                    "Okta users need a first and a last name: give a name of at least two words",
                ));
            };
            profile["firstName"] = json!(first);
            profile["lastName"] = json!(last);
        }
        if let Some(e) = &update.email {
            profile["email"] = json!(e);
        }
        let url = format!("{}{}", self.users_url(), user_path(id)?);
        let resp = self
            .send(Method::POST, &url, Some(&json!({ "profile": profile })))
            .await?;
        http_client::json(resp).await
    }

    /// Okta deletes in two steps: the first `DELETE` deactivates
    /// (`DEPROVISIONED`), the second deletes.
    pub async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        let url = format!("{}{}", self.users_url(), user_path(id)?);
        let deprovisioned = self
            .get_user(id)
            .await?
            .is_some_and(|u| u["status"] == "DEPROVISIONED");
        if !deprovisioned {
            self.send(Method::DELETE, &url, None).await?;
        }
        self.send(Method::DELETE, &url, None).await?;
        Ok(())
    }
}

/// The `rel="next"` URL of a `link` header (Okta sends one header per
/// link, or several in one, comma-separated).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let is_next = params
                .split(';')
                .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
}

/// A `GET /api/v1/users` body: a JSON array of users (the next page is in
/// the `link` header, see [`next_link`]).
pub fn decode_page(body: &[u8], asked: Version) -> Result<Vec<Change>, ApiError> {
    decode::user_array(body, asked, read_change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_users_are_filtered_by_last_updated_in_utc_with_milliseconds() {
        let client = Client::new(
            "https://dev-1.okta.com/",
            Secret::new("t"),
            RetryPolicy::default(),
        );
        let since = DateTime::parse_from_rfc3339("2024-01-02T04:04:05.006789+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            client.changed_url(since),
            "https://dev-1.okta.com/api/v1/users?limit=200&filter=lastUpdated%20gt%20%222024-01-02T03:04:05.006Z%22"
        );
    }

    #[test]
    fn next_links_are_found_as_okta_sends_them() {
        let mut h = HeaderMap::new();
        h.append(
            "link",
            "<https://dev-1.okta.com/api/v1/users?limit=200>; rel=\"self\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h), None);
        h.append(
            "link",
            "<https://dev-1.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://dev-1.okta.com/api/v1/users?after=00ubfjQEMYBLRUWIEDKK&limit=200")
        );
        let mut one = HeaderMap::new();
        one.insert(
            "link",
            "<https://o/a?x=1>; rel=\"self\", <https://o/a?after=2>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&one).as_deref(), Some("https://o/a?after=2"));
    }
}
