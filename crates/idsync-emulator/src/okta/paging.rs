//! Okta's paging: a `limit`, an opaque `after` cursor, and `link` headers
//! (`rel="self"`, and `rel="next"` while there is more).

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderValue, header::LINK};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::{ApiError, invalid};

/// Percent-encodes a query value (everything but RFC 3986's unreserved
/// characters).
pub(super) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) fn link(url: &str, rel: &str) -> HeaderValue {
    // Built from the base URL, ids and percent-encoded values: always ASCII.
    HeaderValue::from_str(&format!("<{url}>; rel=\"{rel}\""))
        .unwrap_or(HeaderValue::from_static(""))
}

/// `limit`: a positive integer, capped at `max`; `default` when absent.
pub(super) fn limit(
    q: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match q.get("limit") {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(invalid("limit", &["limit: must be a positive integer"])),
        },
    }
}

/// One page of `items` (already filtered, in list order) after the one
/// whose `id` is `q["after"]`, with its `link` headers. `kept` names the
/// query parameters the next page's link repeats.
pub(super) fn page(
    list_url: &str,
    q: &HashMap<String, String>,
    raw_query: Option<&str>,
    items: &[Value],
    limit: usize,
    kept: &[&str],
) -> Response {
    let start = q.get("after").map_or(0, |after| {
        items
            .iter()
            .position(|v| v["id"] == after.as_str())
            .map_or(items.len(), |i| i + 1)
    });
    let rest = &items[start.min(items.len())..];
    let page = &rest[..limit.min(rest.len())];
    let mut response = Json(page).into_response();
    let links = response.headers_mut();
    let self_url = match raw_query.filter(|r| !r.is_empty()) {
        Some(raw) => format!("{list_url}?{raw}"),
        None => list_url.to_owned(),
    };
    links.append(LINK, link(&self_url, "self"));
    if let Some(last) = page
        .last()
        .and_then(|v| v["id"].as_str())
        .filter(|_| rest.len() > page.len())
    {
        let mut next = format!("{list_url}?after={}&limit={limit}", encode(last));
        for name in kept {
            if let Some(value) = q.get(*name) {
                next.push_str(&format!("&{name}={}", encode(value)));
            }
        }
        links.append(LINK, link(&next, "next"));
    }
    response
}
