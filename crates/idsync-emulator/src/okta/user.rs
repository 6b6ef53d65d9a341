//! Okta's user object (Users API `User`), its lifecycle statuses, and the
//! made-up users and edits the emulator produces.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::seed;
use crate::state::{Inner, StoredUser};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of an id that encode its sign-up millisecond: 62^8 > 2^47.
const TIME_CHARS: usize = 8;

/// A user id: `00u` and 17 letters or digits. The first 8 encode the
/// sign-up millisecond in base 62 (ASCII order is numeric order), so ids
/// sort by sign-up time and an `after` cursor naming a deleted user still
/// has its place in the list.
pub(super) fn user_id(created_ms: i64, rng: &mut impl Rng) -> String {
    let mut ms = created_ms.max(0) as u64;
    let mut time = [b'0'; TIME_CHARS];
    for slot in time.iter_mut().rev() {
        *slot = BASE62[(ms % 62) as usize];
        ms /= 62;
    }
    let time: String = time.iter().map(|&b| char::from(b)).collect();
    format!("00u{time}{}", alphanumeric(rng, 17 - TIME_CHARS))
}

/// The sign-up millisecond an id encodes.
pub(super) fn id_time(id: &str) -> Option<i64> {
    let time = id.strip_prefix("00u")?.get(..TIME_CHARS)?;
    time.bytes().try_fold(0i64, |acc, c| {
        let digit = BASE62.iter().position(|&b| b == c)?;
        Some(acc * 62 + digit as i64)
    })
}

/// Ids that are the same in every answer of one emulated org.
pub(super) struct OrgIds {
    pub user_type: String,
    pub schema: String,
    pub hook: String,
    pub admin: String,
    /// The org's own id (`00o…`), as in ORNs.
    pub org: String,
    /// The key id apps show as `credentials.signing.kid`.
    pub signing_kid: String,
}

pub(super) fn org_ids(core: &Core) -> OrgIds {
    // Derived from the seed apart from the users' rng, so they never change
    // which users get generated.
    let mut rng = StdRng::seed_from_u64(core.config.rng_seed ^ 0x6f6b_7461);
    OrgIds {
        user_type: format!("oty{}", alphanumeric(&mut rng, 17)),
        schema: format!("osc{}", alphanumeric(&mut rng, 17)),
        hook: format!("who{}", alphanumeric(&mut rng, 17)),
        admin: format!("00u{}", alphanumeric(&mut rng, 17)),
        org: format!("00o{}", alphanumeric(&mut rng, 17)),
        signing_kid: alphanumeric(&mut rng, 43),
    }
}

/// Okta's timestamps: RFC 3339 in UTC with milliseconds.
pub(super) fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn parse_iso(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Staged,
    Provisioned,
    Active,
    Suspended,
    Deprovisioned,
}

impl Status {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Staged => "STAGED",
            Self::Provisioned => "PROVISIONED",
            Self::Active => "ACTIVE",
            Self::Suspended => "SUSPENDED",
            Self::Deprovisioned => "DEPROVISIONED",
        }
    }

    pub(super) fn of(user: &Value) -> Option<Self> {
        let name = user["status"].as_str()?;
        [
            Self::Staged,
            Self::Provisioned,
            Self::Active,
            Self::Suspended,
            Self::Deprovisioned,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// The lifecycle operations a user in this status offers in `_links`.
    fn operations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Staged => &[("activate", "activate"), ("deactivate", "deactivate")],
            Self::Provisioned => &[("reactivate", "reactivate"), ("deactivate", "deactivate")],
            Self::Active => &[
                ("suspend", "suspend"),
                ("resetPassword", "reset_password"),
                ("expirePassword", "expire_password"),
                ("deactivate", "deactivate"),
            ],
            Self::Suspended => &[("unsuspend", "unsuspend"), ("deactivate", "deactivate")],
            Self::Deprovisioned => &[("activate", "activate")],
        }
    }
}

/// `_links`: the user, its type and schema, and what it can do next.
fn links(core: &Core, id: &str, status: Status) -> Value {
    let org = org_ids(core);
    let me = format!("{}/api/v1/users/{id}", core.base_url);
    let mut links = json!({
        "self": { "href": me },
        "type": { "href": format!("{}/api/v1/meta/types/user/{}", core.base_url, org.user_type) },
        "schema": { "href": format!("{}/api/v1/meta/schemas/user/{}", core.base_url, org.schema) },
    });
    for (name, path) in status.operations() {
        links[*name] = json!({ "href": format!("{me}/lifecycle/{path}"), "method": "POST" });
    }
    links
}

/// What a new user is made of.
pub(super) struct Fields {
    pub profile: Value,
    pub status: Status,
    pub has_password: bool,
    pub created_ms: i64,
    pub activated_ms: Option<i64>,
    pub status_changed_ms: Option<i64>,
    pub last_login_ms: Option<i64>,
    pub updated_ms: i64,
}

pub(super) fn user_json(core: &Core, id: &str, f: Fields) -> Value {
    let org = org_ids(core);
    let mut credentials = json!({ "provider": { "type": "OKTA", "name": "OKTA" } });
    if f.has_password {
        // Okta never returns the password, only that there is one.
        credentials["password"] = json!({});
    }
    json!({
        "id": id,
        "status": f.status.name(),
        "created": iso(f.created_ms),
        "activated": f.activated_ms.map(iso),
        "statusChanged": f.status_changed_ms.map(iso),
        "lastLogin": f.last_login_ms.map(iso),
        "lastUpdated": iso(f.updated_ms),
        "passwordChanged": f.has_password.then(|| iso(f.created_ms)),
        "type": { "id": org.user_type },
        "profile": f.profile,
        "credentials": credentials,
        "_links": links(core, id, f.status),
    })
}

/// Wraps a user object for the store; logins are unique.
pub(super) fn stored(json: Value) -> StoredUser {
    let time = |key: &str| json[key].as_str().and_then(parse_iso).unwrap_or_default();
    StoredUser {
        created_ms: time("created"),
        updated_ms: time("lastUpdated"),
        emails: json["profile"]["login"]
            .as_str()
            .map(str::to_lowercase)
            .into_iter()
            .collect(),
        json,
    }
}

/// `lastUpdated` strictly increases per user, even within one millisecond;
/// the time it was set to.
pub(super) fn touch(json: &mut Value, now_ms: i64) -> i64 {
    let previous = json["lastUpdated"]
        .as_str()
        .and_then(parse_iso)
        .unwrap_or(i64::MIN);
    let at = now_ms.max(previous.saturating_add(1));
    json["lastUpdated"] = json!(iso(at));
    at
}

/// Moves a user to `status` at `now_ms`, as a lifecycle operation does.
pub(super) fn set_status(core: &Core, json: &mut Value, status: Status, now_ms: i64) {
    let at = touch(json, now_ms);
    json["status"] = json!(status.name());
    json["statusChanged"] = json!(iso(at));
    if status == Status::Active && json["activated"].is_null() {
        json["activated"] = json!(iso(at));
    }
    let id = json["id"].as_str().unwrap_or_default().to_owned();
    json["_links"] = links(core, &id, status);
}

/// A person with both names, as Okta's default profile requires them.
fn named_person(inner: &mut Inner, current: Option<(&str, &str)>) -> (String, String, String) {
    loop {
        let p = seed::person(&mut inner.rng);
        if let (Some(first), Some(last)) = (p.first, p.last)
            && current != Some((first.as_str(), last.as_str()))
        {
            return (first, last, p.handle);
        }
    }
}

fn profile(inner: &mut Inner, first: String, last: String, handle: &str) -> Value {
    let login = seed::fresh_email(inner, handle);
    let rng = &mut inner.rng;
    let mobile = rng
        .random_bool(0.3)
        .then(|| format!("+1-555-{:04}", rng.random_range(0..10_000)));
    let second = rng
        .random_bool(0.1)
        .then(|| format!("{handle}.alt{}@example.org", rng.random_range(0..100_000)));
    json!({
        "firstName": first,
        "lastName": last,
        "mobilePhone": mobile,
        "secondEmail": second,
        "login": login,
        "email": login,
    })
}

/// A user who signed up at `created_ms`. Seeded users (`until_ms` later)
/// are in any status, about 5% deprovisioned; a user signing up now is
/// active.
pub(super) fn generate(
    core: &Core,
    inner: &mut Inner,
    created_ms: i64,
    until_ms: i64,
) -> (String, StoredUser) {
    let id = user_id(created_ms, &mut inner.rng);
    let (first, last, handle) = named_person(inner, None);
    let profile = profile(inner, first, last, &handle);
    let rng = &mut inner.rng;
    let until_ms = until_ms.max(created_ms);
    let status = if until_ms == created_ms {
        Status::Active
    } else {
        match rng.random_range(0..100) {
            0..5 => Status::Deprovisioned,
            5..8 => Status::Suspended,
            8..12 => Status::Provisioned,
            12..14 => Status::Staged,
            _ => Status::Active,
        }
    };
    let mut at = |from: i64| rng.random_range(from..=until_ms);
    let activated_ms = (status != Status::Staged).then(|| at(created_ms));
    let status_changed_ms = match status {
        Status::Staged => None,
        Status::Provisioned | Status::Active => activated_ms,
        Status::Suspended | Status::Deprovisioned => activated_ms.map(&mut at),
    };
    let logged_in = matches!(
        status,
        Status::Active | Status::Suspended | Status::Deprovisioned
    ) && rng.random_bool(0.85);
    // Deactivated and suspended users last signed in before that.
    let login_until = match status {
        Status::Active => until_ms,
        _ => status_changed_ms.unwrap_or(until_ms),
    };
    let last_login_ms = activated_ms
        .filter(|_| logged_in)
        .map(|a| rng.random_range(a..=login_until.max(a)));
    let updated_ms = rng.random_range(status_changed_ms.unwrap_or(created_ms)..=until_ms);
    let fields = Fields {
        profile,
        status,
        has_password: status != Status::Staged && rng.random_bool(0.8),
        created_ms,
        activated_ms,
        status_changed_ms,
        last_login_ms,
        updated_ms,
    };
    let json = user_json(core, &id, fields);
    (id, stored(json))
}

/// A new name, and now and then a new email address (the login stays).
pub(super) fn changed(inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
    let mut json = user.json.clone();
    let current = (
        json["profile"]["firstName"].as_str().unwrap_or_default(),
        json["profile"]["lastName"].as_str().unwrap_or_default(),
    );
    let current = (current.0.to_owned(), current.1.to_owned());
    let (first, last, handle) = named_person(inner, Some((&current.0, &current.1)));
    json["profile"]["firstName"] = json!(first);
    json["profile"]["lastName"] = json!(last);
    if inner.rng.random_bool(0.3) {
        json["profile"]["email"] = json!(seed::fresh_email(inner, &handle));
    }
    touch(&mut json, now_ms);
    stored(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_sign_up_time_and_give_it_back() {
        let mut rng = StdRng::seed_from_u64(1);
        let times = [0, 1, 61, 1_700_000_000_000, 1_700_000_000_001];
        let ids: Vec<String> = times.iter().map(|&t| user_id(t, &mut rng)).collect();
        for (id, &t) in ids.iter().zip(&times) {
            assert_eq!(id.len(), 20);
            assert!(id.starts_with("00u") && id.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(id_time(id), Some(t));
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(id_time("00u!"), None);
        assert_eq!(iso(1_372_091_958_000), "2013-06-24T16:39:18.000Z");
        assert_eq!(
            parse_iso("2013-06-24T16:39:18.000Z"),
            Some(1_372_091_958_000)
        );
    }
}
