//! RFC 7644 §3.12 error answers.

use http::StatusCode;
use serde_json::json;

use super::response;
use crate::served::{ServedResponse, StoreFailure};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// An error answer: its status, `scimType` and detail for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {scim_type:?}: {detail}")]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad("invalidValue", detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad("invalidPath", detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad("invalidFilter", detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad("invalidSyntax", detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad("noTarget", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid bearer token is required",
        )
    }

    pub fn response(&self) -> ServedResponse {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let mut answer = response::json(self.status, &body, "refused");
        if self.status == StatusCode::UNAUTHORIZED {
            answer.headers.insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
        }
        if self.status.is_server_error() {
            answer.outcome = "failed";
            if self.status == StatusCode::SERVICE_UNAVAILABLE {
                answer.headers.insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("5"),
                );
            }
        }
        answer
    }
}

impl From<StoreFailure> for ScimError {
    fn from(e: StoreFailure) -> Self {
        match e {
            StoreFailure::Conflict(detail) => {
                Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
            }
            StoreFailure::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the database is unavailable; retry later",
            ),
            StoreFailure::Failed(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "the request could not be stored",
            ),
        }
    }
}
