//! Reading provider JSON: the errors and the small helpers every provider
//! module shares.

use idsync_core::{Change, UserId, Version};
use serde_json::Value;

use crate::ApiError;

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

/// A list page whose body is a bare JSON array of user objects (Clerk,
/// Okta): their changes, versioned as `read_change` does with `asked`.
pub(crate) fn user_array(
    body: &[u8],
    asked: Version,
    read_change: fn(Value, Version) -> Result<Change, DecodeError>,
) -> Result<Vec<Change>, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::Body(format!("not JSON: {e}")))?;
    let Value::Array(users) = value else {
        return Err(ApiError::Body("expected a JSON array of users".to_owned()));
    };
    Ok(users
        .into_iter()
        .map(|u| read_change(u, asked))
        .collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(user: Value, asked: Version) -> Result<Change, DecodeError> {
        Ok(Change::delete(user_id(&user)?, asked, user))
    }

    #[test]
    fn a_user_array_decodes_each_user_and_refuses_other_shapes() {
        let asked = Version::from_unix_seconds(1_700_000_000).unwrap();
        let changes = user_array(br#"[{"id":"a"},{"id":"b"}]"#, asked, read).unwrap();
        let ids: Vec<_> = changes.iter().map(|c| c.user_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(matches!(
            user_array(br#"{"data":[]}"#, asked, read),
            Err(ApiError::Body(_))
        ));
        assert!(matches!(
            user_array(br#"[{"name":"no id"}]"#, asked, read),
            Err(ApiError::Decode(DecodeError::MissingUserId))
        ));
    }
}
