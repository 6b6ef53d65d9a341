//! Scenarios 1 and 2: webhook ingest through idsync's HTTP server and
//! group-commit applier; the same applier fed without HTTP; and the
//! one-transaction-per-event baseline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idsync_core::{Change, ConnectionName, SqlIdent};
use idsync_emulator::{Emulator, EmulatorConfig, WebhookEvent, WebhookSender, WebhookTarget};
use idsync_providers::svix::WebhookMeta;
use idsync_providers::{Effect, clerk, registry};
use idsync_server::{AppState, ConnectionRuntime};
use idsync_store::applier::{Applier, Delivery};
use idsync_store::{PgPool, UsersTable};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::db::verify;
use crate::report::{note, row};

/// Fixed so that runs generate the same users and changes.
const RNG_SEED: u64 = 42;
/// Delivered before the measured runs, unreported: opens the HTTP and
/// database connections and warms the caches.
const WARM_UP_EVENTS: usize = 500;

/// A Clerk emulator and idsync serving one connection for it, in-process.
///
/// Every run generates fresh changes on the same emulator and applies them
/// to the same table (a run replaying old events would only measure
/// duplicate detection), so after each run the table must equal the
/// emulator's users.
pub struct Fixture {
    pool: PgPool,
    emulator: Emulator,
    connection: ConnectionName,
    table: UsersTable,
    /// One sender, cloned into each task: the clones share its HTTP client
    /// and so its keep-alive connections.
    sender: WebhookSender,
    /// The server's applier, also fed directly to separate the cost of
    /// HTTP from that of the database.
    applier: Applier,
    /// ANALYZE before each run (see [`Fixture::settle`]).
    analyze: bool,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Fixture {
    pub async fn start(pool: &PgPool, metrics: PrometheusHandle, analyze: bool) -> Result<Self> {
        let mut config = EmulatorConfig::new(idsync_emulator::ProviderKind::Clerk);
        config.rng_seed = RNG_SEED;
        let emulator = Emulator::start(config, "127.0.0.1:0".parse()?).await?;
        let connection = ConnectionName::parse("bench_webhooks")?;
        let table = UsersTable::new(
            SqlIdent::parse("bench")?,
            SqlIdent::parse("users_webhooks")?,
        );
        idsync_store::migrate::migrate(pool, std::slice::from_ref(&table)).await?;

        // What `idsync serve` builds for a Clerk connection
        // (crates/idsync/src/runtime.rs `connection`, commands/serve.rs
        // `build_state`), minus the background jobs: a reconcile or first
        // backfill would disturb the figures.
        let emu = emulator.config();
        let applier = Applier::spawn(pool.clone(), connection.to_string(), table.clone());
        let provider =
            registry::configure("clerk", connection.as_str(), emulator.connection_keys())?;
        let runtime = ConnectionRuntime {
            name: connection.clone(),
            table: table.clone(),
            provider,
            applier: applier.clone(),
            reconcile_interval: None,
            full_reconcile_interval: None,
            refresh_wake: Default::default(),
            resources: None,
        };
        let state = AppState::new(pool.clone(), vec![runtime]).with_metrics(metrics);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, idsync_server::router(state))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        let sender = WebhookSender::new(WebhookTarget {
            url: format!("http://{addr}/webhooks/{connection}"),
            secret: emu.webhook_secret.clone(),
        })?;
        Ok(Self {
            pool: pool.clone(),
            emulator,
            connection,
            table,
            sender,
            applier,
            analyze,
            stop,
            server,
        })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: idsync server failed: {e}"),
            Err(e) => eprintln!("warning: idsync server task ended abnormally: {e}"),
        }
        self.emulator.shutdown().await;
    }

    /// `n` random changes (create 40%, update 45%, delete 15%) and their
    /// events. The clock moves 1 ms per change so that every change has its
    /// own version, as real changes made one after another would.
    fn generate(&self, n: usize) -> Vec<WebhookEvent> {
        note(format_args!("generating {n} changes ..."));
        for _ in 0..n {
            self.emulator.random_change();
            self.emulator
                .advance_clock(chrono::Duration::milliseconds(1));
        }
        self.emulator.take_events()
    }

    /// Brings the planner statistics up to date, as autovacuum does within
    /// a minute or so of traffic on a running deployment. Without them (a
    /// run shorter than autovacuum's naptime on fresh tables) the applier's
    /// outcome UPDATE is planned as a hash join over every delivery of the
    /// connection, so each batch costs time in proportion to the delivery
    /// log and the figures depend on when autovacuum happens to wake:
    /// `--no-analyze` shows that.
    async fn settle(&self) -> Result<()> {
        if self.analyze {
            sqlx::raw_sql(&format!(
                "ANALYZE idsync.deliveries, {}",
                self.table.qualified()
            ))
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    pub async fn warm_up(&self) -> Result<()> {
        let events = self.generate(WARM_UP_EVENTS);
        self.deliver(events, 16).await?;
        Ok(())
    }

    /// Scenario 1: `n` signed webhook POSTs from `concurrency` senders.
    pub async fn ingest(&self, n: usize, concurrency: usize) -> Result<()> {
        let events = Arc::new(self.generate(n));
        self.settle().await?;
        note(format_args!(
            "delivering with {concurrency} concurrent senders ..."
        ));
        let (elapsed, mut latencies) = self.deliver(events.clone(), concurrency).await?;
        self.report_grouped(
            &format!("webhooks c={concurrency}"),
            &events,
            elapsed,
            &mut latencies,
        )
        .await
    }

    /// The group-commit run's row, once the table was checked.
    async fn report_grouped(
        &self,
        scenario: &str,
        events: &[WebhookEvent],
        elapsed: Duration,
        latencies: &mut [Duration],
    ) -> Result<()> {
        let transactions = self.transactions(events).await?;
        let users = verify(&self.pool, &self.table, &self.emulator).await?;
        row(
            scenario,
            events.len(),
            elapsed,
            Some(latencies),
            &format!(
                "{:.1} events/tx ({transactions} tx); {users} users, verified",
                events.len() as f64 / transactions.max(1) as f64
            ),
        );
        Ok(())
    }

    /// Group commit without HTTP: decoded events submitted straight to the
    /// applier from `concurrency` tasks, as the webhook handler does after
    /// verifying and decoding. Against `webhooks c=N` it shows what the HTTP
    /// side costs; against the baseline, what grouping buys for the same
    /// database work (the applier also keeps the delivery log).
    pub async fn applier_direct(&self, n: usize, concurrency: usize) -> Result<()> {
        let events = self.generate(n);
        let deliveries = Arc::new(decode(&events)?);
        self.settle().await?;
        note(format_args!(
            "submitting to the applier from {concurrency} tasks ..."
        ));
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..concurrency {
            let (deliveries, next) = (deliveries.clone(), next.clone());
            let applier = self.applier.clone();
            tasks.spawn(async move {
                let mut latencies = Vec::with_capacity(deliveries.len() / concurrency + 1);
                while let Some(delivery) = deliveries.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let submitted = Instant::now();
                    // The handler owns its Delivery; a clone stands in.
                    applier.submit(delivery.clone()).await?;
                    latencies.push(submitted.elapsed());
                }
                anyhow::Ok(latencies)
            });
        }
        let mut latencies = Vec::with_capacity(deliveries.len());
        while let Some(done) = tasks.join_next().await {
            latencies.extend(done??);
        }
        let elapsed = started.elapsed();
        self.report_grouped(
            &format!("applier c={concurrency} no HTTP"),
            &events,
            elapsed,
            &mut latencies,
        )
        .await
    }

    /// Sends every event once, `concurrency` at a time; returns the wall
    /// time and each request's latency. Any answer but 2xx is an error.
    async fn deliver(
        &self,
        events: impl Into<Arc<Vec<WebhookEvent>>>,
        concurrency: usize,
    ) -> Result<(Duration, Vec<Duration>)> {
        let events: Arc<Vec<WebhookEvent>> = events.into();
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..concurrency {
            let (events, next, sender) = (events.clone(), next.clone(), self.sender.clone());
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

    /// How many transactions the applier committed for these events.
    /// `received_at` defaults to `now()`, the start time of the transaction
    /// that claimed the message, so each applier transaction leaves one
    /// distinct value: an exact count, unlike pg_stat_database's
    /// `xact_commit`, which also counts our own queries and reaches the
    /// view lazily.
    async fn transactions(&self, events: &[WebhookEvent]) -> Result<i64> {
        let ids: Vec<&str> = events.iter().map(|e| e.msg_id.as_str()).collect();
        let (claimed, transactions): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT received_at) FROM idsync.deliveries
              WHERE connection = $1 AND message_id = ANY($2)",
        )
        .bind(self.connection.as_str())
        .bind(&ids)
        .fetch_one(&self.pool)
        .await?;
        if claimed != events.len() as i64 {
            bail!(
                "{claimed} of {} messages are in the delivery log",
                events.len()
            );
        }
        Ok(transactions)
    }

    /// Scenario 2: the same kind of events, decoded as the webhook handler
    /// does, each applied and committed in its own transaction with
    /// `apply_changes`, from `concurrency` tasks. No HTTP, no signature
    /// check and no delivery log: the baseline is flattered, and still
    /// shows what one commit per event costs.
    pub async fn one_tx_per_event(&self, n: usize, concurrency: usize) -> Result<()> {
        let events = self.generate(n);
        let changes: Vec<Change> = decode(&events)?
            .into_iter()
            .filter_map(|d| d.change)
            .collect();
        let changes = Arc::new(changes);
        self.settle().await?;
        note(format_args!(
            "applying one transaction per event with {concurrency} tasks ..."
        ));
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..concurrency {
            let (changes, next) = (changes.clone(), next.clone());
            let (pool, table) = (self.pool.clone(), self.table.clone());
            tasks.spawn(async move {
                let mut latencies = Vec::with_capacity(changes.len() / concurrency + 1);
                while let Some(change) = changes.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let began = Instant::now();
                    let mut tx = pool.begin().await?;
                    idsync_store::apply::apply_changes(
                        &mut tx,
                        &table,
                        std::slice::from_ref(change),
                    )
                    .await?;
                    tx.commit().await?;
                    latencies.push(began.elapsed());
                }
                anyhow::Ok(latencies)
            });
        }
        let mut latencies = Vec::with_capacity(changes.len());
        while let Some(done) = tasks.join_next().await {
            latencies.extend(done??);
        }
        let elapsed = started.elapsed();
        let users = verify(&self.pool, &self.table, &self.emulator).await?;
        row(
            &format!("1 tx/event c={concurrency}"),
            changes.len(),
            elapsed,
            Some(&mut latencies),
            &format!("1.0 events/tx; {users} users, verified"),
        );
        Ok(())
    }
}

/// Decodes events as the webhook handler does, with the message's own
/// time standing in for the delivery attempt's `svix-timestamp`.
fn decode(events: &[WebhookEvent]) -> Result<Vec<Delivery>> {
    let mut deliveries = Vec::with_capacity(events.len());
    for event in events {
        let meta = WebhookMeta {
            message_id: event.msg_id.clone(),
            timestamp: event.created_at,
        };
        match clerk::decode_webhook(&meta, event.body.as_bytes())
            .with_context(|| format!("decoding {}", event.msg_id))?
        {
            (event_type, Effect::Apply(change)) => deliveries.push(Delivery {
                message_id: meta.message_id,
                event_type,
                change: Some(change),
            }),
            (event_type, _) => bail!("unexpected event type {event_type}"),
        }
    }
    Ok(deliveries)
}
