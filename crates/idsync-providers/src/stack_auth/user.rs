//! Stack Auth's server user object, mapped to the table's columns.

use chrono::DateTime;
use idsync_core::{Change, Profile, Version};
use serde_json::Value;

use crate::DecodeError;
use crate::decode::{opt_str, user_id};

/// Maps a Stack Auth server user object to the table's columns.
pub fn profile(user: Value) -> Result<Profile, DecodeError> {
    Ok(Profile {
        id: user_id(&user)?,
        name: opt_str(&user, "display_name"),
        email: opt_str(&user, "primary_email"),
        created_at: user
            .get("signed_up_at_millis")
            .and_then(Value::as_i64)
            .and_then(DateTime::from_timestamp_millis),
        raw_json: user,
    })
}

/// The whole second before `asked`: `asked` is only known to precede the
/// server's read, and Stack Auth event versions are whole seconds, so an
/// event from the same second as the request must win the tie.
pub(crate) fn read_change(user: Value, asked: Version) -> Result<Change, DecodeError> {
    let version = Version::new(asked.whole_seconds().at() - chrono::TimeDelta::seconds(1));
    Ok(Change::upsert(profile(user)?, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_read_through_the_api_has_the_whole_second_before_the_request() {
        let asked = Version::from_unix_millis(1_714_564_800_500).unwrap();
        let user = json!({ "id": "3241a285-8329-4d69-8f3d-316e08cf140c" });
        let change = read_change(user, asked).unwrap();
        assert_eq!(
            change.version,
            Version::from_unix_seconds(1_714_564_799).unwrap()
        );
    }
}
