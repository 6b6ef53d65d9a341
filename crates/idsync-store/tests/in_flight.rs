//! The applier with several batches in flight per connection, and several
//! appliers (replicas) on one table: under concurrent load with duplicate
//! and redelivered messages, every delivery is answered without error, the
//! table converges to each user's newest change, and the delivery log holds
//! each message once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use idsync_core::{Change, Profile, SqlIdent, UserId, Version};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::applier::{Applier, Delivery};
use idsync_store::apply::Outcome;
use idsync_store::{PgPool, UsersTable};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

const USERS: usize = 200;

/// id, `raw_json->>'step'`, name, updated_at, deleted_at.
type Row = (
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);
const CHANGES_PER_USER: usize = 8;

fn change(user: usize, step: usize) -> Change {
    let id = UserId::parse(&format!("u{user:04}")).unwrap();
    let version = Version::from_unix_seconds(1_700_000_000 + step as i64).unwrap();
    // Every fifth user ends deleted.
    if user.is_multiple_of(5) && step == CHANGES_PER_USER - 1 {
        let raw = json!({ "id": id.as_str() });
        return Change::delete(id, version, raw);
    }
    Change::upsert(
        Profile {
            id: id.clone(),
            name: Some(format!("user {user} step {step}")),
            email: None,
            created_at: None,
            raw_json: json!({ "id": id.as_str(), "step": step }),
        },
        version,
    )
}

#[tokio::test]
async fn concurrent_batches_and_replicas_converge_without_errors() {
    let server = PgServer::start(PgOptions::temporary()).await.unwrap();
    let pool = PgPool::connect(&server.url()).await.unwrap();
    let table = UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    );
    idsync_store::migrate::migrate(&pool, std::slice::from_ref(&table))
        .await
        .unwrap();
    // Two replicas, each with its own pool and applier.
    let appliers = [
        Applier::spawn(pool.clone(), "main".into(), table.clone()),
        Applier::spawn(
            PgPool::connect(&server.url()).await.unwrap(),
            "main".into(),
            table.clone(),
        ),
    ];

    let mut deliveries: Vec<Delivery> = (0..USERS)
        .flat_map(|u| (0..CHANGES_PER_USER).map(move |s| (u, s)))
        .map(|(u, s)| Delivery {
            message_id: format!("msg_{u}_{s}"),
            event_type: "user.updated".into(),
            change: Some(change(u, s)),
        })
        .collect();
    // A quarter of the messages is delivered twice: a redelivery.
    let again: Vec<Delivery> = deliveries.iter().step_by(4).cloned().collect();
    deliveries.extend(again);
    deliveries.shuffle(&mut StdRng::seed_from_u64(7));

    let sends = deliveries.iter().enumerate().map(|(i, d)| {
        let applier = appliers[i % appliers.len()].clone();
        let d = d.clone();
        async move { (d.message_id.clone(), applier.submit(d).await) }
    });
    let answers = futures::future::join_all(sends).await;

    let mut first_outcomes: HashMap<String, Vec<Outcome>> = HashMap::new();
    for (message_id, answer) in answers {
        let outcome = answer.unwrap_or_else(|e| panic!("{message_id}: {e}"));
        first_outcomes.entry(message_id).or_default().push(outcome);
    }
    // A message answered twice was a duplicate at least once, unless both
    // copies were in flight together (then the second is a no-op).
    for (message_id, outcomes) in &first_outcomes {
        if outcomes.len() == 2 {
            assert!(
                outcomes.contains(&Outcome::Duplicate)
                    || outcomes
                        .iter()
                        .any(|o| matches!(o, Outcome::Unchanged | Outcome::Stale)),
                "{message_id}: {outcomes:?}"
            );
        }
    }

    // Each user is at its newest change.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, raw_json->>'step', name, updated_at, deleted_at FROM neon_identity.users_sync",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), USERS);
    let last = CHANGES_PER_USER - 1;
    for (id, step, name, updated_at, deleted_at) in rows {
        let user: usize = id[1..].parse().unwrap();
        let newest = change(user, last);
        assert_eq!(updated_at, newest.version.at(), "{id}");
        if user.is_multiple_of(5) {
            // The profile a delete keeps depends on what arrived before it.
            assert!(deleted_at.is_some(), "{id} is deleted");
        } else {
            assert!(deleted_at.is_none(), "{id}");
            assert_eq!(step, Some(last.to_string()), "{id}");
            assert_eq!(name, Some(format!("user {user} step {last}")), "{id}");
        }
    }

    // The delivery log holds each message once, never 'pending'.
    let logged: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, outcome FROM idsync.deliveries")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(logged.len(), USERS * CHANGES_PER_USER);
    let ids: HashSet<&str> = logged.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(ids.len(), logged.len());
    assert!(
        logged
            .iter()
            .all(|(_, o)| Outcome::parse(o).is_some_and(|o| o != Outcome::Duplicate)),
        "{logged:?}"
    );
}
