//! Webhook scenarios: signed Clerk webhooks through `idsync serve`
//! (`webhooks`), the same through the hand-written handler
//! (`handwritten`), and a light steady load through `idsync serve`
//! timed until each row is visible to a reader (`latency`).
//!
//! Each run starts from scratch: a fresh emulator (same seed, so both
//! sides get the same events), an empty table, a new process under test.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idsync_core::SqlIdent;
use idsync_emulator::{
    Emulator, EmulatorConfig, ProviderKind, WebhookEvent, WebhookSender, WebhookTarget,
};
use idsync_store::UsersTable;
use sqlx::postgres::PgListener;
use tokio::task::JoinSet;

use crate::cpu::CpuSnapshot;
use crate::db::{Place, verify};
use crate::handwritten;
use crate::process::{self, Server, Spec, Usage};
use crate::report::{Output, Record, note};

/// Fixed so that runs generate the same users and changes.
const RNG_SEED: u64 = 42;
/// Delivered before the measured runs, unreported: opens the HTTP and
/// database connections and warms the caches.
const WARM_UP_EVENTS: usize = 500;
/// The `latency` scenario's pace: one event every 10 ms.
const LATENCY_PERIOD: Duration = Duration::from_millis(10);
/// Concurrent senders of the warm-up.
const WARM_UP_CONCURRENCY: usize = 16;

/// What every webhook run shares.
pub struct Setup<'a> {
    pub place: &'a Place<'a>,
    /// ANALYZE before each run (see [`Run::settle`]).
    pub analyze: bool,
    pub output: Output,
}

/// One run's emulator, table and process under test.
struct Run<'a> {
    setup: &'a Setup<'a>,
    emulator: Emulator,
    table: UsersTable,
    /// idsync's connection name; `None` for the hand-written handler.
    connection: Option<&'static str>,
    server: Server,
    sender: WebhookSender,
}

impl<'a> Run<'a> {
    /// A fresh Clerk emulator and an empty `bench.<table>`.
    async fn prepare(setup: &Setup<'_>, table: &str) -> Result<(Emulator, UsersTable)> {
        let mut config = EmulatorConfig::new(ProviderKind::Clerk);
        config.rng_seed = RNG_SEED;
        let emulator = Emulator::start(config, "127.0.0.1:0".parse()?).await?;
        let table = UsersTable::new(SqlIdent::parse("bench")?, SqlIdent::parse(table)?);
        reset_table(setup.place, &table).await?;
        Ok((emulator, table))
    }

    /// `idsync serve` with one Clerk connection, after a first (empty)
    /// backfill so that serve starts none of its own.
    async fn idsync(setup: &'a Setup<'a>, connection: &'static str) -> Result<Self> {
        let (emulator, table) = Self::prepare(setup, &format!("users_{connection}")).await?;
        sqlx::query("DELETE FROM idsync.deliveries WHERE connection = $1")
            .bind(connection)
            .execute(setup.place.pool)
            .await?;
        let env = process::idsync_env(setup.place, &emulator, connection, &table);
        let dir = &setup.place.dir;
        process::run_to_end(&Spec::idsync(
            &["backfill", "--connection", connection],
            env.clone(),
            dir,
        ))
        .await?;
        let server = Server::start(&Spec::idsync(&["serve"], env, dir)).await?;
        let sender = WebhookSender::new(WebhookTarget {
            url: format!("{}/webhooks/{connection}", server.url),
            secret: emulator.config().webhook_secret.clone(),
        })?;
        Ok(Self {
            setup,
            emulator,
            table,
            connection: Some(connection),
            server,
            sender,
        })
    }

    /// The hand-written handler, in a process of its own.
    async fn handwritten(setup: &'a Setup<'a>) -> Result<Self> {
        let (emulator, table) = Self::prepare(setup, "users_handwritten").await?;
        let secret = emulator.config().webhook_secret.clone();
        let server = Server::start(&Spec {
            name: handwritten::NAME,
            args: Vec::new(),
            env: vec![
                (
                    handwritten::DATABASE_URL_ENV.to_owned(),
                    setup.place.url.clone(),
                ),
                (handwritten::SECRET_ENV.to_owned(), secret.clone()),
                (handwritten::TABLE_ENV.to_owned(), table.qualified()),
            ],
            dir: setup.place.dir.clone(),
        })
        .await?;
        let sender = WebhookSender::new(WebhookTarget {
            url: format!("{}/webhooks", server.url),
            secret,
        })?;
        Ok(Self {
            setup,
            emulator,
            table,
            connection: None,
            server,
            sender,
        })
    }

    async fn stop(self) {
        self.server.stop().await;
        self.emulator.shutdown().await;
    }

    /// `n` random changes (create 40%, update 45%, delete 15%) and their
    /// events. The clock moves 1 ms per change so that every change has its
    /// own version, as real changes made one after another would.
    fn generate(&self, n: usize) -> Vec<WebhookEvent> {
        for _ in 0..n {
            self.emulator.random_change();
            self.emulator
                .advance_clock(chrono::Duration::milliseconds(1));
        }
        self.emulator.take_events()
    }

    /// Brings the planner statistics up to date, as autovacuum does within
    /// a minute or so of traffic on a running deployment. Without them (a
    /// run shorter than autovacuum's naptime on fresh tables) some of
    /// idsync's statements get plans that scan the delivery log, and the
    /// figures depend on when autovacuum happens to wake.
    async fn settle(&self) -> Result<()> {
        if self.setup.analyze {
            sqlx::raw_sql(&format!(
                "ANALYZE idsync.deliveries, {}",
                self.table.qualified()
            ))
            .execute(self.setup.place.pool)
            .await?;
        }
        Ok(())
    }

    /// Warms up, then delivers `n` events from `concurrency` senders and
    /// prints the run's record.
    async fn measure(&self, scenario: &str, n: usize, concurrency: usize) -> Result<()> {
        deliver(
            &self.sender,
            self.generate(WARM_UP_EVENTS),
            WARM_UP_CONCURRENCY,
        )
        .await?;
        note(format_args!("generating {n} changes ..."));
        let events = Arc::new(self.generate(n));
        self.settle().await?;
        note(format_args!(
            "{scenario}: delivering with {concurrency} concurrent senders ..."
        ));
        let before = self.server.usage()?;
        let cpu_before = CpuSnapshot::take(&self.setup.place.pg_data);
        let (elapsed, latencies) = deliver(&self.sender, events.clone(), concurrency).await?;
        let cpu = CpuSnapshot::take(&self.setup.place.pg_data).note_since(cpu_before, events.len());
        let usage = used_since(before, self.server.usage()?);
        let per_commit = self.per_commit(&events).await?;
        let users = verify(self.setup.place.pool, &self.table, &self.emulator).await?;
        Record {
            scenario: scenario.to_owned(),
            db_rtt: self.setup.place.rtt,
            api_latency: Duration::ZERO,
            concurrency,
            count: events.len(),
            elapsed,
            latencies,
            per_commit,
            usage,
            notes: format!("{users} users, verified; {cpu}"),
        }
        .print(self.setup.output);
        Ok(())
    }

    /// Events per commit. idsync: `received_at` in the delivery log
    /// defaults to `now()`, the start of the transaction that claimed the
    /// message, so each transaction leaves one distinct value (an exact
    /// count, unlike `pg_stat_database.xact_commit`, which also counts the
    /// bench's own queries). The hand-written handler commits every
    /// statement on its own: 1.
    async fn per_commit(&self, events: &[WebhookEvent]) -> Result<f64> {
        let Some(connection) = self.connection else {
            return Ok(1.0);
        };
        let ids: Vec<&str> = events.iter().map(|e| e.msg_id.as_str()).collect();
        let (claimed, transactions): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT received_at) FROM idsync.deliveries
              WHERE connection = $1 AND message_id = ANY($2)",
        )
        .bind(connection)
        .bind(&ids)
        .fetch_one(self.setup.place.pool)
        .await?;
        if claimed != events.len() as i64 {
            bail!(
                "{claimed} of {} messages are in the delivery log",
                events.len()
            );
        }
        Ok(events.len() as f64 / transactions.max(1) as f64)
    }
}

/// `webhooks`: `n` signed webhook POSTs to `idsync serve` from
/// `concurrency` senders.
pub async fn idsync(setup: &Setup<'_>, n: usize, concurrency: usize) -> Result<()> {
    let run = Run::idsync(setup, "bench_hooks").await?;
    let measured = run.measure("webhooks", n, concurrency).await;
    run.stop().await;
    measured
}

/// `handwritten`: the same to the hand-written handler.
pub async fn handwritten(setup: &Setup<'_>, n: usize, concurrency: usize) -> Result<()> {
    let run = Run::handwritten(setup).await?;
    let measured = run.measure("handwritten", n, concurrency).await;
    run.stop().await;
    measured
}

/// `latency`: `n` sign-ups sent at 100 a second to `idsync serve`, each
/// timed from the moment it is sent until its row is visible to a reader
/// (a `NOTIFY` from a trigger on the table, delivered when the writing
/// transaction commits, to a listener connected directly).
pub async fn latency(setup: &Setup<'_>, n: usize) -> Result<()> {
    let run = Run::idsync(setup, "bench_latency").await?;
    let measured = measure_latency(&run, n).await;
    run.stop().await;
    measured
}

async fn measure_latency(run: &Run<'_>, n: usize) -> Result<()> {
    let pool = run.setup.place.pool;
    deliver(
        &run.sender,
        run.generate(WARM_UP_EVENTS),
        WARM_UP_CONCURRENCY,
    )
    .await?;
    sqlx::raw_sql(&format!(
        "CREATE OR REPLACE FUNCTION bench.notify_visible() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_notify('bench_visible', NEW.id); RETURN NULL; END $$;
         CREATE TRIGGER notify_visible AFTER INSERT OR UPDATE ON {}
             FOR EACH ROW EXECUTE FUNCTION bench.notify_visible();",
        run.table.qualified()
    ))
    .execute(pool)
    .await?;
    // Sign-ups only: every event makes a row of its own to wait for.
    for _ in 0..n {
        run.emulator.create_user();
        run.emulator
            .advance_clock(chrono::Duration::milliseconds(1));
    }
    let events = run.emulator.take_events();
    let ids = events
        .iter()
        .map(|e| {
            let body: serde_json::Value = serde_json::from_str(&e.body)?;
            body["data"]["id"]
                .as_str()
                .map(str::to_owned)
                .context("an event without a user id")
        })
        .collect::<Result<Vec<String>>>()?;
    run.settle().await?;

    let visible: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("bench_visible").await?;
    let watcher = {
        let visible = visible.clone();
        tokio::spawn(async move {
            while let Ok(notification) = listener.recv().await {
                visible
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(notification.payload().to_owned(), Instant::now());
            }
        })
    };

    note(format_args!(
        "latency: {n} sign-ups at one per {LATENCY_PERIOD:?} ..."
    ));
    let before = run.server.usage()?;
    let started = Instant::now();
    let mut ticks = tokio::time::interval(LATENCY_PERIOD);
    let mut sends = JoinSet::new();
    for event in events.iter().cloned() {
        ticks.tick().await;
        let sender = run.sender.clone();
        let sent = Instant::now();
        sends.spawn(async move {
            let status = sender.send(&event).await?;
            if !status.is_success() {
                bail!("webhook {} answered {status}", event.msg_id);
            }
            Ok(sent)
        });
    }
    let mut sent_at = Vec::with_capacity(n);
    while let Some(done) = sends.join_next().await {
        sent_at.push(done??);
    }
    let elapsed = started.elapsed();
    let usage = used_since(before, run.server.usage()?);
    // Answered means committed, so every notification is on its way.
    let deadline = Instant::now() + Duration::from_secs(30);
    let all_seen = || {
        let visible = visible.lock().unwrap_or_else(PoisonError::into_inner);
        ids.iter().all(|id| visible.contains_key(id))
    };
    while !all_seen() {
        if Instant::now() > deadline {
            bail!("not every committed row was announced");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    watcher.abort();
    // Sends completed in any order; match them to events by their time.
    sent_at.sort_unstable();
    let visible = std::mem::take(&mut *visible.lock().unwrap_or_else(PoisonError::into_inner));
    let latencies = ids
        .iter()
        .zip(&sent_at)
        .map(|(id, sent)| {
            visible
                .get(id)
                .map(|seen| seen.saturating_duration_since(*sent))
                .context("a row never became visible")
        })
        .collect::<Result<Vec<_>>>()?;
    let per_commit = run.per_commit(&events).await?;
    let users = verify(pool, &run.table, &run.emulator).await?;
    Record {
        scenario: "latency".to_owned(),
        db_rtt: run.setup.place.rtt,
        api_latency: Duration::ZERO,
        concurrency: 1,
        count: n,
        elapsed,
        latencies,
        per_commit,
        usage,
        notes: format!("send to visible; {users} users, verified"),
    }
    .print(run.setup.output);
    Ok(())
}

/// Drops and recreates `table` (as `idsync migrate` makes it).
pub async fn reset_table(place: &Place<'_>, table: &UsersTable) -> Result<()> {
    sqlx::raw_sql(&format!("DROP TABLE IF EXISTS {}", table.qualified()))
        .execute(place.pool)
        .await?;
    idsync_store::migrate::migrate(place.pool, std::slice::from_ref(table)).await?;
    Ok(())
}

/// The CPU used between two readings; the peak memory of the last.
pub fn used_since(before: Usage, after: Usage) -> Usage {
    Usage {
        peak_rss_kib: after.peak_rss_kib,
        cpu: after.cpu.saturating_sub(before.cpu),
    }
}

/// Sends every event once, `concurrency` at a time; returns the wall
/// time and each request's latency. Any answer but 2xx is an error.
async fn deliver(
    sender: &WebhookSender,
    events: impl Into<Arc<Vec<WebhookEvent>>>,
    concurrency: usize,
) -> Result<(Duration, Vec<Duration>)> {
    let events: Arc<Vec<WebhookEvent>> = events.into();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (events, next, sender) = (events.clone(), next.clone(), sender.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(events.len() / concurrency + 1);
            while let Some(event) = events.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let status = sender.send(event).await?;
                latencies.push(sent.elapsed());
                if !status.is_success() {
                    bail!("webhook {} answered {status}", event.msg_id);
                }
            }
            Ok(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(events.len());
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    Ok((started.elapsed(), latencies))
}
