//! Clerk's user object, mapped to the table's columns.

use chrono::DateTime;
use idsync_core::{Change, Profile, Version};
use serde_json::Value;

use crate::DecodeError;
use crate::decode::{opt_str, user_id};

/// The user's `updated_at`, its version.
pub(crate) fn user_version(user: &Value) -> Option<Version> {
    user.get("updated_at")
        .and_then(Value::as_i64)
        .and_then(Version::from_unix_millis)
}

/// Maps a Clerk user object to the table's columns: name from first and
/// last name (else the username), email from `primary_email_address_id`.
pub fn profile(user: Value) -> Result<Profile, DecodeError> {
    let full_name = [opt_str(&user, "first_name"), opt_str(&user, "last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = Some(full_name)
        .filter(|n| !n.is_empty())
        .or_else(|| opt_str(&user, "username"));
    let primary = user.get("primary_email_address_id").and_then(Value::as_str);
    let email = primary.and_then(|primary| {
        user.get("email_addresses")?
            .as_array()?
            .iter()
            .find(|e| e.get("id").and_then(Value::as_str) == Some(primary))
            .and_then(|e| opt_str(e, "email_address"))
    });
    Ok(Profile {
        id: user_id(&user)?,
        name,
        email,
        created_at: user
            .get("created_at")
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis),
        raw_json: user,
    })
}

/// A user read through the API: its own `updated_at`, else `asked`.
pub(crate) fn read_change(user: Value, asked: Version) -> Result<Change, DecodeError> {
    let version = user_version(&user).unwrap_or(asked);
    Ok(Change::upsert(profile(user)?, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_falls_back_to_username_and_email_to_none() {
        let u = json!({"id": "user_1", "first_name": null, "last_name": "", "username": "ann", "email_addresses": [], "primary_email_address_id": null});
        let p = profile(u).unwrap();
        assert_eq!(p.name.as_deref(), Some("ann"));
        assert_eq!(p.email, None);
    }
}
