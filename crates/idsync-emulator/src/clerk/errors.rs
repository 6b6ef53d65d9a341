//! Clerk's error answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use crate::request::WrongType;

/// Clerk's error shape: `{"errors":[{message, long_message, code, meta?}],
/// "clerk_trace_id"}`. Built into a response only at the end, which keeps
/// the `Result`s small.
pub(super) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    long_message: String,
    meta: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut entry = json!({
            "message": self.message,
            "long_message": self.long_message,
            "code": self.code,
        });
        if let Some(meta) = self.meta {
            entry["meta"] = meta;
        }
        let trace = format!("{:032x}", rand::rng().random::<u128>());
        let body = json!({ "errors": [entry], "clerk_trace_id": trace });
        (self.status, Json(body)).into_response()
    }
}

pub(super) type Reply = Result<Response, ApiError>;

pub(super) fn error(
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    long_message: &str,
    meta: Option<Value>,
) -> ApiError {
    ApiError {
        status,
        code,
        message,
        long_message: long_message.to_owned(),
        meta,
    }
}

pub(super) fn invalid_param(param: &str, long_message: &str) -> ApiError {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "form_param_value_invalid",
        "is invalid",
        long_message,
        Some(json!({ "param_name": param })),
    )
}

pub(super) fn wrong_type(e: WrongType) -> ApiError {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "form_param_format_invalid",
        "is invalid",
        &format!("{} must be a {}", e.field, e.expected),
        Some(json!({ "param_name": e.field })),
    )
}

pub(super) fn not_found() -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "resource_not_found",
        "not found",
        "Resource not found",
        None,
    )
}

pub(super) fn rate_limited() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "Too many requests",
        "Too many requests, please retry later",
        None,
    )
    .into_response()
}
