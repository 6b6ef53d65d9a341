//! Group commit for webhook deliveries.
//!
//! Each connection has one applier task. Requests queue on a channel; the
//! task takes everything waiting (up to [`MAX_BATCH`]), claims the message
//! ids, applies the changes in one statement and commits once, then answers
//! every request of the batch. Under load, batches grow by themselves while
//! the previous commit is in flight; idle, a request is applied at once.

use idsync_core::{Change, EventType, InvalidInput, MessageId};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::apply::{Outcome, apply_changes};
use crate::{StoreError, UsersTable, deliveries, errors};

/// Largest batch in one transaction: bounds statement size and latency.
pub const MAX_BATCH: usize = 1000;

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
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, replies): (Vec<Delivery>, Vec<Reply>) = batch.drain(..).unzip();
        let size = items.len();
        let started = std::time::Instant::now();
        let results = apply_or_split(&pool, &connection, &table, &items).await;
        metrics::histogram!("idsync_apply_seconds", "connection" => connection.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("idsync_apply_batch_size", "connection" => connection.clone())
            .record(size as f64);
        for (reply, result) in replies.into_iter().zip(results) {
            let outcome = match &result {
                Ok(outcome) => outcome.as_str(),
                Err(_) => "failed",
            };
            metrics::counter!("idsync_webhook_deliveries_total",
                "connection" => connection.clone(), "outcome" => outcome)
            .increment(1);
            let _ = reply.send(result);
        }
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
    let e = match apply_batch(pool, connection, table, items).await {
        Ok(outcomes) => {
            tracing::debug!(connection, size = items.len(), "batch committed");
            return outcomes.into_iter().map(Ok).collect();
        }
        Err(e) => ApplyError::from(e),
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

/// Claims, applies and commits one batch; returns one outcome per delivery.
/// A delivery that can never be stored fails the whole call with
/// [`StoreError::Refused`] before the database is touched.
pub async fn apply_batch(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
    items: &[Delivery],
) -> Result<Vec<Outcome>, StoreError> {
    let message_ids = items
        .iter()
        .map(|d| MessageId::parse(&d.message_id))
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    let mut tx = pool.begin().await?;

    // The first copy of a message id in the batch is the candidate; later
    // copies are duplicates whatever the database says.
    let mut first_index = std::collections::HashMap::new();
    for (i, d) in items.iter().enumerate() {
        first_index.entry(d.message_id.as_str()).or_insert(i);
    }
    let mut candidates: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(i, d)| first_index.get(d.message_id.as_str()) == Some(i))
        .map(|(i, _)| i)
        .collect();
    // Claim in message-id order so replicas lock in the same order.
    candidates.sort_by(|&a, &b| items[a].message_id.cmp(&items[b].message_id));
    let ids: Vec<MessageId> = candidates.iter().map(|&i| message_ids[i].clone()).collect();
    let types: Vec<EventType> = candidates
        .iter()
        .map(|&i| EventType::new(&items[i].event_type))
        .collect();
    let users: Vec<Option<idsync_core::UserId>> = candidates
        .iter()
        .map(|&i| items[i].change.as_ref().map(|c| c.user_id.clone()))
        .collect();
    let fresh: std::collections::HashSet<String> =
        deliveries::claim(&mut tx, connection, &ids, &types, &users)
            .await?
            .into_iter()
            .collect();

    let mut outcomes = vec![Outcome::Duplicate; items.len()];
    let mut to_apply = Vec::new();
    let mut applied_index = Vec::new();
    for &i in &candidates {
        if !fresh.contains(&items[i].message_id) {
            continue;
        }
        match &items[i].change {
            Some(change) => {
                to_apply.push(change.clone());
                applied_index.push(i);
            }
            None => outcomes[i] = Outcome::Ignored,
        }
    }
    let applied = apply_changes(&mut tx, table, &to_apply).await?;
    for (i, outcome) in applied_index.into_iter().zip(applied) {
        outcomes[i] = outcome;
    }

    let fresh_ids: Vec<String> = candidates
        .iter()
        .filter(|&&i| fresh.contains(&items[i].message_id))
        .map(|&i| items[i].message_id.clone())
        .collect();
    let fresh_outcomes: Vec<&str> = candidates
        .iter()
        .filter(|&&i| fresh.contains(&items[i].message_id))
        .map(|&i| outcomes[i].as_str())
        .collect();
    deliveries::set_outcomes(&mut tx, connection, &fresh_ids, &fresh_outcomes).await?;
    let mut cleaned_count = 0;
    for &i in candidates
        .iter()
        .filter(|&&i| fresh.contains(&items[i].message_id))
    {
        let cleaned = items[i].cleaned_fields();
        if !cleaned.is_empty() {
            errors::record_cleaned_delivery(&mut tx, connection, &items[i].message_id, &cleaned)
                .await?;
            cleaned_count += 1;
        }
    }
    tx.commit().await?;
    if cleaned_count > 0 {
        metrics::counter!("idsync_deliveries_cleaned_total", "connection" => connection.to_owned())
            .increment(cleaned_count);
    }
    Ok(outcomes)
}
