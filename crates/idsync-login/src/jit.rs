//! Just-in-time sync: the signed-in user becomes a [`Change`] handed to
//! idsync's applier, like a webhook's, so the users table has the row
//! before the application's first write that references it.

use idsync_core::{Change, Profile, UserId, Version};
use idsync_store::apply::{Outcome, apply_changes};
use idsync_store::{PgPool, StoreError, UsersTable};
use serde_json::{Map, Value};

/// Claims that describe one token, not the user: dropped from `raw_json`
/// so that signing in again with an unchanged profile writes nothing (the
/// applier skips upserts whose content equals the row).
const PER_TOKEN_CLAIMS: &[&str] = &[
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "jti",
    "azp",
    "sid",
    "amr",
    "acr",
];

/// The user as the applier wants it: `id` = `sub`, `name` = `name` (or
/// given and family name), `email` = `email`, `raw_json` = the claims less
/// the per-token ones. The version is the `updated_at` claim when present
/// (so a stale sign-in never overwrites a newer webhook), else now.
///
/// Returns `None` when `sub` is missing or not a valid user id.
pub(crate) fn change_from_claims(claims: &Map<String, Value>) -> Option<Change> {
    let id = UserId::parse(claims.get("sub")?.as_str()?)?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let name = text("name").or_else(|| {
        let joined = [text("given_name"), text("family_name")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    });
    let version = claims
        .get("updated_at")
        .and_then(Value::as_i64)
        .and_then(Version::from_unix_seconds)
        .unwrap_or_else(Version::now);
    let mut raw = claims.clone();
    for k in PER_TOKEN_CLAIMS {
        raw.remove(*k);
    }
    Some(Change::upsert(
        Profile {
            id,
            name,
            email: text("email"),
            created_at: None,
            raw_json: Value::Object(raw),
        },
        version,
    ))
}

/// Where signed-in users are written.
#[derive(Debug, Clone)]
pub(crate) struct UserSync {
    pub pool: PgPool,
    pub table: UsersTable,
}

impl UserSync {
    /// Applies `change` in its own transaction and commits it before the
    /// session cookie is issued.
    pub async fn apply(&self, change: Change) -> Result<Outcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        let outcomes = apply_changes(&mut tx, &self.table, std::slice::from_ref(&change)).await?;
        tx.commit().await?;
        let outcome = outcomes.first().copied().unwrap_or(Outcome::Unchanged);
        tracing::info!(
            user_id = %change.user_id,
            table = %self.table,
            outcome = outcome.as_str(),
            "synced the signed-in user"
        );
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use idsync_core::ChangeKind;
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn profile(c: &Change) -> &Profile {
        match &c.kind {
            ChangeKind::Upsert(p) => p,
            ChangeKind::Delete { .. } | ChangeKind::Deactivate(_) => panic!("not an upsert"),
        }
    }

    #[test]
    fn profile_from_okta_like_claims() {
        let c = change_from_claims(&claims(json!({
            "sub": "00u1abc", "name": "Ada Lovelace", "email": "ada@example.com",
            "iss": "https://dev-1.okta.com", "aud": "cid", "iat": 1, "exp": 2,
            "nonce": "n", "at_hash": "h", "idp": "00o1", "updated_at": 1_700_000_000
        })))
        .unwrap();
        let p = profile(&c);
        assert_eq!(p.id.as_str(), "00u1abc");
        assert_eq!(p.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(p.email.as_deref(), Some("ada@example.com"));
        assert_eq!(p.created_at, None);
        assert_eq!(
            c.version,
            Version::from_unix_seconds(1_700_000_000).unwrap()
        );
        let raw = p.raw_json.as_object().unwrap();
        for dropped in ["aud", "iat", "exp", "nonce", "at_hash"] {
            assert!(!raw.contains_key(dropped), "{dropped} kept");
        }
        for kept in ["sub", "iss", "idp", "email", "updated_at"] {
            assert!(raw.contains_key(kept), "{kept} dropped");
        }
    }

    #[test]
    fn name_falls_back_to_given_and_family_and_version_to_now() {
        let before = Version::now();
        let c = change_from_claims(&claims(json!({
            "sub": "u", "given_name": "Ada", "family_name": "Lovelace", "name": " "
        })))
        .unwrap();
        assert_eq!(profile(&c).name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(profile(&c).email, None);
        assert!(c.version >= before);
        let c = change_from_claims(&claims(json!({"sub": "u"}))).unwrap();
        assert_eq!(profile(&c).name, None);
    }

    #[test]
    fn missing_or_invalid_sub_gives_nothing() {
        assert!(change_from_claims(&claims(json!({"email": "a@b"}))).is_none());
        assert!(change_from_claims(&claims(json!({"sub": ""}))).is_none());
        assert!(change_from_claims(&claims(json!({"sub": 42}))).is_none());
        assert!(change_from_claims(&claims(json!({"sub": "a\nb"}))).is_none());
    }
}
