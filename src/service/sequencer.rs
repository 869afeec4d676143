//! The log's sequencer: every write that appends to the transparency log is
//! pooled and integrated in batches, one transaction, one commit (one fsync)
//! and one signed checkpoint per batch, as Sunlight and Trillian-Tessera
//! sequence their logs.
//!
//! Batches form by themselves: while one batch commits, the writes that arrive
//! meanwhile queue and become the next batch, so an idle node integrates a lone
//! write at once and a busy one amortises each commit over up to
//! [`MAX_BATCH`] writes. A caller's answer waits for its batch's commit, so
//! nothing (no receipt, no agreement) is handed out before it is durable in
//! the log. Replicas sharing a database each run a sequencer; the log head's
//! row lock lets one batch at a time integrate, so the tree stays dense.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::NodeIdentity;
use super::transparency;
use crate::domain::Sha256Digest;
use crate::store::{
    Acknowledgement, BoardWrite, CheckpointSigner, LogWrite, LogWritten, LoggedDocument, LoggedWrite, NewOrder,
    NewVersion, OrderTransition, ReceiptBuilder, SessionAdmission, SessionRead, Store, StoreError,
};

/// Most writes in one batch. PostgreSQL keeps the subtransactions (one per write's
/// savepoint) of 64 per transaction in shared memory; beyond that every reader pays.
pub const MAX_BATCH: usize = 64;

/// Writes waiting for the sequencer before submitters wait to queue.
const QUEUE: usize = 4 * MAX_BATCH;

type Reply = oneshot::Sender<Result<LogWritten, StoreError>>;

/// A handle that submits log writes to this replica's sequencer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Sequencer {
    queue: mpsc::Sender<(LogWrite, Reply)>,
}

impl Sequencer {
    /// Starts the sequencer on a thread of its own; it ends when the last handle is dropped.
    ///
    /// Every log write of the replica waits on this one task, statement after statement,
    /// so it does not share the request workers' run queue: there each of its wake-ups
    /// would wait behind the requests in flight, and the whole log would go at that pace.
    pub fn start(store: Arc<dyn Store>, node: Arc<NodeIdentity>) -> std::io::Result<Self> {
        let (queue, pending) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        std::thread::Builder::new()
            .name("log-sequencer".into())
            .spawn(move || runtime.block_on(integrate_batches(store, node, pending)))?;
        Ok(Self { queue })
    }

    /// Publishes a version; returns its manifest's log index and its search-feed position.
    pub async fn publish(&self, version: NewVersion) -> Result<(u64, u64), StoreError> {
        match self
            .submit(LogWrite::Logged(Box::new(LoggedWrite::Publish(version))))
            .await?
        {
            LogWritten::Published {
                log_index,
                search_sequence,
            } => Ok((log_index, search_sequence)),
            other => Err(unexpected(&other)),
        }
    }

    /// Records and logs an order.
    pub async fn order(&self, order: NewOrder) -> Result<(), StoreError> {
        match self
            .submit(LogWrite::Logged(Box::new(LoggedWrite::Order(order))))
            .await?
        {
            LogWritten::Ordered => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Moves an order between states and logs the document that says so.
    pub async fn transition(&self, transition: OrderTransition) -> Result<(), StoreError> {
        match self
            .submit(LogWrite::Logged(Box::new(LoggedWrite::Transition(transition))))
            .await?
        {
            LogWritten::Transitioned => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Writes to the demand board and logs the signed document.
    pub async fn board(&self, write: BoardWrite) -> Result<(), StoreError> {
        match self
            .submit(LogWrite::Logged(Box::new(LoggedWrite::Board(write))))
            .await?
        {
            LogWritten::Boarded => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Admits a response of a read session, logging the receipt of a new one.
    pub async fn read(&self, read: SessionRead, receipt: Box<ReceiptBuilder>) -> Result<SessionAdmission, StoreError> {
        match self.submit(LogWrite::Read { read, receipt }).await? {
            LogWritten::Read(admission) => Ok(admission),
            other => Err(unexpected(&other)),
        }
    }

    /// Logs a buyer's acknowledgement of one of an order's receipts, once per receipt.
    pub async fn acknowledge(
        &self,
        order_id: String,
        receipt: Sha256Digest,
        document: LoggedDocument,
        at: DateTime<Utc>,
    ) -> Result<Acknowledgement, StoreError> {
        let write = LogWrite::Logged(Box::new(LoggedWrite::Acknowledge {
            order_id,
            receipt,
            document,
            at,
        }));
        match self.submit(write).await? {
            LogWritten::Acknowledged(acknowledgement) => Ok(acknowledgement),
            other => Err(unexpected(&other)),
        }
    }

    async fn submit(&self, write: LogWrite) -> Result<LogWritten, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((write, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Other(anyhow::anyhow!("the log sequencer has stopped"))
}

fn unexpected(written: &LogWritten) -> StoreError {
    StoreError::Other(anyhow::anyhow!("the log answered a write with {written:?}"))
}

/// The sequencer task: takes what is queued (up to [`MAX_BATCH`]), integrates it, answers.
async fn integrate_batches(
    store: Arc<dyn Store>,
    node: Arc<NodeIdentity>,
    mut pending: mpsc::Receiver<(LogWrite, Reply)>,
) {
    let sign = move |size: u64, root: [u8; 32]| {
        transparency::sign_checkpoint(&node, size, root)
            .map_err(|error| StoreError::Other(anyhow::anyhow!("signing a checkpoint: {error}")))
    };
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut queued, MAX_BATCH).await > 0 {
        // At most one publish per batch: a publish locks its dataset's row and the search
        // state before the log head, and two batches each holding one of two publishes'
        // locks while waiting for the other's would deadlock across replicas.
        let mut batch: Vec<(LogWrite, Reply)> = Vec::with_capacity(queued.len());
        for (write, reply) in queued.drain(..) {
            let publish = write.is_publish();
            if publish && batch.iter().any(|(queued, _)| queued.is_publish()) {
                integrate(store.as_ref(), std::mem::take(&mut batch), &sign).await;
            }
            batch.push((write, reply));
        }
        integrate(store.as_ref(), batch, &sign).await;
    }
}

/// Integrates one batch and answers its callers.
async fn integrate(store: &dyn Store, batch: Vec<(LogWrite, Reply)>, sign: &CheckpointSigner) {
    let (writes, replies): (Vec<LogWrite>, Vec<Reply>) = batch.into_iter().unzip();
    match store.integrate(&writes, sign).await {
        Ok(results) => answer(replies, results),
        // One write can fail a batch (its prepared rows cannot be undone alone): each
        // write is then integrated on its own, so only that one fails.
        Err(error) if writes.len() > 1 => {
            tracing::warn!(%error, writes = writes.len(), "a log batch failed; integrating its writes one by one");
            for (write, reply) in writes.chunks(1).zip(replies) {
                let result = store.integrate(write, sign).await.and_then(|mut results| {
                    results
                        .pop()
                        .unwrap_or_else(|| Err(StoreError::Other(anyhow::anyhow!("no result"))))
                });
                answer(vec![reply], vec![result]);
            }
        }
        Err(error) => {
            tracing::error!(%error, "a log write failed");
            answer(replies, vec![Err(error)]);
        }
    }
}

/// Hands each caller its write's result. A caller that went away (its client hung up)
/// still had its write integrated.
fn answer(replies: Vec<Reply>, results: Vec<Result<LogWritten, StoreError>>) {
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}
