//! The audit trail's writer: group commit for `invocations` rows.
//!
//! Every invocation waits until its row is committed — no call is answered
//! with an audit row that could still be lost — but rows that arrive while a
//! commit is in flight share the next transaction. Under load that turns one
//! commit per call into one per batch (SQLite has a single writer; PostgreSQL
//! pays a round trip and a WAL flush per commit); a lone call is written at
//! once, with no timer between it and the database — on a SQLite file by the
//! calling task itself, when the store can write it without waiting
//! ([`Store::record_invocation_now`]), which spares a lone call the wake-ups of
//! the writer task and of sqlx's connection thread, and appends the row to a
//! table without indexes that the store moves into `invocations` in batches.
//!
//! The writer is a task on the runtime of the first call. If it is gone (its
//! runtime shut down, as between tests), a row is written directly.

use crate::error::Result;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};
use warden_store::{NewInvocation, Store};

/// Most rows in one transaction.
const MAX_BATCH: usize = 256;

/// Rows waiting for the writer; a full queue makes callers wait (back-pressure).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<warden_store::Result<String>>;

struct Pending {
    organization_id: String,
    row: NewInvocation,
    reply: Reply,
}

/// Batches audit rows into shared transactions. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct AuditWriter {
    queue: std::sync::Arc<OnceLock<mpsc::Sender<Pending>>>,
}

impl AuditWriter {
    /// Writes `row` for `organization_id`, returning its id once it is committed.
    pub(crate) async fn record(
        &self,
        store: &Store,
        organization_id: String,
        row: NewInvocation,
    ) -> Result<String> {
        let queue = self.queue.get_or_init(|| spawn_writer(store.clone()));
        // While rows wait for the writer task, this one joins them to share their
        // commit; otherwise it is written now if that needs no waiting.
        let nothing_waits = queue.capacity() == queue.max_capacity() || queue.is_closed();
        if nothing_waits
            && let Some(written) = store.record_invocation_now(&organization_id, &row).await
        {
            return Ok(written?);
        }
        let (reply, committed) = oneshot::channel();
        let pending = Pending {
            organization_id,
            row,
            reply,
        };
        let pending = match queue.send(pending).await {
            Ok(()) => match committed.await {
                Ok(result) => return Ok(result?),
                // The writer went away with the row (its runtime shut down):
                // the row may not have been written, and it cannot be
                // handed back; report the loss rather than guess.
                Err(_) => {
                    return Err(warden_store::StoreError::Invalid(
                        "the audit writer stopped before the invocation was recorded".to_owned(),
                    )
                    .into());
                }
            },
            Err(mpsc::error::SendError(pending)) => pending,
        };
        Ok(record_one(store, &pending.organization_id, &pending.row).await?)
    }
}

/// Writes one row; a failed connection (a database restart drops every pooled
/// one, and each fails once before it leaves the pool) is no reason to lose
/// it, so it is written again, on another, a bounded number of times.
async fn record_one(
    store: &Store,
    organization_id: &str,
    row: &NewInvocation,
) -> warden_store::Result<String> {
    let max_attempts = store.max_connection_attempts();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match store.record_invocation(organization_id, row).await {
            Err(e) if e.is_connection_failure() && attempts < max_attempts => {
                tracing::warn!("writing an audit row again: {e}");
            }
            result => return result.map(|invocation| invocation.id),
        }
    }
}

fn spawn_writer(store: Store) -> mpsc::Sender<Pending> {
    let (sender, mut receiver) = mpsc::channel::<Pending>(QUEUE);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let rows: Vec<(&str, &NewInvocation)> = batch
                .iter()
                .map(|p| (p.organization_id.as_str(), &p.row))
                .collect();
            let results = match store.record_invocations(&rows).await {
                Ok(results) => results
                    .into_iter()
                    .map(|result| result.map(|invocation| invocation.id))
                    .collect(),
                Err(e) => {
                    // A statement failed as a whole (e.g. an agent deleted while its
                    // row waited): write the rows one by one, so one costs only itself.
                    tracing::warn!("writing {} audit rows one by one: {e}", rows.len());
                    let mut results = Vec::with_capacity(rows.len());
                    for (organization_id, row) in &rows {
                        results.push(record_one(&store, organization_id, row).await);
                    }
                    results
                }
            };
            for (pending, result) in batch.drain(..).zip(results) {
                // The caller may have gone (client disconnected): the row is
                // written all the same.
                let _ = pending.reply.send(result);
            }
        }
    });
    sender
}
