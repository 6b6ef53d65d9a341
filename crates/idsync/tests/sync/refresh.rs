//! The refresher: users named by notifications are fetched through the
//! provider's API, once per user however many notifications name them,
//! and stay queued while the API fails.

use std::time::Duration;

use idsync_core::{EventType, MessageId, SqlIdent, UserId};
use idsync_emulator::ProviderKind;
use idsync_providers::{Provider, registry};
use idsync_store::UsersTable;
use idsync_store::refresh::{self, Notice, RefreshStats};
use idsync_sync::JobTarget;
use idsync_sync::refresh::{RefreshRound, refresh_due};
use serde_json::Value;

use crate::common::*;

const CONNECTION: &str = "okta_like";

fn table() -> UsersTable {
    UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    )
}

fn notice(event: &str, user: &str) -> Notice {
    Notice {
        event_id: MessageId::parse(event).unwrap(),
        event_type: EventType::new("user.lifecycle.activate"),
        user_id: UserId::parse(user).unwrap(),
    }
}

fn target<'a>(db: &'a TestDb, table: &'a UsersTable, provider: &'a Provider) -> JobTarget<'a> {
    JobTarget {
        pool: &db.pool,
        connection: CONNECTION,
        table,
        provider,
    }
}

async fn row(db: &TestDb, id: &str) -> Option<(Value, bool)> {
    sqlx::query_as(
        "SELECT raw_json, deleted_at IS NOT NULL FROM neon_identity.users_sync WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn notified_users_are_fetched_once_each_and_missing_ones_deleted() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 3).await;
    let table = table();
    idsync_store::migrate::migrate(&db.pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    let provider = registry::configure("stack_auth", CONNECTION, emu.connection_keys()).unwrap();
    let ids = emu.user_ids();
    assert!(emu.delete_user(&ids[2]));

    // Three events for one user, one each for two others, and a redelivery.
    let notices = [
        notice("e1", &ids[0]),
        notice("e2", &ids[0]),
        notice("e3", &ids[0]),
        notice("e4", &ids[1]),
        notice("e5", &ids[2]),
    ];
    let fresh = refresh::enqueue(&db.pool, CONNECTION, &notices, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(fresh, 5);
    let again = refresh::enqueue(&db.pool, CONNECTION, &notices[..1], Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again, 0, "a redelivered event queues nothing");
    let stats = refresh::stats(&db.pool, CONNECTION).await.unwrap();
    assert_eq!(
        stats,
        RefreshStats {
            queued: 3,
            done: 0,
            failing: 0
        }
    );

    let round = refresh_due(target(&db, &table, &provider)).await.unwrap();
    assert_eq!(round, RefreshRound { done: 3, failed: 0 });
    assert_eq!(
        refresh_due(target(&db, &table, &provider)).await.unwrap(),
        RefreshRound::default(),
        "nothing is left to fetch"
    );

    for id in &ids[..2] {
        let (raw, deleted) = row(&db, id).await.expect("fetched user is in the table");
        assert_eq!(Some(raw), emu.user(id));
        assert!(!deleted);
    }
    let (_, deleted) = row(&db, &ids[2])
        .await
        .expect("a tombstone for the missing user");
    assert!(deleted, "a user the provider no longer has is deleted");
    let stats = refresh::stats(&db.pool, CONNECTION).await.unwrap();
    assert_eq!(
        stats,
        RefreshStats {
            queued: 0,
            done: 3,
            failing: 0
        }
    );

    let outcomes: Vec<(String, String)> = sqlx::query_as(
        "SELECT message_id, outcome FROM idsync.deliveries WHERE connection = $1 ORDER BY message_id",
    )
    .bind(CONNECTION)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes.iter().all(|(_, o)| o == "queued"), "{outcomes:?}");
}

#[tokio::test]
async fn a_notification_during_a_fetch_keeps_the_user_queued() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 1).await;
    let table = table();
    idsync_store::migrate::migrate(&db.pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    let id = emu.user_ids().remove(0);
    refresh::enqueue(&db.pool, CONNECTION, &[notice("e1", &id)], Duration::ZERO)
        .await
        .unwrap();
    let leased = refresh::lease(&db.pool, CONNECTION, 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    // Another replica takes a notification while this one fetches.
    refresh::enqueue(&db.pool, CONNECTION, &[notice("e2", &id)], Duration::ZERO)
        .await
        .unwrap();
    let provider = registry::configure("stack_auth", CONNECTION, emu.connection_keys()).unwrap();
    let change = provider.current_change(&id).await.unwrap().unwrap();
    refresh::complete(&db.pool, CONNECTION, &table, &[(leased[0].clone(), change)])
        .await
        .unwrap();
    let stats = refresh::stats(&db.pool, CONNECTION).await.unwrap();
    assert_eq!(stats.queued, 1, "the later notification is not lost");
    let again = refresh::lease(&db.pool, CONNECTION, 10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "and its user can be leased again at once");
}

#[tokio::test]
async fn users_stay_queued_while_the_api_is_down() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 1).await;
    let table = table();
    idsync_store::migrate::migrate(&db.pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    let id = emu.user_ids().remove(0);
    let down_url = format!("http://127.0.0.1:{}", free_port());
    let keys = emu.connection_keys().into_iter().map(|(k, v)| {
        let v = if k == "api_url" { down_url.clone() } else { v };
        (k, v)
    });
    let down = registry::configure("stack_auth", CONNECTION, keys).unwrap();
    refresh::enqueue(&db.pool, CONNECTION, &[notice("e1", &id)], Duration::ZERO)
        .await
        .unwrap();

    let round = refresh_due(target(&db, &table, &down)).await.unwrap();
    assert_eq!(round, RefreshRound { done: 0, failed: 1 });
    let stats = refresh::stats(&db.pool, CONNECTION).await.unwrap();
    assert_eq!(
        stats,
        RefreshStats {
            queued: 1,
            done: 0,
            failing: 1
        }
    );
    assert!(
        row(&db, &id).await.is_none(),
        "nothing is written for a failed fetch"
    );
    let (_, error, _) = refresh::last_failure(&db.pool, CONNECTION)
        .await
        .unwrap()
        .unwrap();
    assert!(error.contains("unreachable"), "{error}");

    // The retry waits out its backoff; bring it forward instead of sleeping.
    sqlx::query("UPDATE idsync.refresh_queue SET due_at = now()")
        .execute(&db.pool)
        .await
        .unwrap();
    let up = registry::configure("stack_auth", CONNECTION, emu.connection_keys()).unwrap();
    let round = refresh_due(target(&db, &table, &up)).await.unwrap();
    assert_eq!(round, RefreshRound { done: 1, failed: 0 });
    assert_eq!(row(&db, &id).await.unwrap().0, emu.user(&id).unwrap());
    let stats = refresh::stats(&db.pool, CONNECTION).await.unwrap();
    assert_eq!(
        stats,
        RefreshStats {
            queued: 0,
            done: 1,
            failing: 0
        }
    );
}

#[tokio::test]
async fn a_burst_about_one_user_waits_out_its_settle_time_as_one_fetch() {
    let db = postgres().await;
    let table = table();
    idsync_store::migrate::migrate(&db.pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    let settle = Duration::from_secs(3600);
    for event in ["e1", "e2", "e3"] {
        refresh::enqueue(&db.pool, CONNECTION, &[notice(event, "00u1")], settle)
            .await
            .unwrap();
    }
    let stats = refresh::stats(&db.pool, CONNECTION).await.unwrap();
    assert_eq!(stats.queued, 1, "three notifications, one queued user");
    let leased = refresh::lease(&db.pool, CONNECTION, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(leased.is_empty(), "not due before its settle time");
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM idsync.refresh_queue")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(seq, 3, "every notification counted");
}
