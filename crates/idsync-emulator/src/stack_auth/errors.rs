//! Stack Auth's error answers: "known errors" as JSON with their code in a
//! header, plain status errors as text, and the error-status override.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::header;
use crate::request::WrongType;

/// An error answer. Built into a response only at the end, which keeps
/// the `Result`s small.
pub(super) enum ApiError {
    /// Stack's "known error": `{code, details?, error}` plus the
    /// `x-stack-known-error` header.
    Known {
        status: StatusCode,
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// A plain `StatusError`, which Stack answers as text.
    Plain {
        status: StatusCode,
        message: &'static str,
    },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Known {
                status,
                code,
                message,
                details,
            } => {
                let mut body = json!({ "code": code, "error": message });
                if let Some(details) = details {
                    body["details"] = details;
                }
                let mut response = (status, Json(body)).into_response();
                let headers = response.headers_mut();
                for name in ["x-stack-known-error", "x-hexclave-known-error"] {
                    headers.insert(name, HeaderValue::from_static(code));
                }
                response
            }
            Self::Plain { status, message } => (status, message).into_response(),
        }
    }
}

pub(super) type Reply = Result<Response, ApiError>;

pub(super) fn known_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    details: Option<Value>,
) -> ApiError {
    ApiError::Known {
        status,
        code,
        message: message.to_owned(),
        details,
    }
}

pub(super) fn schema_error(message: &str) -> ApiError {
    known_error(
        StatusCode::BAD_REQUEST,
        "SCHEMA_ERROR",
        message,
        Some(json!({ "message": message })),
    )
}

pub(super) fn wrong_type(method: &str, path: &str, e: WrongType) -> ApiError {
    schema_error(&format!(
        "Request validation failed on {method} {path}:\n  - body.{} must be a `{}` type",
        e.field, e.expected
    ))
}

pub(super) fn user_not_found() -> ApiError {
    known_error(
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
        "User not found.",
        None,
    )
}

pub(super) fn status_error(status: StatusCode, message: &'static str) -> ApiError {
    ApiError::Plain { status, message }
}

pub(super) fn rate_limited() -> Response {
    known_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        "Too many requests. Please wait a moment and try again.",
        None,
    )
    .into_response()
}

/// Browsers' fetch hides error bodies from some callers, so Stack's SDKs
/// ask for errors as 200 with the real status in a header; the backend
/// does this for any 4xx or 5xx.
pub(super) fn override_error_status(request: &HeaderMap, mut response: Response) -> Response {
    let status = response.status();
    if header(request, "override-error-status").is_none()
        || !(status.is_client_error() || status.is_server_error())
    {
        return response;
    }
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    for name in ["x-stack-actual-status", "x-hexclave-actual-status"] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from(status.as_u16()),
        );
    }
    response
}
