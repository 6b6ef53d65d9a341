//! Schema setup. Safe to run from several replicas at once: everything runs
//! in one transaction holding a transaction-scoped advisory lock, and every
//! statement is idempotent.

use sqlx::{PgPool, Postgres, Transaction};

use crate::resources::ResourceTables;
use crate::{StoreError, UsersTable};

/// Advisory lock key serialising migrations across replicas ("idsy").
const MIGRATION_LOCK: i64 = 0x6964_7379;

/// The bookkeeping schema's migrations, applied in order, each once.
const MIGRATIONS: &[&str] = &[
    // 1, initial: the delivery log, sync runs and recent errors.
    r#"
CREATE TABLE idsync.deliveries (
    connection  text NOT NULL,
    message_id  text NOT NULL,
    event_type  text NOT NULL,
    user_id     text,
    received_at timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL,
    PRIMARY KEY (connection, message_id)
);
CREATE INDEX deliveries_recent_idx ON idsync.deliveries (connection, received_at DESC);

CREATE TABLE idsync.sync_runs (
    id          bigserial PRIMARY KEY,
    connection  text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('backfill', 'reconcile')),
    status      text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    cursor      jsonb,
    pages       bigint NOT NULL DEFAULT 0,
    seen        bigint NOT NULL DEFAULT 0,
    added       bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    deleted     bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    error       text
);
CREATE INDEX sync_runs_recent_idx ON idsync.sync_runs (connection, kind, id DESC);

CREATE TABLE idsync.errors (
    id          bigserial PRIMARY KEY,
    connection  text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL,
    message     text NOT NULL
);
CREATE INDEX errors_recent_idx ON idsync.errors (connection, id DESC);
"#,
    // 2, refresh_queue: users named by notifications, to be fetched.
    r#"
CREATE TABLE idsync.refresh_queue (
    connection   text NOT NULL,
    user_id      text NOT NULL,
    seq          bigint NOT NULL DEFAULT 1,
    queued_at    timestamptz NOT NULL DEFAULT now(),
    due_at       timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    PRIMARY KEY (connection, user_id)
);
CREATE INDEX refresh_queue_due_idx ON idsync.refresh_queue (connection, due_at);

CREATE TABLE idsync.refresh_totals (
    connection text PRIMARY KEY,
    done       bigint NOT NULL DEFAULT 0
);
"#,
    // 3, refused_delivery_ids: the id of a delivery refused under rule 7.
    r#"
ALTER TABLE idsync.errors ADD COLUMN message_id text;
"#,
    // 4, incremental_reconcile: a run kind listing only the changed users.
    r#"
ALTER TABLE idsync.sync_runs DROP CONSTRAINT sync_runs_kind_check;
ALTER TABLE idsync.sync_runs ADD CONSTRAINT sync_runs_kind_check
    CHECK (kind IN ('backfill', 'reconcile', 'incremental_reconcile'));
"#,
    // 5, served_resources: users deleted through a served API (SCIM), and
    // the recent requests to it.
    r#"
CREATE TABLE idsync.removed_users (
    connection text NOT NULL,
    id         text NOT NULL,
    removed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, id)
);

CREATE TABLE idsync.served_requests (
    id         bigserial PRIMARY KEY,
    connection text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    method     text NOT NULL,
    path       text NOT NULL,
    status     integer NOT NULL,
    outcome    text NOT NULL
);
CREATE INDEX served_requests_recent_idx ON idsync.served_requests (connection, id DESC);
"#,
    // 6, sync_run_pages: the pages of an offset-paged backfill, which
    // commit out of order. `page` counts from the run's `page_base` cursor;
    // `cursor` stays where the contiguous prefix of committed pages ends,
    // `cursor_page` pages after `page_base` (while pages are being written,
    // at or behind it).
    r#"
ALTER TABLE idsync.sync_runs ADD COLUMN page_base jsonb, ADD COLUMN cursor_page bigint;

CREATE TABLE idsync.sync_run_pages (
    run_id bigint NOT NULL REFERENCES idsync.sync_runs (id) ON DELETE CASCADE,
    page   bigint NOT NULL,
    last   boolean NOT NULL,
    PRIMARY KEY (run_id, page)
);
"#,
];

/// Creates or upgrades the bookkeeping schema and every users table.
pub async fn migrate(pool: &PgPool, tables: &[UsersTable]) -> Result<(), StoreError> {
    migrate_with_resources(pool, tables, &[]).await
}

/// [`migrate`], plus the groups and memberships tables of connections
/// served through an API (SCIM) and their lookup indexes.
pub async fn migrate_with_resources(
    pool: &PgPool,
    tables: &[UsersTable],
    resources: &[ResourceTables],
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    migrate_bookkeeping(&mut tx).await?;
    for table in tables {
        ensure_users_table(&mut tx, table).await?;
    }
    for r in resources {
        ensure_resource_tables(&mut tx, r).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The groups and memberships tables (`design.md`, "Groups and
/// memberships"), created if absent, and indexes for the lookups a SCIM
/// client makes (by `userName` and `externalId`) and the order it pages in.
async fn ensure_resource_tables(
    tx: &mut Transaction<'_, Postgres>,
    r: &ResourceTables,
) -> Result<(), StoreError> {
    let users = r.users.qualified();
    let groups = r.groups_table();
    let members = r.members_table();
    let index = |table: &UsersTable, what: &str| format!("\"{}_{what}_idx\"", table.table);
    sqlx::raw_sql(&format!(
        "CREATE TABLE IF NOT EXISTS {g} (
             raw_json   jsonb NOT NULL,
             id         text PRIMARY KEY,
             name       text,
             created_at timestamptz,
             updated_at timestamptz,
             deleted_at timestamptz
         );
         CREATE INDEX IF NOT EXISTS {g_deleted} ON {g} (deleted_at);
         CREATE TABLE IF NOT EXISTS {m} (
             group_id   text NOT NULL,
             user_id    text NOT NULL,
             raw_json   jsonb,
             created_at timestamptz,
             updated_at timestamptz,
             deleted_at timestamptz,
             PRIMARY KEY (group_id, user_id)
         );
         CREATE INDEX IF NOT EXISTS {m_user} ON {m} (user_id);
         CREATE INDEX IF NOT EXISTS {u_name} ON {users} ((lower(raw_json->>'userName')));
         CREATE INDEX IF NOT EXISTS {u_external} ON {users} ((raw_json->>'externalId'));
         CREATE INDEX IF NOT EXISTS {u_order} ON {users} (created_at, id);
         CREATE INDEX IF NOT EXISTS {g_order} ON {g} (created_at, id);",
        g = groups.qualified(),
        m = members.qualified(),
        g_deleted = index(&groups, "deleted_at"),
        m_user = index(&members, "user_id"),
        u_name = index(&r.users, "scim_username"),
        u_external = index(&r.users, "scim_external_id"),
        u_order = index(&r.users, "scim_order"),
        g_order = index(&groups, "order"),
    ))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn migrate_bookkeeping(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS idsync;
         CREATE TABLE IF NOT EXISTS idsync.migrations (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );",
    )
    .execute(&mut **tx)
    .await?;
    let applied: i32 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM idsync.migrations")
            .fetch_one(&mut **tx)
            .await?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        if version <= applied {
            continue;
        }
        sqlx::raw_sql(sql).execute(&mut **tx).await?;
        sqlx::query("INSERT INTO idsync.migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut **tx)
            .await?;
        tracing::info!(version, "applied bookkeeping migration");
    }
    Ok(())
}

/// The version the code expects; `readyz` compares it with the database.
pub fn expected_version() -> i32 {
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// Whether the bookkeeping schema is at the expected version and every
/// users table exists.
pub async fn is_migrated(pool: &PgPool, tables: &[UsersTable]) -> Result<bool, StoreError> {
    let version: Option<i32> = sqlx::query_scalar(
        "SELECT CASE WHEN to_regclass('idsync.migrations') IS NULL THEN NULL
                ELSE (SELECT max(version) FROM idsync.migrations) END",
    )
    .fetch_one(pool)
    .await?;
    if version != Some(expected_version()) {
        return Ok(false);
    }
    for table in tables {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table.qualified())
            .fetch_one(pool)
            .await?;
        if !exists {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether the server can compress with LZ4 (PostgreSQL 14 and later,
/// when built with it). A profile is a few kB of JSON, over the size at
/// which Postgres compresses a value; LZ4 does it in a fraction of the CPU
/// time of the default `pglz` (about a tenth of the server's CPU per
/// webhook was `pglz_compress`), and reads it back faster.
async fn supports_lz4(tx: &mut Transaction<'_, Postgres>) -> Result<bool, StoreError> {
    let lz4: Option<bool> = sqlx::query_scalar(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'",
    )
    .fetch_optional(&mut **tx)
    .await?
    .flatten();
    Ok(lz4.unwrap_or(false))
}

/// Columns the users table must have: (name, information_schema data_type).
const REQUIRED_COLUMNS: &[(&str, &str)] = &[
    ("raw_json", "jsonb"),
    ("id", "text"),
    ("name", "text"),
    ("email", "text"),
    ("created_at", "timestamp with time zone"),
    ("updated_at", "timestamp with time zone"),
    ("deleted_at", "timestamp with time zone"),
];

async fn ensure_users_table(
    tx: &mut Transaction<'_, Postgres>,
    table: &UsersTable,
) -> Result<(), StoreError> {
    let existing: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_generated::text, is_nullable::text, column_default::text
           FROM information_schema.columns
          WHERE table_schema = $1 AND table_name = $2",
    )
    .bind(table.schema.as_str())
    .bind(table.table.as_str())
    .fetch_all(&mut **tx)
    .await?;

    if existing.is_empty() {
        let qualified = table.qualified();
        let index = format!("\"{}_deleted_at_idx\"", table.table);
        let compression = if supports_lz4(tx).await? {
            "COMPRESSION lz4"
        } else {
            ""
        };
        sqlx::raw_sql(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE {qualified} (
                 raw_json   jsonb {compression} NOT NULL,
                 id         text PRIMARY KEY,
                 name       text,
                 email      text,
                 created_at timestamptz,
                 updated_at timestamptz,
                 deleted_at timestamptz
             );
             CREATE INDEX IF NOT EXISTS {index} ON {qualified} (deleted_at);",
            schema = table.schema.quoted(),
        ))
        .execute(&mut **tx)
        .await?;
        tracing::info!(%table, "created users table");
        return Ok(());
    }

    let mut problems = Vec::new();
    for (name, data_type) in REQUIRED_COLUMNS {
        match existing.iter().find(|c| c.0 == *name) {
            None => problems.push(format!("column {name} is missing")),
            Some((_, actual, generated, _, _)) => {
                if actual != data_type {
                    problems.push(format!("column {name} is {actual}, expected {data_type}"));
                }
                if generated != "NEVER" {
                    problems.push(format!(
                        "column {name} is a generated column; idsync writes it itself"
                    ));
                }
            }
        }
    }
    for (name, _, _, nullable, default) in &existing {
        let known = REQUIRED_COLUMNS.iter().any(|(n, _)| n == name);
        if !known && nullable == "NO" && default.is_none() {
            problems.push(format!(
                "extra column {name} is NOT NULL without a default, so idsync cannot insert rows"
            ));
        }
    }
    let id_is_key: bool = sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
              WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnatts = 1
                AND i.indpred IS NULL AND i.indimmediate AND i.indisvalid
                AND a.attname = 'id')",
    )
    .bind(table.qualified())
    .fetch_one(&mut **tx)
    .await?;
    if !id_is_key {
        // ON CONFLICT (id) needs a valid, immediate, non-partial unique index.
        problems.push("column id is not the primary key (or a unique key)".to_owned());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::IncompatibleTable {
            table: table.to_string(),
            problems: problems.join("; "),
        })
    }
}
