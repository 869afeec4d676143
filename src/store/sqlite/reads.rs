//! A batch of reads (the bulk of a busy log) run on the sequencer's own thread,
//! through the SQLite handle of sqlx's writer connection.

use chrono::Utc;

use super::SqliteStore;
use crate::store::rows::{decode_index, encode_index, encode_time};
use crate::store::sql::{BatchLog, ReadAdmissions, RightEdge, StoredSession};
use crate::store::{CheckpointSigner, LogWrite, LogWritten, ReceiptBuilder, SessionRead, StoreError};

/// A batch of reads (the bulk of a busy log) runs here, on the sequencer's own thread,
/// through the writer connection's SQLite handle, rather than statement by statement
/// through sqlx, where each statement is a hand-off to the connection's thread and back:
/// on two busy cores those hand-offs, not SQLite's work, were most of what a receipt
/// cost beyond an open download (in the bench, interleaved runs went from 0.45–0.62× the
/// open rate to 0.59–0.68×, their worst rounds from 0.37–0.48× to 0.53–0.63×). The
/// decisions and signatures are the shared [`ReadAdmissions`]; the statements are the
/// shared SQL's, one row at a time (prepared once a batch, with nothing to wait for).
/// Batches with other writes, and a batch whose tree edge another process moved, go
/// through the shared SQL.
impl SqliteStore {
    /// Integrates `batch` here if it holds reads alone; `None` for the shared SQL to do it.
    pub(super) async fn integrate_reads_in_place(
        &self,
        batch: &[LogWrite],
        sign: &CheckpointSigner,
    ) -> Result<Option<Vec<Result<LogWritten, StoreError>>>, StoreError> {
        let reads: Vec<_> = batch
            .iter()
            .filter_map(|write| match write {
                LogWrite::Read { read, receipt } => Some((read, receipt.as_ref())),
                LogWrite::Logged(_) => None,
            })
            .collect();
        if reads.len() != batch.len() {
            return Ok(None);
        }
        let mut connection = self.writer.acquire().await?;
        let mut handle = connection.lock_handle().await?;
        let raw = handle.as_raw_handle();
        // SAFETY: while `handle` lives, sqlx's connection thread makes no call on this
        // database handle or its statements; `database` is dropped before `handle`, and a
        // connection made by `from_handle` neither closes the handle nor keeps statements
        // past its drop (its cached statements are finalized then).
        #[allow(unsafe_code)]
        let database = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }?;
        let integrated = integrate_reads(&database, &self.right_edge, &reads, sign);
        let left_open = integrated.is_err() && database.execute_batch("ROLLBACK").is_err() && !database.is_autocommit();
        drop(database);
        drop(handle);
        if left_open {
            // A transaction that cannot be ended must not go back to the pool open.
            connection.close_on_drop();
        }
        integrated
    }
}

/// A read's order, file and session as stored: the order's state and end, the
/// downloads spent of the file, the bytes the session carried (the shared state read's
/// columns, for one read).
const STORED_SESSION: &str = "SELECT o.state, o.valid_until, \
     (SELECT MAX(sequence) FROM deliveries WHERE order_id = ?1 AND file_name = ?2), \
     (SELECT bytes_sent FROM deliveries WHERE order_id = ?1 AND file_name = ?2 AND session = ?3 AND log_index IS NOT NULL) \
     FROM (SELECT 1 AS one) AS read_row LEFT JOIN orders o ON o.id = ?1";

/// Integrates a batch of reads in one transaction on `database`; `None` (having changed
/// nothing) if the tree's edge at the log's size is not the one this replica kept.
fn integrate_reads(
    database: &rusqlite::Connection,
    edge: &RightEdge,
    reads: &[(&SessionRead, &ReceiptBuilder)],
    sign: &CheckpointSigner,
) -> Result<Option<Vec<Result<LogWritten, StoreError>>>, StoreError> {
    database.execute_batch("BEGIN IMMEDIATE")?;
    let size: i64 = database.query_row("SELECT size FROM log_head WHERE id = 1", [], |row| row.get(0))?;
    let mut log = BatchLog::new(decode_index(size)?);
    let Some(mut tree) = edge.at(log.base) else {
        database.execute_batch("ROLLBACK")?;
        return Ok(None);
    };
    let mut stored = Vec::with_capacity(reads.len());
    let mut read_state = database.prepare_cached(STORED_SESSION)?;
    for (read, _) in reads {
        let (state, until, last, sent): (Option<String>, Option<String>, Option<i64>, Option<i64>) = read_state
            .query_row(
                rusqlite::params![read.order_id, read.file.as_str(), read.session.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?;
        stored.push(StoredSession::decode(state, until, last, sent)?);
    }
    let mut admissions = ReadAdmissions::new(&log);
    let decided: Vec<_> = reads
        .iter()
        .zip(stored)
        .map(|((read, receipt), stored)| admissions.decide(read, *receipt, stored))
        .collect();
    admissions.sign_receipts(&mut log)?;
    for ((order_id, file, session), added) in &admissions.continued {
        database
            .prepare_cached(
                "UPDATE deliveries SET bytes_sent = bytes_sent + ?4, responses = responses + ?5 \
                 WHERE order_id = ?1 AND file_name = ?2 AND session = ?3 AND log_index IS NOT NULL",
            )
            .and_then(|mut update| {
                update.execute(rusqlite::params![order_id, file, session, added.bytes, added.responses])
            })?;
    }
    let grown = if log.entries.is_empty() {
        None
    } else {
        let size = log.size();
        let (nodes, note) = log.grow(&mut tree, sign)?;
        let mut delivery = database
            .prepare_cached(
                "INSERT INTO deliveries (order_id, file_name, sequence, delivered_ranges, log_index, \
                 started_at, completed_at, session, bytes_sent, responses) VALUES (?1, ?2, ?3, '[]', ?4, ?5, ?5, ?6, ?7, ?8)",
            )?;
        for opened in &admissions.opened {
            delivery.execute(rusqlite::params![
                opened.order_id,
                opened.file,
                opened.sequence,
                opened.stored_index,
                opened.at,
                opened.session,
                opened.bytes_sent,
                opened.responses
            ])?;
        }
        let mut entry_row = database.prepare_cached(
            "INSERT INTO log_entries (idx, kind, entry, leaf_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for entry in &log.entries {
            entry_row.execute(rusqlite::params![
                encode_index(entry.index)?,
                entry.kind.as_str(),
                entry.text,
                hex::encode(entry.leaf),
                entry.at
            ])?;
        }
        database.execute("UPDATE log_head SET size = ?1 WHERE id = 1", [encode_index(size)?])?;
        let mut node_row = database
            .prepare_cached("INSERT INTO log_tree (node, hash) VALUES (?1, ?2) ON CONFLICT (node) DO NOTHING")?;
        for (node, hash) in &nodes {
            node_row.execute(rusqlite::params![node, hash])?;
        }
        database.execute(
            "INSERT INTO checkpoints (size, note, signed_at) VALUES (?1, ?2, ?3) ON CONFLICT (size) DO NOTHING",
            rusqlite::params![encode_index(size)?, note, encode_time(Utc::now())],
        )?;
        Some(tree)
    };
    database.execute_batch("COMMIT")?;
    if let Some(tree) = grown {
        edge.keep(tree);
    }
    Ok(Some(
        decided
            .into_iter()
            .map(|admission| admission.map(LogWritten::Read))
            .collect(),
    ))
}
