//! Users and groups written through an API idsync serves (SCIM): the
//! store operations behind `idsync_providers::served::ResourceStore`.
//!
//! Users go through [`apply_changes`](crate::apply::apply_changes), the one
//! writer of the users table: an active user is an upsert, a deprovisioned
//! one (`active: false`) a deactivation, a deleted one a delete, which is
//! also recorded in `idsync.removed_users` so the API answers 404 for it
//! while the row keeps its last profile. Groups and memberships follow the
//! same rules in their own tables: versioned, soft-deleted, unchanged
//! content unwritten. Every write runs in one transaction with its row
//! locked, versioned by idsync's clock and strictly increasing per row.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use idsync_core::resource::{Condition, Listed, Member, Query, Resource, ResourceKind, Stored};
use idsync_core::{Change, Profile, SqlIdent, UserId, Version, storable_json, storable_text};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::apply::apply_changes;
use crate::{StoreError, UsersTable};

/// A served connection's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTables {
    pub connection: String,
    pub users: UsersTable,
    pub groups: SqlIdent,
    pub members: SqlIdent,
}

impl ResourceTables {
    pub fn groups_table(&self) -> UsersTable {
        UsersTable::new(self.users.schema.clone(), self.groups.clone())
    }

    pub fn members_table(&self) -> UsersTable {
        UsersTable::new(self.users.schema.clone(), self.members.clone())
    }

    fn users_q(&self) -> String {
        self.users.qualified()
    }

    fn groups_q(&self) -> String {
        self.groups_table().qualified()
    }

    fn members_q(&self) -> String {
        self.members_table().qualified()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Another live resource has the id or the unique name.
    #[error("{0}")]
    Conflict(String),
    /// A value the tables cannot hold under the served API's rules (an
    /// id that is not a user id, an attribute name that is not plain).
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ResourceError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The version of a write: now, or just after the row's, whichever is
/// later, so each row's versions strictly increase even if the clock
/// steps back. Microseconds, as Postgres keeps them.
fn next_version(current: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = Utc::now().trunc_subsecs(6);
    match current {
        Some(c) if c >= now => c + Duration::microseconds(1),
        _ => now,
    }
}

/// Serialises writes that could clash on a key (an id, a user name) across
/// transactions and replicas, until the transaction ends.
async fn lock_key(
    conn: &mut PgConnection,
    tables: &ResourceTables,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))")
        .bind(format!("idsync-resources:{}", tables.connection))
        .bind(storable_text(key))
        .execute(conn)
        .await?;
    Ok(())
}

const USER_COLUMNS: &str =
    "t.raw_json, t.id, t.name, t.email, t.created_at, t.updated_at, t.deleted_at";
const GROUP_COLUMNS: &str = "t.raw_json, t.id, t.name, t.created_at, t.updated_at, t.deleted_at";

fn removed(param: usize) -> String {
    format!(
        "EXISTS (SELECT 1 FROM idsync.removed_users r WHERE r.connection = ${param} AND r.id = t.id)"
    )
}

fn stored_from(row: &PgRow, kind: ResourceKind) -> Result<Stored, StoreError> {
    let json: Value = row.try_get("raw_json")?;
    let updated: Option<DateTime<Utc>> = row.try_get("updated_at")?;
    let created: Option<DateTime<Utc>> = row.try_get("created_at")?;
    let deleted: Option<DateTime<Utc>> = row.try_get("deleted_at")?;
    let modified = updated.unwrap_or(DateTime::UNIX_EPOCH);
    let (email, unique_name) = match kind {
        ResourceKind::User => (
            row.try_get("email")?,
            json.get("userName")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        ResourceKind::Group => (None, None),
    };
    Ok(Stored {
        resource: Resource {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            email,
            active: deleted.is_none(),
            unique_name,
            members: Vec::new(),
            json,
        },
        created: created.unwrap_or(modified),
        modified,
    })
}

/// Whether `new` would store exactly what `current` holds.
fn same_content(current: &Resource, new: &Resource) -> bool {
    current.json == new.json
        && current.name == new.name
        && current.email == new.email
        && current.active == new.active
        && current.members == new.members
}

pub async fn insert(
    pool: &PgPool,
    tables: &ResourceTables,
    kind: ResourceKind,
    resource: Resource,
) -> Result<Stored, ResourceError> {
    let mut tx = pool.begin().await?;
    lock_key(&mut tx, tables, &format!("{kind:?}:{}", resource.id)).await?;
    let stored = match kind {
        ResourceKind::User => {
            if let Some(name) = &resource.unique_name {
                lock_key(
                    &mut tx,
                    tables,
                    &format!("userName:{}", name.to_lowercase()),
                )
                .await?;
            }
            let current = sqlx::query(&format!(
                "SELECT t.updated_at, {} AS removed FROM {} t WHERE t.id = $2 FOR UPDATE",
                removed(1),
                tables.users_q()
            ))
            .bind(&tables.connection)
            .bind(&resource.id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut version_of_row = None;
            if let Some(row) = current {
                if !row.try_get::<bool, _>("removed")? {
                    return Err(ResourceError::Conflict(format!(
                        "a User with id {:?} already exists",
                        resource.id
                    )));
                }
                version_of_row = row.try_get("updated_at")?;
            }
            check_user_name(&mut tx, tables, &resource).await?;
            let version = next_version(version_of_row);
            write_user(&mut tx, tables, &resource, version, version).await?;
            sqlx::query("DELETE FROM idsync.removed_users WHERE connection = $1 AND id = $2")
                .bind(&tables.connection)
                .bind(&resource.id)
                .execute(&mut *tx)
                .await?;
            Stored {
                resource,
                created: version,
                modified: version,
            }
        }
        ResourceKind::Group => {
            let current = sqlx::query(&format!(
                "SELECT t.updated_at, t.deleted_at FROM {} t WHERE t.id = $1 FOR UPDATE",
                tables.groups_q()
            ))
            .bind(&resource.id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut version_of_row = None;
            if let Some(row) = current {
                if row
                    .try_get::<Option<DateTime<Utc>>, _>("deleted_at")?
                    .is_none()
                {
                    return Err(ResourceError::Conflict(format!(
                        "a Group with id {:?} already exists",
                        resource.id
                    )));
                }
                version_of_row = row.try_get("updated_at")?;
            }
            let version = next_version(version_of_row);
            write_group(&mut tx, tables, &resource, version, Some(version)).await?;
            write_members(&mut tx, tables, &resource.id, &resource.members, version).await?;
            Stored {
                resource,
                created: version,
                modified: version,
            }
        }
    };
    tx.commit().await?;
    Ok(stored)
}

/// Refuses a `userName` that another live user has, without regard to case.
async fn check_user_name(
    conn: &mut PgConnection,
    tables: &ResourceTables,
    resource: &Resource,
) -> Result<(), ResourceError> {
    let Some(name) = &resource.unique_name else {
        return Ok(());
    };
    let taken: Option<String> = sqlx::query_scalar(&format!(
        "SELECT t.id FROM {} t
          WHERE lower(t.raw_json->>'userName') = lower($2) AND t.id <> $3 AND NOT {}
          LIMIT 1",
        tables.users_q(),
        removed(1)
    ))
    .bind(&tables.connection)
    .bind(storable_text(name))
    .bind(&resource.id)
    .fetch_optional(&mut *conn)
    .await?;
    match taken {
        Some(_) => Err(ResourceError::Conflict(format!(
            "userName {name:?} is already taken"
        ))),
        None => Ok(()),
    }
}

/// One user change through the applier.
async fn write_user(
    conn: &mut PgConnection,
    tables: &ResourceTables,
    resource: &Resource,
    created: DateTime<Utc>,
    version: DateTime<Utc>,
) -> Result<(), ResourceError> {
    let id = UserId::parse(&resource.id).ok_or(ResourceError::Invalid("user id"))?;
    let profile = Profile {
        id,
        name: resource.name.clone(),
        email: resource.email.clone(),
        created_at: Some(created),
        raw_json: resource.json.clone(),
    };
    let version = Version::new(version);
    let change = if resource.active {
        Change::upsert(profile, version)
    } else {
        Change::deactivate(profile, version)
    };
    apply_changes(conn, &tables.users, &[change]).await?;
    Ok(())
}

/// Writes a group row at `version`; `created`: a (re)created group.
async fn write_group(
    conn: &mut PgConnection,
    tables: &ResourceTables,
    resource: &Resource,
    version: DateTime<Utc>,
    created: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO {g} AS t (raw_json, id, name, created_at, updated_at, deleted_at)
         VALUES ($1, $2, $3, $4, $5, NULL)
         ON CONFLICT (id) DO UPDATE SET
             raw_json = EXCLUDED.raw_json, name = EXCLUDED.name,
             created_at = coalesce($4, t.created_at),
             updated_at = EXCLUDED.updated_at, deleted_at = NULL
         WHERE t.updated_at IS NULL OR t.updated_at < EXCLUDED.updated_at",
        g = tables.groups_q()
    ))
    .bind(storable_json(&resource.json).into_owned())
    .bind(&resource.id)
    .bind(
        resource
            .name
            .as_deref()
            .map(|n| storable_text(n).into_owned()),
    )
    .bind(created)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes the group's live memberships exactly `members`: new ones
/// inserted (or revived), changed ones updated, the others soft-deleted,
/// unchanged ones left alone. New members are ordered after the existing
/// ones, in the order given.
async fn write_members(
    conn: &mut PgConnection,
    tables: &ResourceTables,
    group: &str,
    members: &[Member],
    version: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    sqlx::query(&format!(
        "UPDATE {m} SET deleted_at = $3, updated_at = $3
          WHERE group_id = $1 AND deleted_at IS NULL AND NOT (user_id = ANY($2))",
        m = tables.members_q()
    ))
    .bind(group)
    .bind(&ids)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    if members.is_empty() {
        return Ok(());
    }
    let raws: Vec<Value> = members
        .iter()
        .map(|m| storable_json(&m.json).into_owned())
        .collect();
    let order: Vec<DateTime<Utc>> = (0..members.len())
        .map(|i| version + Duration::microseconds(i64::try_from(i).unwrap_or(i64::MAX)))
        .collect();
    sqlx::query(&format!(
        "INSERT INTO {m} AS t (group_id, user_id, raw_json, created_at, updated_at, deleted_at)
         SELECT $1, x.u, x.r, x.c, $5, NULL
           FROM UNNEST($2::text[], $3::jsonb[], $4::timestamptz[]) AS x(u, r, c)
         ON CONFLICT (group_id, user_id) DO UPDATE SET
             raw_json = EXCLUDED.raw_json,
             created_at = CASE WHEN t.deleted_at IS NULL THEN t.created_at ELSE EXCLUDED.created_at END,
             updated_at = EXCLUDED.updated_at,
             deleted_at = NULL
         WHERE (t.updated_at IS NULL OR t.updated_at < EXCLUDED.updated_at)
           AND (t.deleted_at IS NOT NULL OR t.raw_json IS DISTINCT FROM EXCLUDED.raw_json)",
        m = tables.members_q()
    ))
    .bind(group)
    .bind(&ids)
    .bind(&raws)
    .bind(&order)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(
    pool: &PgPool,
    tables: &ResourceTables,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<Stored>, ResourceError> {
    let query = Query {
        conditions: vec![Condition::Id(id.to_owned())],
        offset: 0,
        limit: 1,
    };
    let mut conn = pool.acquire().await?;
    Ok(select(&mut conn, tables, kind, &query, false)
        .await?
        .into_iter()
        .next())
}

pub async fn list(
    pool: &PgPool,
    tables: &ResourceTables,
    kind: ResourceKind,
    query: &Query,
) -> Result<Listed, ResourceError> {
    let mut conn = pool.acquire().await?;
    let (filter, values) = conditions(kind, &query.conditions, 1)?;
    let total: i64 = {
        let sql = format!(
            "SELECT count(*) FROM {} t WHERE {filter}",
            table_of(tables, kind)
        );
        let mut q = sqlx::query_scalar(&sql).bind(&tables.connection);
        for v in &values {
            q = q.bind(v);
        }
        q.fetch_one(&mut *conn).await?
    };
    let items = if query.limit == 0 {
        Vec::new()
    } else {
        select(&mut conn, tables, kind, query, false).await?
    };
    Ok(Listed {
        total: u64::try_from(total).unwrap_or(0),
        items,
    })
}

fn table_of(tables: &ResourceTables, kind: ResourceKind) -> String {
    match kind {
        ResourceKind::User => tables.users_q(),
        ResourceKind::Group => tables.groups_q(),
    }
}

/// The `WHERE` clause of live resources meeting `conditions`, and the
/// values to bind after the connection (`$1`).
fn conditions(
    kind: ResourceKind,
    conditions: &[Condition],
    first: usize,
) -> Result<(String, Vec<String>), ResourceError> {
    let mut clauses = vec![match kind {
        ResourceKind::User => format!("NOT {}", removed(first)),
        ResourceKind::Group => "t.deleted_at IS NULL".to_owned(),
    }];
    let mut values = Vec::new();
    for c in conditions {
        let n = first + values.len() + 1;
        let (clause, value) = match c {
            Condition::Id(v) => (format!("t.id = ${n}"), v),
            Condition::Exact(key, v) => (format!("t.raw_json->>{} = ${n}", key_literal(key)?), v),
            Condition::CaseInsensitive(key, v) => (
                format!("lower(t.raw_json->>{}) = lower(${n})", key_literal(key)?),
                v,
            ),
            Condition::AnyValue(key, v) => {
                let k = key_literal(key)?;
                (
                    format!(
                        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.raw_json->{k}) = 'array'
                                 THEN t.raw_json->{k} ELSE '[]'::jsonb END) e
                          WHERE lower(e->>'value') = lower(${n}))"
                    ),
                    v,
                )
            }
        };
        clauses.push(clause);
        // Stored text has U+0000 cleaned (rule 7); compare in the same form.
        values.push(storable_text(value).into_owned());
    }
    Ok((clauses.join(" AND "), values))
}

/// An attribute name as an SQL literal: only letters, digits and `_`, so
/// nothing needs escaping (and an expression index can match it).
fn key_literal(key: &str) -> Result<String, ResourceError> {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(format!("'{key}'"))
    } else {
        Err(ResourceError::Invalid("attribute name"))
    }
}

/// Live resources meeting the query, in creation order, with their
/// members; `lock` locks the rows (one resource by id, for a write).
async fn select(
    conn: &mut PgConnection,
    tables: &ResourceTables,
    kind: ResourceKind,
    query: &Query,
    lock: bool,
) -> Result<Vec<Stored>, ResourceError> {
    let (filter, values) = conditions(kind, &query.conditions, 1)?;
    let columns = match kind {
        ResourceKind::User => USER_COLUMNS,
        ResourceKind::Group => GROUP_COLUMNS,
    };
    let sql = format!(
        "SELECT {columns} FROM {} t WHERE {filter}
          ORDER BY t.created_at, t.id OFFSET {} LIMIT {}{}",
        table_of(tables, kind),
        query.offset,
        query.limit,
        if lock { " FOR UPDATE" } else { "" }
    );
    let mut q = sqlx::query(&sql).bind(&tables.connection);
    for v in &values {
        q = q.bind(v);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let mut items = rows
        .iter()
        .map(|r| stored_from(r, kind))
        .collect::<Result<Vec<_>, _>>()?;
    if kind == ResourceKind::Group && !items.is_empty() {
        let ids: Vec<&str> = items.iter().map(|s| s.resource.id.as_str()).collect();
        let rows = sqlx::query(&format!(
            "SELECT group_id, user_id, raw_json FROM {} WHERE group_id = ANY($1) AND deleted_at IS NULL
              ORDER BY created_at, user_id",
            tables.members_q()
        ))
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            let group: String = row.try_get("group_id")?;
            if let Some(item) = items.iter_mut().find(|s| s.resource.id == group) {
                item.resource.members.push(Member {
                    id: row.try_get("user_id")?,
                    json: row
                        .try_get::<Option<Value>, _>("raw_json")?
                        .unwrap_or(Value::Null),
                });
            }
        }
    }
    Ok(items)
}

/// Read-modify-write of one resource, its row locked for the transaction.
pub async fn modify(
    pool: &PgPool,
    tables: &ResourceTables,
    kind: ResourceKind,
    id: &str,
    edit: &mut (dyn FnMut(&Stored) -> Option<Resource> + Send + '_),
) -> Result<Option<Stored>, ResourceError> {
    let mut tx = pool.begin().await?;
    let query = Query {
        conditions: vec![Condition::Id(id.to_owned())],
        offset: 0,
        limit: 1,
    };
    let Some(current) = select(&mut tx, tables, kind, &query, true)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(new) = edit(&current) else {
        return Ok(Some(current));
    };
    if same_content(&current.resource, &new) {
        return Ok(Some(current));
    }
    let version = next_version(Some(current.modified));
    match kind {
        ResourceKind::User => {
            if new.unique_name != current.resource.unique_name
                && let Some(name) = &new.unique_name
            {
                lock_key(
                    &mut tx,
                    tables,
                    &format!("userName:{}", name.to_lowercase()),
                )
                .await?;
                check_user_name(&mut tx, tables, &new).await?;
            }
            write_user(&mut tx, tables, &new, current.created, version).await?;
        }
        ResourceKind::Group => {
            write_group(&mut tx, tables, &new, version, None).await?;
            write_members(&mut tx, tables, &new.id, &new.members, version).await?;
        }
    }
    tx.commit().await?;
    Ok(Some(Stored {
        resource: new,
        created: current.created,
        modified: version,
    }))
}

/// Soft-deletes a resource; `false` if there is none. A deleted user's
/// memberships end with it.
pub async fn delete(
    pool: &PgPool,
    tables: &ResourceTables,
    kind: ResourceKind,
    id: &str,
) -> Result<bool, ResourceError> {
    let mut tx = pool.begin().await?;
    let query = Query {
        conditions: vec![Condition::Id(id.to_owned())],
        offset: 0,
        limit: 1,
    };
    let Some(current) = select(&mut tx, tables, kind, &query, true)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(false);
    };
    let version = next_version(Some(current.modified));
    match kind {
        ResourceKind::User => {
            let Some(user) = UserId::parse(id) else {
                return Ok(false);
            };
            let change = Change::delete(user, Version::new(version), current.resource.json.clone());
            apply_changes(&mut tx, &tables.users, &[change]).await?;
            sqlx::query(
                "INSERT INTO idsync.removed_users (connection, id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&tables.connection)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let groups: Vec<String> = sqlx::query_scalar(&format!(
                "UPDATE {} t SET deleted_at = $2, updated_at = greatest(t.updated_at + interval '1 microsecond', $2)
                  WHERE user_id = $1 AND deleted_at IS NULL RETURNING group_id",
                tables.members_q()
            ))
            .bind(id)
            .bind(version)
            .fetch_all(&mut *tx)
            .await?;
            if !groups.is_empty() {
                sqlx::query(&format!(
                    "UPDATE {} t SET updated_at = greatest(t.updated_at + interval '1 microsecond', $2)
                      WHERE id = ANY($1)",
                    tables.groups_q()
                ))
                .bind(&groups)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
        }
        ResourceKind::Group => {
            sqlx::query(&format!(
                "UPDATE {} SET deleted_at = $2, updated_at = $2 WHERE id = $1",
                tables.groups_q()
            ))
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "UPDATE {} SET deleted_at = $2, updated_at = $2 WHERE group_id = $1 AND deleted_at IS NULL",
                tables.members_q()
            ))
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Live groups and live memberships of a connection, for `status`.
pub async fn group_counts(
    pool: &PgPool,
    tables: &ResourceTables,
) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(&format!(
        "SELECT (SELECT count(*) FROM {} WHERE deleted_at IS NULL) AS groups,
                (SELECT count(*) FROM {} WHERE deleted_at IS NULL) AS members",
        tables.groups_q(),
        tables.members_q()
    ))
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("groups")?, row.try_get("members")?))
}
