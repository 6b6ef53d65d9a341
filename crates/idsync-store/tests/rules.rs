//! The correctness rules as a property, against a real Postgres through
//! the applier's batch (`apply_batch`: claim, apply, record, commit).
//!
//! For random histories of creates, updates and deletes of a few users,
//! delivered in any order, in batches of any size, with any number of
//! redeliveries (same message id) and replays (the same change under a new
//! id, as a reconcile re-reads it):
//! - after every batch each row is the newest change delivered so far for
//!   its user (so a stale change never overwrites a newer one), a delete
//!   winning a tie with an update;
//! - no change older than one already delivered is reported as written;
//! - a redelivered message id is a duplicate;
//! - in the end every user is in its last state.
//!
//! `PROPTEST_CASES` sets the number of cases (default 96).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use idsync_core::{Change, Profile, SqlIdent, UserId, Version};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::applier::{Delivery, apply_batch};
use idsync_store::apply::Outcome;
use idsync_store::{PgPool, UsersTable};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

const BASE: i64 = 1_700_000_000;

/// One change of a user's history; `seq` is unique across the scenario.
#[derive(Debug, Clone)]
struct Event {
    user: usize,
    seq: usize,
    version: i64,
    delete: bool,
}

impl Event {
    fn user_id(&self) -> String {
        format!("u{}", self.user)
    }

    /// Each upsert's content is unique, so a row shows which one it holds.
    fn raw_json(&self) -> serde_json::Value {
        json!({"id": self.user_id(), "seq": self.seq, "deleted": self.delete})
    }

    fn change(&self) -> Change {
        let id = UserId::parse(&self.user_id()).unwrap();
        let version = Version::from_unix_seconds(BASE + self.version).unwrap();
        if self.delete {
            Change::delete(id, version, self.raw_json())
        } else {
            Change::upsert(
                Profile {
                    id,
                    name: Some(format!("name {}", self.seq)),
                    email: Some(format!("u{}-{}@example.com", self.user, self.seq)),
                    created_at: None,
                    raw_json: self.raw_json(),
                },
                version,
            )
        }
    }
}

/// A user's history: each step moves the clock on by 0 to 2 seconds.
/// Two updates at the same version are left out (which one wins depends
/// on arrival order, by design: architecture.md, "The versioned upsert"),
/// so a step at the same version as an update is a delete.
fn history() -> impl Strategy<Value = Vec<(i64, bool)>> {
    prop::collection::vec((0i64..3, any::<bool>()), 1..6).prop_map(|steps| {
        let mut version = 0;
        let mut upsert_at: Option<i64> = None;
        steps
            .into_iter()
            .enumerate()
            .map(|(i, (gap, delete))| {
                version += if i == 0 { 0 } else { gap };
                let delete = delete || upsert_at == Some(version);
                if !delete {
                    upsert_at = Some(version);
                }
                (version, delete)
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
struct Send {
    event: usize,
    message_id: String,
}

#[derive(Debug, Clone)]
struct Scenario {
    events: Vec<Event>,
    sends: Vec<Send>,
    batch_sizes: Vec<usize>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop::collection::vec(history(), 1..4)
        .prop_flat_map(|users| {
            let mut events = Vec::new();
            for (user, steps) in users.into_iter().enumerate() {
                for (version, delete) in steps {
                    events.push(Event {
                        user,
                        seq: events.len(),
                        version,
                        delete,
                    });
                }
            }
            // Per event: how many extra copies, and whether each is a
            // redelivery (same id) or a replay (new id).
            let copies =
                prop::collection::vec(prop::collection::vec(any::<bool>(), 0..3), events.len());
            (Just(events), copies)
        })
        .prop_flat_map(|(events, copies)| {
            let mut sends = Vec::new();
            for (i, extra) in copies.iter().enumerate() {
                sends.push(Send {
                    event: i,
                    message_id: format!("m{i}"),
                });
                for (c, same_id) in extra.iter().enumerate() {
                    let message_id = if *same_id {
                        format!("m{i}")
                    } else {
                        format!("m{i}-replay{c}")
                    };
                    sends.push(Send {
                        event: i,
                        message_id,
                    });
                }
            }
            let n = sends.len();
            (
                Just(events),
                Just(sends).prop_shuffle(),
                prop::collection::vec(1usize..8, n),
            )
        })
        .prop_map(|(events, sends, batch_sizes)| Scenario {
            events,
            sends,
            batch_sizes,
        })
}

/// What a user's row must be once `delivered` (indexes into events) have
/// been applied: the newest version, deleted if a delete has it.
#[derive(Debug, PartialEq)]
struct Expected {
    version: i64,
    deleted: bool,
    /// The upsert holding the newest version, when not deleted.
    raw_json: Option<serde_json::Value>,
}

fn expected(events: &[Event], delivered: &HashSet<usize>) -> BTreeMap<String, Expected> {
    let mut by_user: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
    for &i in delivered {
        by_user
            .entry(events[i].user_id())
            .or_default()
            .push(&events[i]);
    }
    by_user
        .into_iter()
        .map(|(user, evs)| {
            let version = evs.iter().map(|e| e.version).max().unwrap_or_default();
            let newest: Vec<&&Event> = evs.iter().filter(|e| e.version == version).collect();
            let deleted = newest.iter().any(|e| e.delete);
            let raw_json = (!deleted).then(|| newest[0].raw_json());
            (
                user,
                Expected {
                    version,
                    deleted,
                    raw_json,
                },
            )
        })
        .collect()
}

async fn actual(pool: &PgPool) -> BTreeMap<String, Expected> {
    let rows: Vec<(String, Option<DateTime<Utc>>, bool, serde_json::Value)> = sqlx::query_as(
        "SELECT id, updated_at, deleted_at IS NOT NULL, raw_json FROM neon_identity.users_sync",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, updated_at, deleted, raw_json)| {
            let version = updated_at.map_or(i64::MIN, |t| t.timestamp() - BASE);
            // A deleted row keeps whichever profile it had: not compared.
            let raw_json = (!deleted).then_some(raw_json);
            (
                id,
                Expected {
                    version,
                    deleted,
                    raw_json,
                },
            )
        })
        .collect()
}

async fn run(pool: &PgPool, table: &UsersTable, s: Scenario) -> Result<(), TestCaseError> {
    sqlx::query("TRUNCATE neon_identity.users_sync, idsync.deliveries")
        .execute(pool)
        .await
        .unwrap();
    let mut delivered: HashSet<usize> = HashSet::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut rest = s.sends.as_slice();
    let mut sizes = s.batch_sizes.iter().cycle();
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap_or(&1)).min(rest.len());
        let (batch, after) = rest.split_at(size);
        rest = after;
        let deliveries: Vec<Delivery> = batch
            .iter()
            .map(|send| Delivery {
                message_id: send.message_id.clone(),
                event_type: "user.updated".into(),
                change: Some(s.events[send.event].change()),
            })
            .collect();
        let outcomes = apply_batch(pool, "main", table, &deliveries).await.unwrap();

        let newest_before: BTreeMap<String, i64> = expected(&s.events, &delivered)
            .into_iter()
            .map(|(user, e)| (user, e.version))
            .collect();
        for (send, outcome) in batch.iter().zip(&outcomes) {
            let event = &s.events[send.event];
            if !seen_ids.insert(send.message_id.clone()) {
                prop_assert_eq!(
                    *outcome,
                    Outcome::Duplicate,
                    "redelivery of {}",
                    send.message_id
                );
                continue;
            }
            prop_assert_ne!(
                *outcome,
                Outcome::Duplicate,
                "first delivery of {}",
                send.message_id
            );
            delivered.insert(send.event);
            if newest_before
                .get(&event.user_id())
                .is_some_and(|&v| v > event.version)
            {
                prop_assert!(!outcome.wrote(), "stale {:?} reported {:?}", event, outcome);
            }
        }
        prop_assert_eq!(
            actual(pool).await,
            expected(&s.events, &delivered),
            "after a batch"
        );
    }

    // Every event was delivered at least once: each user is in its last state.
    let all: HashSet<usize> = (0..s.events.len()).collect();
    prop_assert_eq!(&delivered, &all);
    prop_assert_eq!(actual(pool).await, expected(&s.events, &all), "in the end");
    Ok(())
}

#[test]
fn any_order_with_any_duplicates_converges_to_the_last_state() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let table = UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    );
    let (_server, pool) = rt.block_on(async {
        let server = PgServer::start(PgOptions::temporary()).await.unwrap();
        let pool = PgPool::connect(&server.url()).await.unwrap();
        idsync_store::migrate::migrate(&pool, std::slice::from_ref(&table))
            .await
            .unwrap();
        (server, pool)
    });
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96);
    let mut runner = TestRunner::new(Config {
        cases,
        // A failure prints its shrunk scenario; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&scenario(), |s| rt.block_on(run(&pool, &table, s)));
    if let Err(e) = result {
        panic!("{e}");
    }
}
