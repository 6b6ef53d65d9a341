//! Rule 7, no poison deliveries: the three correctly signed deliveries that
//! used to fail at the database on every retry, and the other inputs of the
//! same kind, against a real Postgres. Each is either stored with the
//! offending field cleaned or refused before the database, and nothing else
//! is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use idsync_core::{Change, InvalidInput, Profile, SqlIdent, UserId, Version};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::applier::{Applier, ApplyError, Delivery, apply_batch};
use idsync_store::apply::Outcome;
use idsync_store::users::{UserQuery, UserState};
use idsync_store::{PgPool, StoreError, UsersTable};
use serde_json::json;
use sqlx::Row;

const CONNECTION: &str = "main";

struct Db {
    _server: PgServer,
    pool: PgPool,
    table: UsersTable,
}

async fn db() -> Db {
    let server = PgServer::start(PgOptions::temporary()).await.unwrap();
    let pool = PgPool::connect(&server.url()).await.unwrap();
    let table = UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    );
    idsync_store::migrate::migrate(&pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    Db {
        _server: server,
        pool,
        table,
    }
}

/// Rows in (users, deliveries, errors).
async fn counts(db: &Db) -> (i64, i64, i64) {
    let row = sqlx::query(&format!(
        "SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM idsync.deliveries),
                (SELECT count(*) FROM idsync.errors)",
        db.table.qualified()
    ))
    .fetch_one(&db.pool)
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// The errors recorded: (message id, message), oldest first.
async fn recorded(db: &Db) -> Vec<(String, String)> {
    sqlx::query_as("SELECT message_id, message FROM idsync.errors ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

fn upsert(id: &str, created_at: Option<DateTime<Utc>>) -> Change {
    Change::upsert(
        Profile {
            id: UserId::parse(id).unwrap(),
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            created_at,
            raw_json: json!({"id": id, "signed_up_at_millis": -8_000_000_000_000_000_i64}),
        },
        Version::from_unix_seconds(1_700_000_000).unwrap(),
    )
}

fn delivery(message_id: &str, event_type: &str, change: Option<Change>) -> Delivery {
    Delivery {
        message_id: message_id.into(),
        event_type: event_type.into(),
        change,
    }
}

#[tokio::test]
async fn a_sign_up_time_postgres_cannot_hold_is_stored_as_null() {
    let db = db().await;
    // Stack Auth's `signed_up_at_millis: -8000000000000000`: a time chrono
    // holds and Postgres does not ("timestamp out of range").
    let far = DateTime::from_timestamp_millis(-8_000_000_000_000_000).unwrap();
    let d = delivery("msg_1", "user.created", Some(upsert("u1", Some(far))));
    assert_eq!(d.check(), Ok(()));

    let outcomes = apply_batch(&db.pool, CONNECTION, &db.table, &[d])
        .await
        .unwrap();

    assert_eq!(outcomes, [Outcome::Inserted]);
    let (created, raw): (Option<DateTime<Utc>>, serde_json::Value) =
        sqlx::query_as("SELECT created_at, raw_json FROM neon_identity.users_sync WHERE id = 'u1'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(created, None, "the field is cleaned");
    assert_eq!(
        raw["signed_up_at_millis"],
        json!(-8_000_000_000_000_000_i64),
        "the provider's object is kept as delivered"
    );
    assert_eq!(counts(&db).await, (1, 1, 1));
    assert_eq!(
        recorded(&db).await,
        [(
            "msg_1".to_owned(),
            "stored cleaned: created_at out of Postgres's range, stored as NULL".to_owned()
        )]
    );
}

#[tokio::test]
async fn a_nul_in_an_ignored_event_type_is_logged_cleaned() {
    let db = db().await;
    let d = delivery("msg_1", "user.updated\u{0}", None);

    let outcomes = apply_batch(&db.pool, CONNECTION, &db.table, &[d])
        .await
        .unwrap();

    assert_eq!(outcomes, [Outcome::Ignored]);
    let logged: (String, String) = sqlx::query_as(
        "SELECT event_type, outcome FROM idsync.deliveries WHERE message_id = 'msg_1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(logged, ("user.updated\u{FFFD}".into(), "ignored".into()));
    assert_eq!(counts(&db).await, (0, 1, 1));
    assert_eq!(
        recorded(&db).await,
        [(
            "msg_1".to_owned(),
            "stored cleaned: event type cut to 255 bytes or U+0000 replaced".to_owned()
        )]
    );
}

#[tokio::test]
async fn an_over_long_message_id_is_refused_before_the_database() {
    let db = db().await;
    let long_id = format!("msg_{}", "x".repeat(3000));
    let bad = delivery(&long_id, "user.created", Some(upsert("u1", None)));
    let expected = InvalidInput::MessageIdTooLong { len: 3004 };
    assert_eq!(bad.check(), Err(expected.clone()));

    let direct = apply_batch(&db.pool, CONNECTION, &db.table, std::slice::from_ref(&bad)).await;
    assert!(
        matches!(&direct, Err(StoreError::Refused(e)) if *e == expected),
        "{direct:?}"
    );
    assert_eq!(counts(&db).await, (0, 0, 0), "nothing written");

    // Through the applier, next to a good delivery: only the bad one fails,
    // and without a database error.
    let applier = Applier::spawn(db.pool.clone(), CONNECTION.into(), db.table.clone());
    let good = delivery("msg_good", "user.created", Some(upsert("u2", None)));
    let (bad_result, good_result) = tokio::join!(applier.submit(bad), applier.submit(good));
    match bad_result {
        Err(ApplyError::Failed(reason)) => assert_eq!(reason, expected.to_string()),
        other => panic!("{other:?}"),
    }
    assert_eq!(good_result.unwrap(), Outcome::Inserted);
    assert_eq!(counts(&db).await, (1, 1, 0), "only the good delivery");

    // The refusal is recorded, with an id that is itself storable.
    idsync_store::errors::record_refused_delivery(
        &db.pool, CONNECTION, "webhook", &long_id, &expected,
    )
    .await
    .unwrap();
    let errors = idsync_store::errors::recent(&db.pool, CONNECTION, 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 1);
    let shown = errors[0].message_id.as_deref().unwrap();
    assert!(
        shown.starts_with("msg_xxx") && shown.ends_with("(3004 bytes)"),
        "{shown}"
    );
    assert!(shown.len() < 100, "{shown}");
    assert_eq!(
        errors[0].message,
        "the message id is 3004 bytes long; at most 255 are accepted"
    );
    assert_eq!(counts(&db).await, (1, 1, 1));
}

#[tokio::test]
async fn a_nul_in_a_message_id_is_refused_and_recorded_escaped() {
    let db = db().await;
    let bad = delivery("msg_\u{0}1", "user.created", Some(upsert("u1", None)));
    assert_eq!(bad.check(), Err(InvalidInput::MessageIdControlChar));
    let direct = apply_batch(&db.pool, CONNECTION, &db.table, &[bad]).await;
    assert!(matches!(direct, Err(StoreError::Refused(_))), "{direct:?}");
    idsync_store::errors::record_refused_delivery(
        &db.pool,
        CONNECTION,
        "webhook",
        "msg_\u{0}1",
        &InvalidInput::MessageIdControlChar,
    )
    .await
    .unwrap();
    let errors = idsync_store::errors::recent(&db.pool, CONNECTION, 10)
        .await
        .unwrap();
    assert_eq!(errors[0].message_id.as_deref(), Some("msg_\\01"));
    assert_eq!(counts(&db).await, (0, 0, 1));
}

#[tokio::test]
async fn nul_in_profile_text_and_json_is_stored_cleaned() {
    let db = db().await;
    let mut change = upsert("u1", None);
    if let idsync_core::ChangeKind::Upsert(p) = &mut change.kind {
        p.name = Some("A\u{0}da".into());
        p.email = Some("ada\u{0}@example.com".into());
        p.raw_json = json!({"id": "u1", "k\u{0}": ["\u{0}"]});
    }
    let outcomes = apply_batch(
        &db.pool,
        CONNECTION,
        &db.table,
        &[delivery("msg_1", "user.created", Some(change))],
    )
    .await
    .unwrap();
    assert_eq!(outcomes, [Outcome::Inserted]);
    let (name, email, raw): (String, String, serde_json::Value) = sqlx::query_as(
        "SELECT name, email, raw_json FROM neon_identity.users_sync WHERE id = 'u1'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(name, "A\u{FFFD}da");
    assert_eq!(email, "ada\u{FFFD}@example.com");
    assert_eq!(raw, json!({"id": "u1", "k\u{FFFD}": ["\u{FFFD}"]}));
    assert_eq!(
        recorded(&db).await,
        [(
            "msg_1".to_owned(),
            "stored cleaned: U+0000 in name replaced; U+0000 in email replaced; \
             U+0000 in raw_json replaced"
                .to_owned()
        )]
    );
}

#[tokio::test]
async fn a_clean_delivery_and_a_redelivery_record_nothing() {
    let db = db().await;
    let far = DateTime::from_timestamp_millis(-8_000_000_000_000_000).unwrap();
    let batch = [
        delivery("msg_1", "user.created", Some(upsert("u1", None))),
        delivery("msg_2", "user.created", Some(upsert("u2", Some(far)))),
    ];
    apply_batch(&db.pool, CONNECTION, &db.table, &batch)
        .await
        .unwrap();
    // The redelivery of the cleaned one is a duplicate: not recorded again.
    apply_batch(&db.pool, CONNECTION, &db.table, &batch[1..])
        .await
        .unwrap();
    let recorded = recorded(&db).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, "msg_2");
}

#[tokio::test]
async fn admin_and_bookkeeping_text_with_nul_does_not_fail() {
    let db = db().await;
    let found = idsync_store::users::get(&db.pool, &db.table, "u\u{0}1")
        .await
        .unwrap();
    assert!(found.is_none());
    let query = UserQuery {
        search: Some("a\u{0}".into()),
        state: UserState::All,
        after: Some("\u{0}".into()),
        limit: 10,
    };
    let listed = idsync_store::users::list(&db.pool, &db.table, &query)
        .await
        .unwrap();
    assert!(listed.is_empty());

    idsync_store::errors::record(&db.pool, CONNECTION, "webhook", "bad \u{0} body")
        .await
        .unwrap();
    let run =
        idsync_store::runs::start(&db.pool, CONNECTION, idsync_store::runs::JobKind::Backfill)
            .await
            .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    idsync_store::runs::record_page(
        &mut conn,
        run.id,
        Some(&json!({"after": "u\u{0}"})),
        Default::default(),
    )
    .await
    .unwrap();
    let finished = idsync_store::runs::finish(&db.pool, run.id, Some("provider said \u{0}"))
        .await
        .unwrap();
    assert_eq!(finished.error.as_deref(), Some("provider said \u{FFFD}"));
    assert_eq!(finished.cursor, Some(json!({"after": "u\u{FFFD}"})));
}

/// The bound in `idsync_core` is Postgres's own: its earliest time is
/// stored, one microsecond before is what Postgres refuses.
#[tokio::test]
async fn the_earliest_storable_time_is_postgres_own() {
    let db = db().await;
    let first = DateTime::from_timestamp(-210_866_803_200, 0).unwrap();
    assert!(idsync_core::storable_time(first).is_some());
    let stored: DateTime<Utc> = sqlx::query_scalar("SELECT $1::timestamptz")
        .bind(first)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, first);

    let before = first - chrono::TimeDelta::microseconds(1);
    assert!(idsync_core::storable_time(before).is_none());
    let refused = sqlx::query_scalar::<_, DateTime<Utc>>("SELECT $1::timestamptz")
        .bind(before)
        .fetch_one(&db.pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("out of range"), "{refused}");
}
