//! Okta's error answers: `{errorCode, errorSummary, errorLink, errorId,
//! errorCauses}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::alphanumeric;

/// An Okta error. Built into a response only at the end, which keeps the
/// `Result`s small.
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    summary: String,
    causes: Vec<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let causes: Vec<_> = self
            .causes
            .iter()
            .map(|c| json!({ "errorSummary": c }))
            .collect();
        let body = json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            // Okta's request ids: `oae` and 22 more characters.
            "errorId": format!("oae{}", alphanumeric(&mut rand::rng(), 22)),
            "errorCauses": causes,
        });
        (self.status, Json(body)).into_response()
    }
}

pub(super) type Reply = Result<Response, ApiError>;

pub(super) fn error(status: StatusCode, code: &'static str, summary: &str) -> ApiError {
    ApiError {
        status,
        code,
        summary: summary.to_owned(),
        causes: Vec::new(),
    }
}

/// E0000001: a field failed validation; each cause names its field.
pub(super) fn invalid(field: &str, causes: &[&str]) -> ApiError {
    ApiError {
        causes: causes.iter().map(|c| (*c).to_owned()).collect(),
        ..error(
            StatusCode::BAD_REQUEST,
            "E0000001",
            &format!("Api validation failed: {field}"),
        )
    }
}

pub(super) fn invalid_token() -> ApiError {
    error(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
    )
}

pub(super) fn not_found(id: &str) -> ApiError {
    missing(id, "User")
}

/// E0000007 for a resource of another kind, e.g. `UserGroup`, `AppInstance`.
pub(super) fn missing(id: &str, kind: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} ({kind})"),
    )
}

pub(super) fn bad_json() -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        "E0000003",
        "The request body was not well-formed.",
    )
}

pub(super) fn invalid_search() -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
    )
}

pub(super) fn internal() -> ApiError {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "E0000009",
        "Internal Server Error",
    )
}

pub(super) fn rate_limited() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
    .into_response()
}
