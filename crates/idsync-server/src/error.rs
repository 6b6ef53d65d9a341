//! One HTTP error type, and the one place where an admin operation's
//! failure gets its status code:
//!
//! - 4xx: the caller's mistake (unknown connection or user, invalid input,
//!   a job already running, a request the provider refused);
//! - 500: a bug, or the database refusing what idsync asked (logged, and
//!   the caller learns nothing more);
//! - 502: the provider answered badly (an error of its own, an answer
//!   idsync cannot read, refused credentials);
//! - 503 with `Retry-After`: only when the database or the provider is
//!   unavailable, so trying again later can work.

use std::error::Error;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idsync_providers::ApiError;
use idsync_store::StoreError;

use crate::admin::input::InvalidInput;
use crate::admin::service::AdminError;

/// An HTTP error: a status and a message safe to show the caller. Internal
/// details are logged, not returned.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Tell well-behaved senders when to come back.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

/// The status code of an admin operation's failure, for the API and the
/// console alike.
pub fn status_of(e: &AdminError) -> StatusCode {
    match e {
        AdminError::NoConnection(_)
        | AdminError::NoUser { .. }
        | AdminError::NoError { .. }
        | AdminError::ProviderHasNoUser { .. } => StatusCode::NOT_FOUND,
        AdminError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AdminError::Busy => StatusCode::CONFLICT,
        AdminError::Provider(e) => provider_status(e),
        AdminError::Store(e) => store_status(e),
    }
}

fn store_status(e: &StoreError) -> StatusCode {
    if e.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

fn provider_status(e: &ApiError) -> StatusCode {
    match e {
        // The provider understood and said no: the request was wrong.
        ApiError::Status { status, .. } if (400..500).contains(status) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ApiError::Unsupported(_) | ApiError::NotFound(_) => StatusCode::UNPROCESSABLE_ENTITY,
        // Down, or still limiting after every retry: later may work.
        ApiError::Unreachable { .. } | ApiError::RateLimited(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Unauthorized { .. }
        | ApiError::Status { .. }
        | ApiError::Body(_)
        | ApiError::Decode(_) => StatusCode::BAD_GATEWAY,
    }
}

impl From<AdminError> for HttpError {
    fn from(e: AdminError) -> Self {
        let status = status_of(&e);
        let message = match &e {
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
            AdminError::Store(_) => "database unavailable, try again".to_owned(),
            AdminError::Provider(ApiError::Status { body, .. })
                if status == StatusCode::UNPROCESSABLE_ENTITY =>
            {
                format!("the provider refused: {body}")
            }
            AdminError::Provider(ApiError::Unsupported(why)) => (*why).to_owned(),
            AdminError::Provider(other) => format!("provider API: {other}"),
            other => other.to_string(),
        };
        if status.is_server_error() {
            log_failure(status, &e);
        }
        Self::new(status, message)
    }
}

impl From<InvalidInput> for HttpError {
    fn from(e: InvalidInput) -> Self {
        AdminError::from(e).into()
    }
}

/// Logs a 5xx's cause with its chain of sources (the caller only sees a
/// safe summary). A source whose text its error already shows is skipped.
pub(crate) fn log_failure(status: StatusCode, e: &(dyn Error + 'static)) {
    let mut chain = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !chain.contains(&text) {
            chain.push_str(": ");
            chain.push_str(&text);
        }
        cause = c.source();
    }
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(status = status.as_u16(), error = %chain, "admin request failed");
    } else {
        tracing::warn!(status = status.as_u16(), error = %chain, "admin request failed");
    }
}

// axum's extractor rejections (a malformed query, path or body) keep
// axum's status and message, in the JSON error body instead of plain text.

impl From<JsonRejection> for HttpError {
    fn from(r: JsonRejection) -> Self {
        Self::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for HttpError {
    fn from(r: QueryRejection) -> Self {
        Self::new(r.status(), r.body_text())
    }
}

impl From<PathRejection> for HttpError {
    fn from(r: PathRejection) -> Self {
        Self::new(r.status(), r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use idsync_providers::ApiError;
    use idsync_store::StoreError;

    use super::{HttpError, status_of};
    use crate::admin::input::Email;
    use crate::admin::service::AdminError;

    fn answer(e: AdminError) -> (StatusCode, String) {
        let e = HttpError::from(e);
        (e.status, e.message)
    }

    #[test]
    fn a_database_that_is_down_is_503_and_a_database_error_is_500() {
        let down = AdminError::Store(StoreError::from(sqlx::Error::PoolTimedOut));
        assert_eq!(
            answer(down),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable, try again".to_owned()
            )
        );
        // A query the database refuses (a column renamed behind idsync's
        // back, a bug): retrying will not help, and the details stay in the log.
        let bug = AdminError::Store(StoreError::from(sqlx::Error::ColumnNotFound(
            "email".into(),
        )));
        assert_eq!(
            answer(bug),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_owned()
            )
        );
    }

    #[test]
    fn provider_failures_say_whose_fault_it_is() {
        let status = |e: ApiError| status_of(&AdminError::Provider(e));
        assert_eq!(
            status(ApiError::Unreachable {
                url: "http://x".into(),
                reason: "connection refused".into()
            }),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(ApiError::RateLimited(100)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(ApiError::Status {
                status: 500,
                body: "oops".into()
            }),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status(ApiError::Body("not JSON".into())),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status(ApiError::Unauthorized {
                status: 401,
                body: String::new()
            }),
            StatusCode::BAD_GATEWAY
        );
        let (code, message) = answer(AdminError::Provider(ApiError::Status {
            status: 422,
            body: "email taken".into(),
        }));
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(message, "the provider refused: email taken");
    }

    #[test]
    fn caller_mistakes_are_4xx() {
        assert_eq!(
            answer(AdminError::NoConnection("x".into())),
            (
                StatusCode::NOT_FOUND,
                "no connection named \"x\"".to_owned()
            )
        );
        let invalid = Email::parse("nope").map(|_| ()).unwrap_err();
        assert_eq!(
            answer(invalid.into()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "email is not an email address".to_owned()
            )
        );
        assert_eq!(status_of(&AdminError::Busy), StatusCode::CONFLICT);
        let gone = AdminError::ProviderHasNoUser {
            id: "u1".into(),
            source: ApiError::Status {
                status: 404,
                body: String::new(),
            },
        };
        assert_eq!(
            answer(gone),
            (
                StatusCode::NOT_FOUND,
                "the provider has no user \"u1\"".to_owned()
            )
        );
    }
}
