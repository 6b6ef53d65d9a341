//! Reading provider JSON: the errors and the small helpers every provider
//! module shares.

use idsync_core::UserId;
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("event has no type")]
    MissingType,
    #[error("event data has no user id")]
    MissingUserId,
    #[error("event data is not an object")]
    NotAnObject,
    #[error("event has no usable version timestamp")]
    MissingVersion,
    #[error("{0}")]
    Invalid(String),
}

/// Parses a webhook body into its `type` and the whole value.
pub(crate) fn envelope(body: &[u8]) -> Result<(String, Value), DecodeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let event_type = value
        .get("type")
        .and_then(Value::as_str)
        .ok_or(DecodeError::MissingType)?
        .to_owned();
    Ok((event_type, value))
}

/// The `id` of a user object, validated.
pub(crate) fn user_id(data: &Value) -> Result<UserId, DecodeError> {
    data.get("id")
        .and_then(Value::as_str)
        .and_then(UserId::parse)
        .ok_or(DecodeError::MissingUserId)
}

/// A non-empty string field.
pub(crate) fn opt_str(data: &Value, key: &str) -> Option<String> {
    data.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
