//! Building answers: `application/scim+json` bodies.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::served::ServedResponse;

pub const CONTENT_TYPE: &str = "application/scim+json";

pub fn json(status: StatusCode, body: &Value, outcome: &'static str) -> ServedResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    ServedResponse {
        status,
        headers,
        body: body.to_string().into_bytes(),
        outcome,
    }
}

pub fn empty(status: StatusCode, outcome: &'static str) -> ServedResponse {
    ServedResponse {
        status,
        headers: HeaderMap::new(),
        body: Vec::new(),
        outcome,
    }
}
