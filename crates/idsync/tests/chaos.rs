//! Crashes and a database outage under load lose nothing (design rules 1
//! and 2).
//!
//! Two `idsync serve` replicas share one durable Postgres. Svix-signed
//! webhooks arrive at a steady pace, in random order, a fifth of them
//! twice, from senders that retry every non-2xx answer and connection error
//! (re-signed with the attempt's time, as Svix does), alternating replicas
//! like a load balancer. Meanwhile each replica is killed with SIGKILL once
//! and started again, and Postgres gets an immediate shutdown and a
//! restart. In the end every message answered 2xx is in the delivery log
//! (its commit survived), and the table holds exactly the provider's users,
//! each at its latest version: nothing lost, no row stale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use idsync_emulator::{ProviderKind, WebhookEvent, WebhookSender, WebhookTarget};
use idsync_pg::{PgOptions, PgServer};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Provider changes, hence distinct messages.
const CHANGES: usize = 2_000;
/// Share of messages delivered a second time.
const DUPLICATES: f64 = 0.2;
/// Concurrent senders.
const SENDERS: usize = 8;
/// One new message every `PACE` (about 65 a second): a run of about 40 s
/// plus the outages.
const PACE: Duration = Duration::from_millis(15);
/// However slow the machine, every message must be 2xx'd by then.
const DEADLINE: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Tally {
    /// Next entry of the plan to take.
    next: AtomicUsize,
    /// Entries of the plan answered 2xx.
    done: AtomicUsize,
    unavailable: AtomicUsize,
    connection_errors: AtomicUsize,
    /// 4xx and other answers a valid, signed message must never get.
    wrong: std::sync::Mutex<Vec<String>>,
    acked: std::sync::Mutex<HashSet<String>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_and_a_database_restart_under_load_lose_nothing() {
    // Durable on purpose: the test helpers' servers run with
    // synchronous_commit off, whose last commits an immediate shutdown may
    // lose.
    let pg = PgServer::start(PgOptions {
        fast_unsafe: false,
        ..PgOptions::temporary()
    })
    .await
    .unwrap();
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&pg.url(), &[Conn::new("main", &emu)]);
    // Fixed addresses: a replica restarted after its kill must be where
    // the senders deliver.
    let listen_a: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let listen_b: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let a = serve_on(&cfg, listen_a).await;
    let b = serve_on(&cfg, listen_b).await;
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    // The first backfill (of no users) is done before any change, so the
    // table can only learn the changes from the webhooks.
    backfilled(&pool, 1).await;
    pool.close().await;

    // Clerk versions are millisecond update times: 3 ms apart, each change
    // has its own.
    for _ in 0..CHANGES {
        emu.random_change();
        emu.advance_clock(chrono::Duration::milliseconds(3));
    }
    let events = Arc::new(emu.take_events());
    let plan = Arc::new(plan(events.len()));

    let tally = Arc::new(Tally::default());
    let secret = emu.config().webhook_secret.clone();
    let senders: Arc<Vec<WebhookSender>> = Arc::new(
        [listen_a, listen_b]
            .iter()
            .map(|addr| {
                WebhookSender::new(WebhookTarget {
                    url: format!("http://{addr}/webhooks/main"),
                    secret: secret.clone(),
                })
                .unwrap()
            })
            .collect(),
    );
    let started = tokio::time::Instant::now();
    let workers: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (events, plan, tally, senders) =
                (events.clone(), plan.clone(), tally.clone(), senders.clone());
            tokio::spawn(async move {
                loop {
                    let i = tally.next.fetch_add(1, Ordering::SeqCst);
                    let Some(&event) = plan.get(i) else { break };
                    tokio::time::sleep_until(started + PACE * i as u32).await;
                    deliver(&senders, &events[event], i, &tally).await;
                    tally.done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    // The faults, at points of progress (not of time), so each lands while
    // messages are in flight.
    let total = plan.len();
    reached(&tally, total / 5).await;
    let a = restart_replica(a, &cfg, listen_a).await;
    reached(&tally, 2 * total / 5).await;
    let b = restart_replica(b, &cfg, listen_b).await;
    reached(&tally, 3 * total / 5).await;
    stop_immediately(&pg).await;
    // Down for longer than idsync's 3 s pool acquire timeout, so requests
    // meet the outage as their 503, not only as a slow answer.
    tokio::time::sleep(Duration::from_secs(5)).await;
    pg.restart().await.unwrap();

    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(tally.done.load(Ordering::SeqCst), total);
    eprintln!(
        "{} messages, {total} sent (with duplicates), retried after {} 503s and {} connection errors",
        events.len(),
        tally.unavailable.load(Ordering::SeqCst),
        tally.connection_errors.load(Ordering::SeqCst),
    );
    let wrong = tally.wrong.lock().unwrap().clone();
    assert!(
        wrong.is_empty(),
        "answers a signed message must not get: {wrong:?}"
    );
    // The faults did hit deliveries; otherwise this test proves nothing.
    assert!(
        tally.connection_errors.load(Ordering::SeqCst) > 0,
        "no request met a killed replica"
    );
    assert!(
        tally.unavailable.load(Ordering::SeqCst) > 0,
        "no request met the database outage"
    );

    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let logged: HashSet<String> =
        sqlx::query_scalar("SELECT message_id FROM idsync.deliveries WHERE connection = 'main'")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let acked = tally.acked.lock().unwrap().clone();
    assert_eq!(acked.len(), events.len(), "every message answered 2xx");
    let lost: Vec<&String> = acked.difference(&logged).collect();
    assert!(lost.is_empty(), "answered 2xx but not committed: {lost:?}");
    assert_eq!(logged.len(), events.len(), "each message logged once");
    // Every user at its latest state; every deleted one soft-deleted.
    assert_mirrors(&pool, "neon_identity.users_sync", &emu).await;
    drop((a, b));
}

/// Indexes into the events: each once, a fifth again, in a random order.
fn plan(events: usize) -> Vec<usize> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let twice = (events as f64 * DUPLICATES) as usize;
    let mut plan: Vec<usize> = (0..events).collect();
    plan.extend(rand::seq::index::sample(&mut rng, events, twice).iter());
    plan.shuffle(&mut rng);
    plan
}

/// Sends `event` until a replica answers 2xx, as Svix would (without its
/// hours-long schedule): a failed attempt goes to the other replica after a
/// short backoff.
async fn deliver(senders: &[WebhookSender], event: &WebhookEvent, i: usize, tally: &Tally) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let mut backoff = Duration::from_millis(50);
    for attempt in 0.. {
        let sender = &senders[(i + attempt) % senders.len()];
        match sender.send(event).await {
            Ok(status) if status.is_success() => {
                tally.acked.lock().unwrap().insert(event.msg_id.clone());
                return;
            }
            Ok(status) if status.as_u16() == 503 => {
                tally.unavailable.fetch_add(1, Ordering::SeqCst);
            }
            Ok(status) => tally
                .wrong
                .lock()
                .unwrap()
                .push(format!("{} got {status}", event.msg_id)),
            Err(_) => {
                tally.connection_errors.fetch_add(1, Ordering::SeqCst);
            }
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{} not accepted after {attempt} attempts",
            event.msg_id
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn reached(tally: &Tally, n: usize) {
    wait_for(&format!("{n} messages taken"), async || {
        tally.next.load(Ordering::SeqCst) >= n
    })
    .await;
}

/// `kill -9` (dropping a [`Server`] SIGKILLs it), then a new replica on
/// the same address once the old one has let go of it.
async fn restart_replica(server: Server, cfg: &ConfigDir, listen: SocketAddr) -> Server {
    drop(server);
    wait_for(&format!("{listen} to be free"), async || {
        std::net::TcpListener::bind(listen).is_ok()
    })
    .await;
    serve_on(cfg, listen).await
}

async fn serve_on(cfg: &ConfigDir, listen: SocketAddr) -> Server {
    serve_at(&cfg.path(), &[("IDSYNC_LISTEN", listen.to_string())]).await
}

/// What `pg_ctl stop -m immediate` does: SIGQUIT to the postmaster, which
/// ends every backend without a checkpoint; the restart then recovers from
/// the WAL.
async fn stop_immediately(pg: &PgServer) {
    let pid_file = pg.data_dir().join("postmaster.pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let pid = pid.lines().next().unwrap().trim().to_owned();
    let status = tokio::process::Command::new("kill")
        .args(["-s", "QUIT", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill -s QUIT {pid}");
    wait_for("postgres to stop", async || !pid_file.exists()).await;
}
