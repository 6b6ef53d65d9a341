//! Group commit for webhook deliveries.
//!
//! Each connection has one applier task. Requests queue on a channel; the
//! task takes everything waiting (up to [`MAX_BATCH`]) and applies it in
//! one statement, a single round trip that claims the message ids, applies
//! the changes and records the outcomes, then answers every request of the
//! batch. Up to [`IN_FLIGHT`] batches run at once; under load, batches grow
//! by themselves while those are in flight; idle, a request is applied at
//! once.
//!
//! Under load, answers go out a batch at a time, so the senders' next
//! requests arrive as a burst. A slot freed while other batches are in
//! flight therefore lingers a little (an eighth of a recent batch's
//! duration, at most [`MAX_LINGER`]) to take the burst in one batch: taken
//! at once, the first request of the burst would hold a slot for a whole
//! round trip alone while the rest waited for the next one.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use idsync_core::{Change, EventType, InvalidInput, MessageId};
use sqlx::{PgPool, Row};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::apply::{Outcome, ROWS, Reduced, Rows, reduce, upsert_sql};
use crate::{StoreError, UsersTable, errors};

/// Largest batch in one transaction: bounds statement size and latency.
pub const MAX_BATCH: usize = 1000;

/// Batches applied at once per connection, each on a pooled connection.
/// With the database a network round trip away, one batch at a time would
/// leave it idle for most of each round trip; with lingering slots
/// (below) batches stay large, so eight cost little when it is near (of a
/// pool of 20, which jobs and the console share). Safe: every batch locks the
/// rows it writes in user-id order, and the versioning rules do not depend
/// on the order in which batches commit.
pub const IN_FLIGHT: usize = 8;

/// The longest a freed slot waits for a burst of requests.
const MAX_LINGER: Duration = Duration::from_millis(2);

/// Retries of a batch that Postgres aborted as a deadlock or serialization
/// failure with a concurrent one, or whose connection had died.
const CONFLICT_RETRIES: u32 = 4;

/// One delivered message as received: its provider id, its event type, and
/// the change it carries (`None` for an event type idsync ignores).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    pub event_type: String,
    pub change: Option<Change>,
}

impl Delivery {
    /// Whether the delivery can be stored at all (rule 7). The webhook
    /// handler asks before [`Applier::submit`] and answers a refusal with
    /// a 4xx and its reason; the applier asks again and never sends a
    /// refused delivery to the database.
    pub fn check(&self) -> Result<(), InvalidInput> {
        MessageId::parse(&self.message_id).map(drop)
    }

    /// What of the delivery is stored cleaned (rule 7); empty nearly
    /// always.
    pub fn cleaned_fields(&self) -> Vec<&'static str> {
        let mut cleaned = self
            .change
            .as_ref()
            .map(Change::cleaned_fields)
            .unwrap_or_default();
        if EventType::is_cleaned(&self.event_type) {
            cleaned.push("event type cut to 255 bytes or U+0000 replaced");
        }
        cleaned
    }
}

/// Why a delivery could not be applied. Cloned to every request of a
/// failed batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApplyError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("could not apply change: {0}")]
    Failed(String),
}

impl From<StoreError> for ApplyError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Failed(e.to_string())
        }
    }
}

type Reply = oneshot::Sender<Result<Outcome, ApplyError>>;

/// Handle to a connection's applier task. Cheap to clone.
#[derive(Clone)]
pub struct Applier {
    sender: mpsc::Sender<(Delivery, Reply)>,
}

impl Applier {
    /// Starts the task. It ends when every handle is dropped, after
    /// finishing the batch in hand.
    pub fn spawn(pool: PgPool, connection: String, table: UsersTable) -> Self {
        let (sender, receiver) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, connection, table, receiver));
        Self { sender }
    }

    /// Applies `delivery` and waits until it is committed.
    pub async fn submit(&self, delivery: Delivery) -> Result<Outcome, ApplyError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((delivery, reply))
            .await
            .map_err(|_| ApplyError::Failed("applier stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| ApplyError::Failed("applier stopped".to_owned()))?
    }
}

async fn run(
    pool: PgPool,
    connection: String,
    table: UsersTable,
    mut receiver: mpsc::Receiver<(Delivery, Reply)>,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let shared = Arc::new((pool, connection, table));
    // A moving average of how long a batch takes, in microseconds.
    let batch_micros = Arc::new(AtomicU64::new(0));
    // A slot first, then the batch: while every slot is busy, requests
    // queue and the next batch grows.
    while let Ok(slot) = Arc::clone(&slots).acquire_owned().await {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        if slots.available_permits() + 1 < IN_FLIGHT {
            let linger = Duration::from_micros(batch_micros.load(Ordering::Relaxed) / 8);
            take_burst(&mut receiver, &mut batch, linger.min(MAX_LINGER)).await;
        }
        let shared = Arc::clone(&shared);
        let batch_micros = Arc::clone(&batch_micros);
        tokio::spawn(async move {
            let (pool, connection, table) = &*shared;
            let started = Instant::now();
            apply_and_answer(pool, connection, table, batch).await;
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let average = batch_micros.load(Ordering::Relaxed);
            batch_micros.store(average - average / 8 + took / 8, Ordering::Relaxed);
            drop(slot);
        });
    }
    // Finish the batches in flight before the task ends.
    let _ = slots.acquire_many(IN_FLIGHT as u32).await;
}

/// Adds to `batch` what arrives within `linger`, up to [`MAX_BATCH`].
async fn take_burst(
    receiver: &mut mpsc::Receiver<(Delivery, Reply)>,
    batch: &mut Vec<(Delivery, Reply)>,
    linger: Duration,
) {
    let deadline = tokio::time::Instant::now() + linger;
    while batch.len() < MAX_BATCH {
        let room = MAX_BATCH - batch.len();
        match tokio::time::timeout_at(deadline, receiver.recv_many(batch, room)).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn apply_and_answer(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
    batch: Vec<(Delivery, Reply)>,
) {
    let (items, replies): (Vec<Delivery>, Vec<Reply>) = batch.into_iter().unzip();
    let size = items.len();
    let started = std::time::Instant::now();
    let results = apply_or_split(pool, connection, table, &items).await;
    metrics::histogram!("idsync_apply_seconds", "connection" => connection.to_owned())
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("idsync_apply_batch_size", "connection" => connection.to_owned())
        .record(size as f64);
    for (reply, result) in replies.into_iter().zip(results) {
        let outcome = match &result {
            Ok(outcome) => outcome.as_str(),
            Err(_) => "failed",
        };
        metrics::counter!("idsync_webhook_deliveries_total",
            "connection" => connection.to_owned(), "outcome" => outcome)
        .increment(1);
        let _ = reply.send(result);
    }
}

/// Applies a batch in one transaction. A delivery that can never be stored
/// is answered at once and kept out of it. If the batch fails for a reason
/// other than the database being unavailable (a constraint or trigger the
/// user added to the table, say), one bad delivery must not fail the
/// others with it, retry after retry: each is then applied in a
/// transaction of its own.
async fn apply_or_split(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
    items: &[Delivery],
) -> Vec<Result<Outcome, ApplyError>> {
    let refused: Vec<(usize, InvalidInput)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| item.check().err().map(|e| (i, e)))
        .collect();
    if refused.is_empty() {
        return apply_storable(pool, connection, table, items).await;
    }
    // Rare (the webhook handler refuses these first): copy the rest out.
    let mut results: Vec<Option<Result<Outcome, ApplyError>>> = vec![None; items.len()];
    for (i, e) in refused {
        tracing::warn!(connection, message_id = %MessageId::describe(&items[i].message_id), reason = %e, "delivery refused");
        results[i] = Some(Err(ApplyError::Failed(e.to_string())));
    }
    let storable: Vec<usize> = (0..items.len()).filter(|&i| results[i].is_none()).collect();
    let batch: Vec<Delivery> = storable.iter().map(|&i| items[i].clone()).collect();
    for (i, result) in storable
        .into_iter()
        .zip(apply_storable(pool, connection, table, &batch).await)
    {
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ApplyError::Failed("no outcome".to_owned()))))
        .collect()
}

async fn apply_storable(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
    items: &[Delivery],
) -> Vec<Result<Outcome, ApplyError>> {
    if items.is_empty() {
        return Vec::new();
    }
    let mut attempts = 0;
    let e = loop {
        match apply_batch(pool, connection, table, items).await {
            Ok(outcomes) => {
                tracing::debug!(connection, size = items.len(), "batch committed");
                return outcomes.into_iter().map(Ok).collect();
            }
            // Batches in flight lock rows in the same order, but a message
            // redelivered while its first copy is in flight can still meet
            // it in the delivery log; Postgres then aborts one of them.
            Err(e) if e.is_conflict() && attempts < CONFLICT_RETRIES => {
                attempts += 1;
                tracing::debug!(connection, error = %e, "batch met a concurrent one; retrying");
            }
            // Pooled connections are pinged only after sitting idle, so one
            // that a database restart ended may be lent; another may work.
            Err(e) if e.is_broken_connection() && attempts < CONFLICT_RETRIES => {
                attempts += 1;
                tracing::debug!(connection, error = %e, "connection was gone; retrying on another");
            }
            Err(e) => break ApplyError::from(e),
        }
    };
    if matches!(e, ApplyError::Unavailable(_)) || items.len() == 1 {
        tracing::warn!(connection, size = items.len(), error = %e, "batch failed");
        return vec![Err(e); items.len()];
    }
    tracing::warn!(connection, size = items.len(), error = %e, "batch failed; applying its deliveries one by one");
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let result = apply_batch(pool, connection, table, std::slice::from_ref(item))
            .await
            .map_err(ApplyError::from)
            .and_then(|mut outcomes| {
                outcomes
                    .pop()
                    .ok_or_else(|| ApplyError::Failed("no outcome".to_owned()))
            });
        if let Err(e) = &result {
            tracing::warn!(connection, message_id = item.message_id, error = %e, "delivery failed");
        }
        results.push(result);
    }
    results
}

/// Claims, applies and records one batch in a single statement (so a
/// single round trip to the database, committed on its own); returns one
/// outcome per delivery. A delivery that can never be stored fails the
/// whole call with [`StoreError::Refused`] before the database is touched.
///
/// The changes of every delivery of the batch are reduced to one winner per
/// user and upserted whether or not the delivery was seen before: applying
/// a change again is a no-op under the versioning rules, so the delivery
/// log only has to tell the sender "duplicate". A redelivery that arrives
/// while its first copy is still in flight may thus be applied twice (the
/// second time unchanged) and is answered with its outcome instead.
pub async fn apply_batch(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
    items: &[Delivery],
) -> Result<Vec<Outcome>, StoreError> {
    for d in items {
        MessageId::parse(&d.message_id)?;
    }
    let plan = BatchPlan::new(items);
    let rows = Rows::new(&plan.reduced.winners);
    let sql = batch_sql(table);
    let query = rows
        .bind(sqlx::query(&sql))
        .bind(connection)
        .bind(&plan.message_ids)
        .bind(&plan.event_types)
        .bind(&plan.user_ids)
        .bind(&plan.roles)
        .bind(&plan.cleaned_ids)
        .bind(&plan.cleaned_shown)
        .bind(&plan.cleaned_text)
        .bind(&rows.deactivated);
    let answered = query.fetch_all(pool).await?;

    let mut by_message: HashMap<String, Outcome> = HashMap::with_capacity(answered.len());
    for row in answered {
        let message_id: String = row.try_get("message_id")?;
        let claimed: bool = row.try_get("claimed")?;
        let outcome = if claimed {
            let word: String = row.try_get("outcome")?;
            Outcome::parse(&word).ok_or_else(|| {
                StoreError::Sql(sqlx::Error::Protocol(format!("unknown outcome {word:?}")))
            })?
        } else {
            Outcome::Duplicate
        };
        by_message.insert(message_id, outcome);
    }
    if !plan.cleaned_ids.is_empty() {
        metrics::counter!("idsync_deliveries_cleaned_total", "connection" => connection.to_owned())
            .increment(plan.cleaned_ids.len() as u64);
        errors::trim(pool, connection).await?;
    }
    // Later copies of a message id in the batch are duplicates whatever the
    // database says.
    Ok(items
        .iter()
        .enumerate()
        .map(|(i, d)| match plan.first_index.get(d.message_id.as_str()) {
            Some(&first) if first == i => by_message
                .get(&d.message_id)
                .copied()
                .unwrap_or(Outcome::Duplicate),
            _ => Outcome::Duplicate,
        })
        .collect())
}

/// A batch laid out as the parameters of [`batch_sql`].
struct BatchPlan<'a> {
    first_index: HashMap<&'a str, usize>,
    reduced: Reduced<'a>,
    /// Per candidate (the first copy of each message id): `$9`..`$12`.
    message_ids: Vec<&'a str>,
    event_types: Vec<String>,
    user_ids: Vec<Option<&'a str>>,
    /// `ignored` (no change), `lost` (a newer change of the batch won) or
    /// `winner`.
    roles: Vec<&'static str>,
    /// Candidates stored with a field cleaned (rule 7): `$13`..`$15`.
    cleaned_ids: Vec<&'a str>,
    cleaned_shown: Vec<String>,
    cleaned_text: Vec<String>,
}

impl<'a> BatchPlan<'a> {
    fn new(items: &'a [Delivery]) -> Self {
        let mut first_index = HashMap::new();
        for (i, d) in items.iter().enumerate() {
            first_index.entry(d.message_id.as_str()).or_insert(i);
        }
        let candidates: Vec<&Delivery> = items
            .iter()
            .enumerate()
            .filter(|(i, d)| first_index.get(d.message_id.as_str()) == Some(i))
            .map(|(_, d)| d)
            .collect();
        let with_change: Vec<usize> = (0..candidates.len())
            .filter(|&c| candidates[c].change.is_some())
            .collect();
        let reduced = reduce(
            with_change
                .iter()
                .filter_map(|&c| candidates[c].change.as_ref()),
        );
        let mut roles = vec!["ignored"; candidates.len()];
        for (k, &c) in with_change.iter().enumerate() {
            roles[c] = if reduced.source[reduced.slot_of[k]] == k {
                "winner"
            } else {
                "lost"
            };
        }
        let mut plan = Self {
            first_index,
            reduced,
            message_ids: candidates.iter().map(|d| d.message_id.as_str()).collect(),
            event_types: candidates
                .iter()
                .map(|d| EventType::new(&d.event_type).as_str().to_owned())
                .collect(),
            user_ids: candidates
                .iter()
                .map(|d| d.change.as_ref().map(|c| c.user_id.as_str()))
                .collect(),
            roles,
            cleaned_ids: Vec::new(),
            cleaned_shown: Vec::new(),
            cleaned_text: Vec::new(),
        };
        for d in &candidates {
            let cleaned = d.cleaned_fields();
            if !cleaned.is_empty() {
                plan.cleaned_ids.push(d.message_id.as_str());
                plan.cleaned_shown.push(MessageId::describe(&d.message_id));
                plan.cleaned_text
                    .push(format!("stored cleaned: {}", cleaned.join("; ")));
            }
        }
        plan
    }
}

/// The batch statement: upsert the winners (`$1`..`$7`), work out each
/// candidate's outcome, claim the message ids in the delivery log with
/// those outcomes (`$8`..`$12`; in message-id order, so replicas claim in
/// the same order), record the cleaned ones that were claimed
/// (`$13`..`$15`), and answer per candidate its outcome and whether it was
/// claimed. `$16` holds the deactivations' ids. `cur` reads the table as it was before the statement, which is
/// what tells a stale change from an unchanged one.
fn batch_sql(table: &UsersTable) -> String {
    format!(
        r#"WITH w AS ({rows}),
upserted AS ({upsert}),
m AS (
    SELECT * FROM UNNEST($9::text[], $10::text[], $11::text[], $12::text[])
        AS m(message_id, event_type, user_id, role)
),
o AS (
    SELECT m.message_id, m.event_type, m.user_id,
        CASE
            WHEN m.role = 'ignored' THEN 'ignored'
            WHEN m.role = 'lost' THEN 'stale'
            WHEN u.id IS NOT NULL THEN
                CASE WHEN w.deleted_at IS NOT NULL THEN 'deleted'
                     WHEN u.inserted THEN 'inserted'
                     ELSE 'updated' END
            WHEN cur.updated_at > w.updated_at THEN 'stale'
            ELSE 'unchanged'
        END AS outcome
    FROM m
    LEFT JOIN w ON m.role = 'winner' AND w.id = m.user_id
    LEFT JOIN upserted u ON m.role = 'winner' AND u.id = m.user_id
    LEFT JOIN {t} cur ON m.role = 'winner' AND cur.id = m.user_id
),
logged AS (
    INSERT INTO idsync.deliveries (connection, message_id, event_type, user_id, outcome)
    SELECT $8, message_id, event_type, user_id, outcome FROM o ORDER BY message_id
    ON CONFLICT (connection, message_id) DO NOTHING
    RETURNING message_id
),
cleaned AS (
    INSERT INTO idsync.errors (connection, source, message_id, message)
    SELECT $8, 'webhook', c.shown, c.message
      FROM UNNEST($13::text[], $14::text[], $15::text[]) AS c(message_id, shown, message)
      JOIN logged l ON l.message_id = c.message_id
)
SELECT o.message_id, o.outcome, (l.message_id IS NOT NULL) AS claimed
  FROM o LEFT JOIN logged l ON l.message_id = o.message_id"#,
        rows = ROWS,
        upsert = upsert_sql(table, "SELECT * FROM w", "$16"),
        t = table.qualified()
    )
}
