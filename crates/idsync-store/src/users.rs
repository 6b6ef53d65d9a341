//! Reading a connection's users for the admin API and console.

use chrono::{DateTime, Utc};
use idsync_core::storable_text;
use sqlx::PgPool;

use crate::{StoreError, UsersTable};

/// Which users to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserState {
    #[default]
    All,
    Active,
    Deleted,
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// An exact id, or a prefix of the email or the name (case-insensitive).
    pub search: Option<String>,
    pub state: UserState,
    /// Keyset cursor: list ids after this one.
    pub after: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserSummary {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserDetail {
    #[sqlx(flatten)]
    pub user: UserSummary,
    pub raw_json: serde_json::Value,
}

/// Escapes `%`, `_` and `\` for a `LIKE` prefix pattern.
fn like_prefix(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 1);
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page of users in id order (stable under concurrent writes: the next
/// page starts after the last id seen).
pub async fn list(
    pool: &PgPool,
    table: &UsersTable,
    query: &UserQuery,
) -> Result<Vec<UserSummary>, StoreError> {
    let state = match query.state {
        UserState::All => "TRUE",
        UserState::Active => "deleted_at IS NULL",
        UserState::Deleted => "deleted_at IS NOT NULL",
    };
    let sql = format!(
        "SELECT id, name, email, created_at, updated_at, deleted_at FROM {t}
          WHERE {state}
            AND ($1::text IS NULL OR id > $1)
            AND ($2::text IS NULL OR id = $3 OR email ILIKE $2 OR name ILIKE $2)
          ORDER BY id LIMIT $4",
        t = table.qualified()
    );
    // Typed by an admin: U+0000 would make Postgres refuse the query, and
    // no stored value holds it anyway.
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(storable_text);
    Ok(sqlx::query_as(&sql)
        .bind(query.after.as_deref().map(storable_text))
        .bind(search.as_deref().map(like_prefix))
        .bind(search)
        .bind(query.limit.clamp(1, 500))
        .fetch_all(pool)
        .await?)
}

pub async fn get(
    pool: &PgPool,
    table: &UsersTable,
    id: &str,
) -> Result<Option<UserDetail>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, name, email, created_at, updated_at, deleted_at, raw_json FROM {} WHERE id = $1",
        table.qualified()
    ))
    .bind(storable_text(id))
    .fetch_optional(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
