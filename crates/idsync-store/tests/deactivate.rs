//! A deactivation (SCIM's `active: false`) through the versioned upsert:
//! the row takes the new profile and is marked deleted; the same
//! deactivation again writes nothing; the first `deleted_at` is kept; an
//! older change is stale; a newer upsert reactivates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use idsync_core::{Change, Profile, SqlIdent, UserId, Version};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::apply::{Outcome, apply_changes};
use idsync_store::{PgPool, UsersTable};
use serde_json::{Value, json};

fn profile(active: bool, nick: &str) -> Profile {
    Profile {
        id: UserId::parse("u1").unwrap(),
        name: Some(nick.to_owned()),
        email: None,
        created_at: None,
        raw_json: json!({"id": "u1", "active": active, "nickName": nick}),
    }
}

fn v(s: i64) -> Version {
    Version::from_unix_seconds(1_700_000_000 + s).unwrap()
}

type RowState = (Value, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

async fn row(pool: &PgPool) -> RowState {
    sqlx::query_as(
        "SELECT raw_json, updated_at, deleted_at FROM neon_identity.users_sync WHERE id = 'u1'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn deactivation_keeps_the_new_profile_and_marks_the_row_deleted() {
    let server = PgServer::start(PgOptions::temporary()).await.unwrap();
    let pool = PgPool::connect(&server.url()).await.unwrap();
    let table = UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    );
    idsync_store::migrate::migrate(&pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    let apply = async |change: Change| {
        let mut conn = pool.acquire().await.unwrap();
        apply_changes(&mut conn, &table, &[change]).await.unwrap()[0]
    };

    assert_eq!(
        apply(Change::upsert(profile(true, "a"), v(1))).await,
        Outcome::Inserted
    );
    assert_eq!(
        apply(Change::deactivate(profile(false, "a"), v(2))).await,
        Outcome::Deleted
    );
    let (raw, updated, deleted) = row(&pool).await;
    assert_eq!(raw["active"], json!(false), "the profile is replaced");
    assert_eq!(updated, Some(v(2).at()));
    assert_eq!(deleted, Some(v(2).at()));

    assert_eq!(
        apply(Change::deactivate(profile(false, "a"), v(3))).await,
        Outcome::Unchanged,
        "no churn"
    );
    assert_eq!(row(&pool).await.1, Some(v(2).at()));

    assert_eq!(
        apply(Change::deactivate(profile(false, "b"), v(4))).await,
        Outcome::Deleted
    );
    let (raw, updated, deleted) = row(&pool).await;
    assert_eq!(raw["nickName"], "b");
    assert_eq!(updated, Some(v(4).at()));
    assert_eq!(deleted, Some(v(2).at()), "the first deleted_at is kept");

    assert_eq!(
        apply(Change::upsert(profile(true, "c"), v(3))).await,
        Outcome::Stale
    );
    assert_eq!(
        apply(Change::upsert(profile(true, "c"), v(5))).await,
        Outcome::Updated
    );
    let (raw, _, deleted) = row(&pool).await;
    assert_eq!(raw["nickName"], "c");
    assert_eq!(deleted, None, "reactivated");
}
