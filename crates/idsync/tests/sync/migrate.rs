//! Schema creation: idempotent, concurrent-safe, refuses incompatible tables.

use idsync_emulator::ProviderKind;

use crate::common::*;

#[tokio::test]
async fn migrate_is_idempotent_and_safe_to_run_concurrently() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let mut custom = Conn::new("other", &emu);
    custom.schema = "neon_auth";
    custom.table = "clerk_users";
    let cfg = config(&db.url, &[Conn::new("main", &emu), custom]);
    let path = cfg.path();
    let runs = futures::future::join_all((0..4).map(|_| cli(&path, &["migrate"]))).await;
    for out in &runs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(cli(&cfg.path(), &["migrate"]).await.status.success());
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns
          WHERE table_schema = 'neon_auth' AND table_name = 'clerk_users' ORDER BY ordinal_position",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = [
        ("raw_json", "jsonb", "NO"),
        ("id", "text", "NO"),
        ("name", "text", "YES"),
        ("email", "text", "YES"),
        ("created_at", "timestamp with time zone", "YES"),
        ("updated_at", "timestamp with time zone", "YES"),
        ("deleted_at", "timestamp with time zone", "YES"),
    ];
    let got: Vec<(&str, &str, &str)> = columns
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(got, expected);
    let indexed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'neon_identity' AND tablename = 'users_sync' AND indexdef LIKE '%(deleted_at)%')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(indexed, "index on deleted_at");
    // The test server is built with LZ4, so profiles are compressed with it.
    let compression: String = sqlx::query_scalar(
        "SELECT attcompression::text FROM pg_attribute
          WHERE attrelid = 'neon_auth.clerk_users'::regclass AND attname = 'raw_json'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(compression, "l", "raw_json compressed with lz4");
    assert_eq!(
        count(
            &db.pool,
            "SELECT max(version)::bigint FROM idsync.migrations"
        )
        .await,
        i64::from(idsync_store::migrate::expected_version()),
        "every bookkeeping migration applied once"
    );
}

/// Runs `setup`, then `idsync migrate`, which must fail; returns its stderr.
async fn refused_migrate(db: &TestDb, setup: &str) -> String {
    let emu = emulator(ProviderKind::StackAuth, 0).await;
    sqlx::raw_sql(setup).execute(&db.pool).await.unwrap();
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let out = cli(&cfg.path(), &["migrate"]).await;
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn an_incompatible_existing_table_is_refused_and_left_alone() {
    let db = postgres().await;
    // Neon's generated-column layout: idsync cannot write `id` itself.
    let msg = refused_migrate(
        &db,
        "CREATE SCHEMA neon_identity;
         CREATE TABLE neon_identity.users_sync (
             raw_json jsonb NOT NULL,
             id text GENERATED ALWAYS AS (raw_json ->> 'id') STORED NOT NULL PRIMARY KEY,
             name text, email text, created_at timestamptz, updated_at timestamptz, deleted_at text);",
    )
    .await;
    assert!(msg.contains("neon_identity.users_sync"), "{msg}");
    assert!(msg.contains("column id is a generated column"), "{msg}");
    assert!(
        msg.contains("column deleted_at is text, expected timestamp with time zone"),
        "{msg}"
    );
    let kind: String = sqlx::query_scalar(
        "SELECT data_type::text FROM information_schema.columns WHERE table_name = 'users_sync' AND column_name = 'deleted_at'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(kind, "text", "table untouched");
}

/// `ON CONFLICT (id)` cannot use a partial unique index: such a table would
/// pass migrate and then fail every write.
#[tokio::test]
async fn a_table_keyed_only_by_a_partial_index_is_refused() {
    let db = postgres().await;
    let msg = refused_migrate(
        &db,
        "CREATE SCHEMA neon_identity;
         CREATE TABLE neon_identity.users_sync (
             raw_json jsonb NOT NULL, id text NOT NULL, name text, email text,
             created_at timestamptz, updated_at timestamptz, deleted_at timestamptz);
         CREATE UNIQUE INDEX ON neon_identity.users_sync (id) WHERE deleted_at IS NULL;",
    )
    .await;
    assert!(msg.contains("column id is not the primary key"), "{msg}");
}
