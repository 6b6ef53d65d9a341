//! Okta's user object, mapped to the table's columns.
//!
//! `id` is the Okta user id, the `sub` of Okta ID tokens. The version is
//! the later of `lastUpdated` and `statusChanged` (a status change does not
//! always move `lastUpdated`). A `DEPROVISIONED` user (deactivated) is a
//! soft delete; reactivation makes it an upsert again.

use chrono::{DateTime, Utc};
use idsync_core::{Change, Profile, Version};
use serde_json::Value;

use crate::DecodeError;
use crate::decode::{opt_str, user_id};

fn timestamp(user: &Value, key: &str) -> Option<DateTime<Utc>> {
    user.get(key)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The later of `lastUpdated` and `statusChanged`.
pub(crate) fn version(user: &Value) -> Option<Version> {
    [
        timestamp(user, "lastUpdated"),
        timestamp(user, "statusChanged"),
    ]
    .into_iter()
    .flatten()
    .max()
    .map(Version::new)
}

/// Maps an Okta user to the table's columns: the name is `displayName`,
/// else `firstName lastName`, else `login`.
pub fn profile(user: Value) -> Result<Profile, DecodeError> {
    let p = user.get("profile").filter(|p| p.is_object());
    let field = |key: &str| p.and_then(|p| opt_str(p, key));
    let full_name = [field("firstName"), field("lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = field("displayName")
        .or_else(|| Some(full_name).filter(|n| !n.is_empty()))
        .or_else(|| field("login"));
    Ok(Profile {
        id: user_id(&user)?,
        name,
        email: field("email"),
        created_at: timestamp(&user, "created"),
        raw_json: user,
    })
}

/// The change for a user read through the API: its own version (`asked`
/// only when Okta gave neither timestamp), a delete when deprovisioned.
pub(crate) fn read_change(user: Value, asked: Version) -> Result<Change, DecodeError> {
    let version = version(&user).unwrap_or(asked);
    if user.get("status").and_then(Value::as_str) == Some("DEPROVISIONED") {
        return Ok(Change::delete(user_id(&user)?, version, user));
    }
    Ok(Change::upsert(profile(user)?, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use idsync_core::ChangeKind;
    use serde_json::json;

    /// The user object of Okta's Users API reference.
    fn documented() -> Value {
        json!({
            "id": "00ub0oNGTSWTBKOLGLNR",
            "status": "ACTIVE",
            "created": "2013-06-24T16:39:18.000Z",
            "activated": "2013-06-24T16:39:19.000Z",
            "statusChanged": "2013-06-24T16:39:19.000Z",
            "lastLogin": "2013-06-24T17:39:19.000Z",
            "lastUpdated": "2013-07-02T21:36:25.344Z",
            "passwordChanged": "2013-07-02T21:36:25.344Z",
            "profile": {
                "firstName": "Isaac",
                "lastName": "Brock",
                "email": "isaac.brock@example.com",
                "login": "isaac.brock@example.com",
                "mobilePhone": "555-415-1337"
            },
            "credentials": {
                "password": {},
                "recovery_question": {"question": "Who's a major player in the cowboy scene?"},
                "provider": {"type": "OKTA", "name": "OKTA"}
            },
            "_links": {"self": {"href": "https://{yourOktaDomain}/api/v1/users/00ub0oNGTSWTBKOLGLNR"}}
        })
    }

    #[test]
    fn maps_the_documented_user() {
        let asked = Version::from_unix_seconds(2_000_000_000).unwrap();
        let change = read_change(documented(), asked).unwrap();
        assert_eq!(change.user_id.as_str(), "00ub0oNGTSWTBKOLGLNR");
        assert_eq!(
            change.version.at(),
            DateTime::parse_from_rfc3339("2013-07-02T21:36:25.344Z").unwrap()
        );
        let ChangeKind::Upsert(p) = change.kind else {
            panic!("not an upsert")
        };
        assert_eq!(p.name.as_deref(), Some("Isaac Brock"));
        assert_eq!(p.email.as_deref(), Some("isaac.brock@example.com"));
        assert_eq!(p.created_at.unwrap().timestamp(), 1_372_091_958);
        assert_eq!(p.raw_json, documented());
    }

    #[test]
    fn display_name_wins_and_login_is_the_last_resort() {
        let mut u = documented();
        u["profile"]["displayName"] = json!("Ike");
        assert_eq!(profile(u).unwrap().name.as_deref(), Some("Ike"));
        let u = json!({"id": "00u1", "profile": {"login": "ike@example.com"}});
        assert_eq!(profile(u).unwrap().name.as_deref(), Some("ike@example.com"));
    }

    #[test]
    fn a_later_status_change_is_the_version_and_deprovisioned_is_a_delete() {
        let mut u = documented();
        u["status"] = json!("DEPROVISIONED");
        u["statusChanged"] = json!("2014-01-01T00:00:00.000Z");
        let asked = Version::from_unix_seconds(2_000_000_000).unwrap();
        let change = read_change(u.clone(), asked).unwrap();
        assert!(change.is_delete());
        assert_eq!(change.version.at().timestamp(), 1_388_534_400);
    }
}
