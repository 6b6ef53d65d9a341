use chrono::{DateTime, Utc};
use serde::Serialize;

use std::borrow::Cow;

use crate::storable::{self, InvalidInput};

/// A provider's user id. Never empty, at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 255;

    /// Returns `None` for an empty, over-long or control-character id.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::check(raw).ok()
    }

    /// Refuses an empty, over-long or control-character id with its
    /// reason. Such an id is never cleaned: two users could become one.
    pub fn check(raw: &str) -> Result<Self, InvalidInput> {
        if raw.is_empty() {
            Err(InvalidInput::EmptyUserId)
        } else if raw.len() > Self::MAX_LEN {
            Err(InvalidInput::UserIdTooLong { len: raw.len() })
        } else if raw.chars().any(char::is_control) {
            Err(InvalidInput::UserIdControlChar)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version of a user's state: the provider's last-update time, or the
/// time of the event that carried it. Stored in `updated_at`; a change is
/// applied only when its version is not older than the row's.
///
/// Always a time Postgres can store: a version cannot be cleaned (any
/// replacement would order the change wrongly), so one out of range is
/// refused where it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(DateTime<Utc>);

impl Version {
    /// For times idsync itself produced (its clock, its database), which
    /// are always in range; an earlier one is raised to the earliest
    /// storable time rather than reach the database. Times read from
    /// outside go through `Version::try_from` or `from_unix_*`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(at.max(storable::earliest_storable_time()))
    }

    /// `None` if `ms` is not a time Postgres can store.
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(ms).and_then(|at| Self::try_from(at).ok())
    }

    /// `None` if `s` is not a time Postgres can store.
    pub fn from_unix_seconds(s: i64) -> Option<Self> {
        DateTime::from_timestamp(s, 0).and_then(|at| Self::try_from(at).ok())
    }

    pub fn now() -> Self {
        Self(Utc::now())
    }

    pub fn at(self) -> DateTime<Utc> {
        self.0
    }

    /// The version with its sub-second part dropped, to compare fairly with
    /// versions that only have whole seconds.
    pub fn whole_seconds(self) -> Self {
        Self::from_unix_seconds(self.0.timestamp()).unwrap_or(self)
    }
}

impl TryFrom<DateTime<Utc>> for Version {
    type Error = InvalidInput;

    fn try_from(at: DateTime<Utc>) -> Result<Self, InvalidInput> {
        storable::storable_time(at)
            .map(Self)
            .ok_or_else(|| InvalidInput::TimeOutOfRange {
                field: "version",
                at: at.to_rfc3339(),
            })
    }
}

/// The columns idsync fills from a provider's user object.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: UserId,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Informational: the store writes NULL for a time Postgres cannot hold.
    pub created_at: Option<DateTime<Utc>>,
    /// The provider's user object exactly as delivered.
    pub raw_json: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    Upsert(Profile),
    /// A deletion. The payload is what the provider sent; it is stored only
    /// when the user was never seen before (a tombstone), otherwise the row
    /// keeps its last known profile.
    Delete {
        raw_json: serde_json::Value,
    },
    /// The user is kept with this profile but marked deleted: a deprovisioned
    /// user whose current state is still known (SCIM's `active: false`).
    /// Orders like a delete.
    Deactivate(Profile),
}

/// One user change, from whichever path it came.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub user_id: UserId,
    pub version: Version,
    pub kind: ChangeKind,
}

impl Change {
    pub fn upsert(profile: Profile, version: Version) -> Self {
        Self {
            user_id: profile.id.clone(),
            version,
            kind: ChangeKind::Upsert(profile),
        }
    }

    pub fn delete(user_id: UserId, version: Version, raw_json: serde_json::Value) -> Self {
        Self {
            user_id,
            version,
            kind: ChangeKind::Delete { raw_json },
        }
    }

    /// A deactivation of a known profile; see [`ChangeKind::Deactivate`].
    pub fn deactivate(profile: Profile, version: Version) -> Self {
        Self {
            user_id: profile.id.clone(),
            version,
            kind: ChangeKind::Deactivate(profile),
        }
    }

    /// Whether the change marks the user deleted (a delete or a
    /// deactivation).
    pub fn is_delete(&self) -> bool {
        matches!(
            self.kind,
            ChangeKind::Delete { .. } | ChangeKind::Deactivate(_)
        )
    }

    /// What of this change is stored cleaned (rule 7, see
    /// [`storable`](crate::storable)); empty nearly always. Recorded with
    /// the delivery, so a cleaned field is never silent.
    pub fn cleaned_fields(&self) -> Vec<&'static str> {
        let has_nul = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| matches!(storable::storable_text(s), Cow::Owned(_)))
        };
        let mut cleaned = Vec::new();
        let raw = match &self.kind {
            ChangeKind::Upsert(p) | ChangeKind::Deactivate(p) => {
                if p.created_at
                    .is_some_and(|at| storable::storable_time(at).is_none())
                {
                    cleaned.push("created_at out of Postgres's range, stored as NULL");
                }
                if has_nul(&p.name) {
                    cleaned.push("U+0000 in name replaced");
                }
                if has_nul(&p.email) {
                    cleaned.push("U+0000 in email replaced");
                }
                &p.raw_json
            }
            ChangeKind::Delete { raw_json } => raw_json,
        };
        if matches!(storable::storable_json(raw), Cow::Owned(_)) {
            cleaned.push("U+0000 in raw_json replaced");
        }
        cleaned
    }

    /// Whether `self` should replace `other` for the same user: the newer
    /// version wins, and at the same version a delete wins over an update.
    /// Between two equal-version updates the later one (`self`) wins.
    pub fn supersedes(&self, other: &Change) -> bool {
        match self.version.cmp(&other.version) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.is_delete() || !other.is_delete(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(v: i64) -> Change {
        let id = UserId::parse("u1").unwrap();
        Change::upsert(
            Profile {
                id,
                name: None,
                email: None,
                created_at: None,
                raw_json: serde_json::json!({"id": "u1"}),
            },
            Version::from_unix_seconds(v).unwrap(),
        )
    }

    fn delete(v: i64) -> Change {
        Change::delete(
            UserId::parse("u1").unwrap(),
            Version::from_unix_seconds(v).unwrap(),
            serde_json::json!({"id": "u1"}),
        )
    }

    #[test]
    fn user_id_rejects_empty_long_and_control() {
        assert!(UserId::parse("").is_none());
        assert!(UserId::parse(&"a".repeat(256)).is_none());
        assert!(UserId::parse("a\nb").is_none());
        assert_eq!(UserId::parse("user_2x").unwrap().as_str(), "user_2x");
    }

    #[test]
    fn versions_are_always_storable() {
        let measured = -8_000_000_000_000_000;
        assert_eq!(Version::from_unix_millis(measured), None);
        assert_eq!(Version::from_unix_seconds(measured / 1000), None);
        let far = DateTime::from_timestamp_millis(measured).unwrap();
        assert!(matches!(
            Version::try_from(far),
            Err(InvalidInput::TimeOutOfRange {
                field: "version",
                ..
            })
        ));
        assert_eq!(
            Version::new(far).at(),
            storable::earliest_storable_time(),
            "raised, not kept"
        );
        assert_eq!(
            Version::from_unix_seconds(1_700_000_000)
                .unwrap()
                .at()
                .timestamp(),
            1_700_000_000
        );
    }

    #[test]
    fn newer_version_wins_and_delete_wins_a_tie() {
        assert!(upsert(2).supersedes(&upsert(1)));
        assert!(!upsert(1).supersedes(&upsert(2)));
        assert!(delete(1).supersedes(&upsert(1)));
        assert!(!upsert(1).supersedes(&delete(1)));
        assert!(upsert(1).supersedes(&upsert(1)));
        assert!(!upsert(1).supersedes(&delete(2)));
    }
}
