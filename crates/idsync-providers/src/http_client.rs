//! What every provider list API call shares: rate limits honoured through
//! `Retry-After`, transient failures retried with backoff, errors that say
//! what to fix.

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::DecodeError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("provider API unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("provider API refused the credentials (HTTP {status}): {body}")]
    Unauthorized { status: u16, body: String },
    #[error("provider API answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("provider API answered an unexpected body: {0}")]
    Body(String),
    #[error("provider API answered a user idsync cannot read: {0}")]
    Decode(#[from] DecodeError),
    #[error("still rate-limited after {0} retries")]
    RateLimited(u32),
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// The provider has nothing that fits the request, e.g. no group of
    /// the name given.
    #[error("{0}")]
    NotFound(String),
}

/// How hard to retry before giving up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries of a 5xx or network error.
    pub transient_retries: u32,
    /// First backoff; doubles each retry.
    pub backoff: Duration,
    /// Waits on 429 before giving up.
    pub rate_limit_retries: u32,
    /// Longest single wait on a `Retry-After`.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            transient_retries: 4,
            backoff: Duration::from_millis(500),
            rate_limit_retries: 100,
            max_wait: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// A create is not idempotent: after a 5xx or a lost connection it may
    /// have happened, so it is not retried (a 429 was refused, so it is).
    pub(crate) fn for_method(&self, method: &reqwest::Method) -> Self {
        if method == reqwest::Method::POST {
            Self {
                transient_retries: 0,
                ..*self
            }
        } else {
            *self
        }
    }
}

/// Sends the request built by `make` until it succeeds or the policy gives
/// up. `make` is called once per attempt.
pub(crate) async fn send(
    policy: &RetryPolicy,
    url: &str,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response, ApiError> {
    send_accepting(policy, url, make, |s| s.is_success()).await
}

/// [`send`], returning every answer whose status `accept` takes.
async fn send_accepting(
    policy: &RetryPolicy,
    url: &str,
    make: impl Fn() -> RequestBuilder,
    accept: impl Fn(StatusCode) -> bool,
) -> Result<Response, ApiError> {
    let mut transient = 0;
    let mut limited = 0;
    loop {
        match make().send().await {
            Ok(resp) if accept(resp.status()) => return Ok(resp),
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                if limited > policy.rate_limit_retries {
                    return Err(ApiError::RateLimited(policy.rate_limit_retries));
                }
                let wait = retry_after(&resp)
                    .unwrap_or(Duration::from_secs(1))
                    .min(policy.max_wait);
                tracing::info!(
                    url,
                    wait_ms = wait.as_millis() as u64,
                    "rate-limited by provider, waiting"
                );
                metrics::counter!("idsync_provider_rate_limited_total").increment(1);
                metrics::histogram!("idsync_provider_rate_limit_wait_seconds")
                    .record(wait.as_secs_f64());
                tokio::time::sleep(wait).await;
            }
            Ok(resp) if resp.status().is_server_error() && transient < policy.transient_retries => {
                transient += 1;
                let wait = policy.backoff * 2u32.saturating_pow(transient - 1);
                tracing::warn!(
                    url,
                    status = resp.status().as_u16(),
                    attempt = transient,
                    "provider API error, retrying"
                );
                tokio::time::sleep(wait).await;
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                metrics::counter!("idsync_provider_api_errors_total", "status" => status.to_string())
                    .increment(1);
                let body = truncated(resp.text().await.unwrap_or_default());
                return Err(if status == 401 || status == 403 {
                    ApiError::Unauthorized { status, body }
                } else {
                    ApiError::Status { status, body }
                });
            }
            Err(e) if transient < policy.transient_retries => {
                transient += 1;
                tracing::warn!(url, error = %e, attempt = transient, "provider API unreachable, retrying");
                tokio::time::sleep(policy.backoff * 2u32.saturating_pow(transient - 1)).await;
            }
            Err(e) => {
                metrics::counter!("idsync_provider_api_errors_total", "status" => "unreachable")
                    .increment(1);
                return Err(ApiError::Unreachable {
                    url: url.to_owned(),
                    reason: e.without_url().to_string(),
                });
            }
        }
    }
}

/// How long a 429 asks to wait: `Retry-After` in seconds (the form Clerk
/// and Stack Auth send), else until `X-Rate-Limit-Reset` (Okta's epoch
/// seconds).
fn retry_after(resp: &Response) -> Option<Duration> {
    let header = |name| resp.headers().get(name)?.to_str().ok().map(str::trim);
    if let Some(seconds) = header(reqwest::header::RETRY_AFTER.as_str())
        .and_then(|raw| raw.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let reset: u64 = header("x-rate-limit-reset")?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now).max(1)))
}

fn truncated(mut body: String) -> String {
    const MAX: usize = 300;
    if body.len() > MAX {
        let mut end = MAX;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        body.push('…');
    }
    body
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("idsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// A management call: `request` builds the authenticated request, `body`
/// (if any) goes as JSON, and the answer is parsed as JSON.
pub(crate) async fn call_json(
    policy: &RetryPolicy,
    method: reqwest::Method,
    url: &str,
    body: Option<&serde_json::Value>,
    request: impl Fn(reqwest::Method, &str) -> RequestBuilder,
) -> Result<serde_json::Value, ApiError> {
    let policy = policy.for_method(&method);
    let resp = send(&policy, url, || {
        let req = request(method.clone(), url);
        match body {
            Some(b) => req.json(b),
            None => req,
        }
    })
    .await?;
    json(resp).await
}

/// A read of one resource: `Ok(None)` when the provider answered 404 with a
/// body `gone` recognises as its "no such resource" error. Any other 404 (a
/// wrong API URL, a proxy's page) stays an error, because callers act on
/// `None` by deleting. The whole body is read for this, not the truncated
/// one an error message keeps.
pub(crate) async fn get_optional(
    policy: &RetryPolicy,
    url: &str,
    make: impl Fn() -> RequestBuilder,
    gone: impl FnOnce(&Value) -> bool,
) -> Result<Option<Value>, ApiError> {
    read_optional(send_optional(policy, url, make).await?, gone).await
}

/// [`send`], also returning a 404 (to be read by [`read_optional`]).
pub(crate) async fn send_optional(
    policy: &RetryPolicy,
    url: &str,
    make: impl Fn() -> RequestBuilder,
) -> Result<Response, ApiError> {
    send_accepting(policy, url, make, |s| {
        s.is_success() || s == StatusCode::NOT_FOUND
    })
    .await
}

/// The body of a [`send_optional`] answer; see [`get_optional`].
pub(crate) async fn read_optional(
    resp: Response,
    gone: impl FnOnce(&Value) -> bool,
) -> Result<Option<Value>, ApiError> {
    if resp.status() != StatusCode::NOT_FOUND {
        return json(resp).await.map(Some);
    }
    let body = resp
        .text()
        .await
        .map_err(|e| ApiError::Body(e.to_string()))?;
    if serde_json::from_str::<Value>(&body).is_ok_and(|b| gone(&b)) {
        return Ok(None);
    }
    metrics::counter!("idsync_provider_api_errors_total", "status" => "404").increment(1);
    Err(ApiError::Status {
        status: 404,
        body: truncated(body),
    })
}

pub(crate) async fn json(resp: Response) -> Result<serde_json::Value, ApiError> {
    resp.json().await.map_err(|e| ApiError::Body(e.to_string()))
}

/// The whole body, for the page decoders, which are pure functions of it
/// (and so fuzzed on their own).
pub(crate) async fn bytes(resp: Response) -> Result<impl AsRef<[u8]>, ApiError> {
    resp.bytes()
        .await
        .map_err(|e| ApiError::Body(e.to_string()))
}
