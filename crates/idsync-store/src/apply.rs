//! The versioned batch upsert: the only code that writes a users table.
//!
//! One statement per batch (`INSERT ... SELECT FROM UNNEST ... ON CONFLICT`),
//! whose `WHERE` clause carries the correctness rules:
//! - an upsert applies when its version is newer than the row's, or equal
//!   to it while the row is not deleted (a delete wins a tie);
//! - an upsert whose content equals the row is not written (no churn);
//! - a delete applies when its version is not older; it keeps the last
//!   profile and the first `deleted_at`;
//! - a delete of a user never seen inserts a tombstone, so a stale create
//!   delivered later cannot bring the user back;
//! - a deactivation is a delete that also replaces the profile, and is not
//!   written when the row is already deactivated with that profile.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use idsync_core::{Change, ChangeKind, storable_json, storable_text, storable_time};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};

use crate::{StoreError, UsersTable};

/// What happened to one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new row.
    Inserted,
    /// An existing row took the change.
    Updated,
    /// The user was marked deleted (or a tombstone inserted).
    Deleted,
    /// The row already had this content; nothing written.
    Unchanged,
    /// The row holds a newer version; the change was dropped.
    Stale,
    /// The same delivery was seen before; nothing done.
    Duplicate,
    /// An event type idsync does not handle; acknowledged and dropped.
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inserted => "inserted",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }

    /// The outcome named by [`as_str`](Self::as_str).
    pub fn parse(word: &str) -> Option<Self> {
        [
            Self::Inserted,
            Self::Updated,
            Self::Deleted,
            Self::Unchanged,
            Self::Stale,
            Self::Duplicate,
            Self::Ignored,
        ]
        .into_iter()
        .find(|o| o.as_str() == word)
    }

    /// Whether the users table was written.
    pub fn wrote(self) -> bool {
        matches!(self, Self::Inserted | Self::Updated | Self::Deleted)
    }
}

/// The changes of one batch after keeping, per user, only the one that wins
/// under the versioning rules, so one statement never touches a row twice.
/// Winners borrow their change: a profile is cloned only where a delete
/// takes over the profile of the upsert it beats.
pub(crate) struct Reduced<'a> {
    pub winners: Vec<Cow<'a, Change>>,
    /// For each winner, the index of the input it came from.
    pub source: Vec<usize>,
    /// For each input, the index of its user's winner.
    pub slot_of: Vec<usize>,
}

pub(crate) fn reduce<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Reduced<'a> {
    let changes = changes.into_iter();
    let mut reduced = Reduced {
        winners: Vec::with_capacity(changes.size_hint().0),
        source: Vec::new(),
        slot_of: Vec::with_capacity(changes.size_hint().0),
    };
    let mut by_user: HashMap<&str, usize> = HashMap::new();
    for (index, change) in changes.enumerate() {
        match by_user.get(change.user_id.as_str()) {
            Some(&slot) => {
                let current = &reduced.winners[slot];
                if change.supersedes(current) {
                    // A delete keeps the profile it replaces, as the table would.
                    let next = match (&change.kind, &current.kind) {
                        (ChangeKind::Delete { .. }, ChangeKind::Upsert(p)) => {
                            let mut next = change.clone();
                            next.kind = ChangeKind::Delete {
                                raw_json: p.raw_json.clone(),
                            };
                            Cow::Owned(next)
                        }
                        _ => Cow::Borrowed(change),
                    };
                    reduced.winners[slot] = next;
                    reduced.source[slot] = index;
                }
                reduced.slot_of.push(slot);
            }
            None => {
                by_user.insert(change.user_id.as_str(), reduced.winners.len());
                reduced.slot_of.push(reduced.winners.len());
                reduced.winners.push(Cow::Borrowed(change));
                reduced.source.push(index);
            }
        }
    }
    reduced
}

/// The winners of a batch as the upsert's parameters `$1`..`$7`, one
/// array per column, in user-id order: concurrent batches (other replicas,
/// backfill, the applier's other batches in flight) then lock rows in the
/// same order and cannot deadlock on them.
pub(crate) struct Rows<'a> {
    /// Borrowed from the changes: profiles are serialized straight into
    /// the statement's parameters, never copied.
    raw: Vec<Json<Cow<'a, Value>>>,
    pub ids: Vec<String>,
    names: Vec<Option<String>>,
    emails: Vec<Option<String>>,
    created: Vec<Option<DateTime<Utc>>>,
    versions: Vec<DateTime<Utc>>,
    deleted: Vec<Option<DateTime<Utc>>>,
    /// The ids of deactivations: deletes that still replace the profile.
    /// Bound apart from `$1`..`$7`, where [`upsert_sql`] is told.
    pub deactivated: Vec<String>,
}

impl<'a> Rows<'a> {
    pub(crate) fn new(winners: &'a [Cow<'_, Change>]) -> Self {
        let mut order: Vec<usize> = (0..winners.len()).collect();
        order.sort_by(|&a, &b| winners[a].user_id.cmp(&winners[b].user_id));
        let n = winners.len();
        let mut rows = Self {
            raw: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            names: Vec::with_capacity(n),
            emails: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            deleted: Vec::with_capacity(n),
            deactivated: Vec::new(),
        };
        for i in order {
            let change = &winners[i];
            rows.ids.push(change.user_id.as_str().to_owned());
            rows.versions.push(change.version.at());
            match &change.kind {
                // Rule 7: what Postgres cannot hold is cleaned here, where every
                // path to the table meets (see idsync_core's `storable`).
                ChangeKind::Upsert(p) | ChangeKind::Deactivate(p) => {
                    rows.raw.push(Json(storable_json(&p.raw_json)));
                    rows.names
                        .push(p.name.as_deref().map(|s| storable_text(s).into_owned()));
                    rows.emails
                        .push(p.email.as_deref().map(|s| storable_text(s).into_owned()));
                    rows.created.push(p.created_at.and_then(storable_time));
                    if matches!(change.kind, ChangeKind::Deactivate(_)) {
                        rows.deactivated.push(change.user_id.as_str().to_owned());
                        rows.deleted.push(Some(change.version.at()));
                    } else {
                        rows.deleted.push(None);
                    }
                }
                ChangeKind::Delete { raw_json } => {
                    rows.raw.push(Json(storable_json(raw_json)));
                    rows.names.push(None);
                    rows.emails.push(None);
                    rows.created.push(None);
                    rows.deleted.push(Some(change.version.at()));
                }
            }
        }
        rows
    }

    /// Binds the rows as `$1`..`$7`.
    pub(crate) fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.raw)
            .bind(&self.ids)
            .bind(&self.names)
            .bind(&self.emails)
            .bind(&self.created)
            .bind(&self.versions)
            .bind(&self.deleted)
    }
}

/// The rows `$1`..`$7` as a relation with the table's columns.
pub(crate) const ROWS: &str =
    "SELECT * FROM UNNEST($1::jsonb[], $2::text[], $3::text[], $4::text[],
                     $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
        AS r(raw_json, id, name, email, created_at, updated_at, deleted_at)";

/// The versioned upsert of the relation `source` (columns as [`ROWS`]),
/// returning each row written and whether it was inserted. `deactivated`
/// is the placeholder bound to [`Rows::deactivated`], e.g. `$8`.
pub(crate) fn upsert_sql(table: &UsersTable, source: &str, deactivated: &str) -> String {
    format!(
        r#"INSERT INTO {t} AS t (raw_json, id, name, email, created_at, updated_at, deleted_at)
{source}
ON CONFLICT (id) DO UPDATE SET
    raw_json   = CASE WHEN EXCLUDED.deleted_at IS NULL OR EXCLUDED.id = ANY({deactivated}::text[])
                      THEN EXCLUDED.raw_json ELSE t.raw_json END,
    name       = CASE WHEN EXCLUDED.deleted_at IS NULL OR EXCLUDED.id = ANY({deactivated}::text[])
                      THEN EXCLUDED.name ELSE t.name END,
    email      = CASE WHEN EXCLUDED.deleted_at IS NULL OR EXCLUDED.id = ANY({deactivated}::text[])
                      THEN EXCLUDED.email ELSE t.email END,
    created_at = CASE WHEN EXCLUDED.deleted_at IS NULL OR EXCLUDED.id = ANY({deactivated}::text[])
                      THEN EXCLUDED.created_at ELSE t.created_at END,
    updated_at = EXCLUDED.updated_at,
    deleted_at = CASE WHEN EXCLUDED.deleted_at IS NULL THEN NULL
                      ELSE coalesce(t.deleted_at, EXCLUDED.deleted_at) END
WHERE CASE WHEN EXCLUDED.deleted_at IS NULL THEN
        (t.updated_at IS NULL OR t.updated_at < EXCLUDED.updated_at
            OR (t.updated_at = EXCLUDED.updated_at AND t.deleted_at IS NULL))
        AND (t.deleted_at IS NOT NULL
            OR (t.raw_json, t.name, t.email, t.created_at)
               IS DISTINCT FROM (EXCLUDED.raw_json, EXCLUDED.name, EXCLUDED.email, EXCLUDED.created_at))
      WHEN EXCLUDED.id = ANY({deactivated}::text[]) THEN
        (t.updated_at IS NULL OR t.updated_at < EXCLUDED.updated_at
            OR (t.updated_at = EXCLUDED.updated_at AND t.deleted_at IS NULL))
        AND (t.deleted_at IS NULL
            OR (t.raw_json, t.name, t.email, t.created_at)
               IS DISTINCT FROM (EXCLUDED.raw_json, EXCLUDED.name, EXCLUDED.email, EXCLUDED.created_at))
      ELSE
        (t.updated_at IS NULL OR t.updated_at < EXCLUDED.updated_at
            OR (t.updated_at = EXCLUDED.updated_at AND t.deleted_at IS NULL))
      END
RETURNING t.id, (t.xmax = 0) AS inserted"#,
        t = table.qualified()
    )
}

/// Applies `changes` in one statement on `conn` (the caller owns the
/// transaction). Returns one outcome per input, in order; changes that lost
/// to a newer one of the same batch are `Stale`.
pub async fn apply_changes(
    conn: &mut PgConnection,
    table: &UsersTable,
    changes: &[Change],
) -> Result<Vec<Outcome>, StoreError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let Reduced {
        winners,
        source,
        slot_of,
    } = reduce(changes);
    let rows = Rows::new(&winners);
    let ids = &rows.ids;
    let sql = upsert_sql(table, ROWS, "$8");
    let written = rows
        .bind(sqlx::query(&sql))
        .bind(&rows.deactivated)
        .fetch_all(&mut *conn)
        .await?;
    let mut written_by_id: HashMap<String, bool> = HashMap::with_capacity(written.len());
    for row in written {
        written_by_id.insert(row.try_get("id")?, row.try_get("inserted")?);
    }

    // Tell "stale" from "unchanged" for the rows left alone.
    let untouched: Vec<String> = ids
        .iter()
        .filter(|id| !written_by_id.contains_key(*id))
        .cloned()
        .collect();
    let mut current_version: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();
    if !untouched.is_empty() {
        let rows = sqlx::query(&format!(
            "SELECT id, updated_at FROM {} WHERE id = ANY($1)",
            table.qualified()
        ))
        .bind(&untouched)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            current_version.insert(row.try_get("id")?, row.try_get("updated_at")?);
        }
    }

    let winner_outcomes: Vec<Outcome> = winners
        .iter()
        .map(|change| match written_by_id.get(change.user_id.as_str()) {
            Some(_) if change.is_delete() => Outcome::Deleted,
            Some(true) => Outcome::Inserted,
            Some(false) => Outcome::Updated,
            None => match current_version.get(change.user_id.as_str()) {
                Some(Some(v)) if *v > change.version.at() => Outcome::Stale,
                _ => Outcome::Unchanged,
            },
        })
        .collect();

    Ok(slot_of
        .iter()
        .enumerate()
        .map(|(index, &slot)| {
            if source[slot] == index {
                winner_outcomes[slot]
            } else {
                Outcome::Stale
            }
        })
        .collect())
}
