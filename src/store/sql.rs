//! The SQL both backends share, written once and instantiated per backend.
//!
//! Every statement here uses only what SQLite and PostgreSQL agree on:
//! `$n` parameters, TEXT and BIGINT columns, `ON CONFLICT`, `COALESCE`.
//! A backend supplies `self.pool` and `self.begin_write()`; the macro
//! supplies the [`Store`](super::Store) implementation on top.

use std::collections::HashMap;

use crate::domain::EntryKind;
use crate::ledger::stored::TreeBuilder;
use crate::store::{
    CheckpointSigner, LoggedDocument, ReceiptBuilder, ReceiptFacts, SessionAdmission, SessionRead, StoreError,
};

/// How a backend runs several writes sent as one statement, in one round trip.
#[derive(Clone, Copy, Debug)]
pub(super) enum Chaining {
    /// SQLite: `;`-separated statements, run in order, binding parameters in order.
    Semicolons,
    /// PostgreSQL: all but the last as data-modifying `WITH` queries, each run exactly once.
    WithQueries,
}

/// Several write statements built as one, glued as the backend's [`Chaining`] says.
pub(super) struct Chain<'args, DB: sqlx::Database> {
    builder: sqlx::QueryBuilder<'args, DB>,
    chaining: Chaining,
    count: usize,
    started: usize,
}

impl<'args, DB: sqlx::Database> Chain<'args, DB> {
    /// A chain of exactly `count` statements.
    pub(super) fn new(chaining: Chaining, count: usize) -> Self {
        Self {
            builder: sqlx::QueryBuilder::new(""),
            chaining,
            count,
            started: 0,
        }
    }

    /// Starts the next statement; the builder to write it with.
    pub(super) fn statement(&mut self) -> &mut sqlx::QueryBuilder<'args, DB> {
        let (index, last) = (self.started, self.started + 1 == self.count);
        self.started += 1;
        match (self.chaining, index, last) {
            (_, 0, true) | (Chaining::Semicolons, 0, _) => {}
            (Chaining::Semicolons, _, _) => {
                self.builder.push("; ");
            }
            (Chaining::WithQueries, 0, false) => {
                self.builder.push("WITH w0 AS (");
            }
            (Chaining::WithQueries, _, true) => {
                self.builder.push(") ");
            }
            (Chaining::WithQueries, _, false) => {
                self.builder.push(format!("), w{index} AS ("));
            }
        }
        &mut self.builder
    }

    /// The builder, to go on with the current statement.
    pub(super) fn builder(&mut self) -> &mut sqlx::QueryBuilder<'args, DB> {
        &mut self.builder
    }
}

/// The entries one batch appends, at dense indices from the size the log had.
pub(super) struct BatchLog {
    /// The log's size when the batch took its lock.
    pub(super) base: u64,
    /// The entries so far, in index order.
    pub(super) entries: Vec<PendingEntry>,
}

/// A log entry of a batch, not yet written.
pub(super) struct PendingEntry {
    /// Its index.
    pub(super) index: u64,
    /// What it records.
    pub(super) kind: EntryKind,
    /// Its canonical text.
    pub(super) text: String,
    /// Its RFC 9162 leaf hash.
    pub(super) leaf: [u8; 32],
    /// When it was appended, as stored.
    pub(super) at: String,
}

impl BatchLog {
    /// An empty batch on a log of `base` entries.
    pub(super) fn new(base: u64) -> Self {
        Self {
            base,
            entries: Vec::new(),
        }
    }

    /// The log's size with this batch's entries.
    pub(super) fn size(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    /// Appends a document; returns its index.
    pub(super) fn append(&mut self, document: &LoggedDocument, at: &str) -> u64 {
        let index = self.size();
        self.entries.push(PendingEntry {
            index,
            kind: document.kind,
            text: document.text.clone(),
            leaf: *document.leaf.as_bytes(),
            at: at.to_owned(),
        });
        index
    }

    /// Forgets the entries after the first `kept`: those of a write that failed.
    pub(super) fn truncate(&mut self, kept: usize) {
        self.entries.truncate(kept);
    }

    /// Grows `tree` by the batch's leaves: the subtrees they complete, as stored (key and
    /// hex hash), and the checkpoint `sign` makes of the new size.
    pub(super) fn grow(
        &self,
        tree: &mut TreeBuilder,
        sign: &CheckpointSigner,
    ) -> Result<(Vec<(i64, String)>, String), StoreError> {
        let nodes = self
            .entries
            .iter()
            .flat_map(|entry| tree.push(entry.leaf))
            .map(|(subtree, hash)| Ok((super::rows::encode_subtree(subtree)?, hex::encode(hash))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let note = sign(self.size(), tree.root())?;
        Ok((nodes, note))
    }
}

/// What is stored of a read's order, file and session when its batch begins.
pub(super) struct StoredSession {
    /// Until when the order's agreement is in force, if it is agreed (not requested, not
    /// refused or revoked).
    pub(super) agreed_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Downloads of the file spent under the order (its largest delivery sequence).
    pub(super) last_sequence: i64,
    /// Bytes the read's session has carried, if it is open.
    pub(super) session_sent: Option<i64>,
}

impl StoredSession {
    /// Decodes the state read's columns for one read: the order's state and the end of its
    /// agreement, the largest delivery sequence of the file, the session's bytes.
    pub(super) fn decode(
        state: Option<String>,
        until: Option<String>,
        last_sequence: Option<i64>,
        session_sent: Option<i64>,
    ) -> Result<Self, StoreError> {
        let agreed = state.as_deref() == Some(crate::domain::order::OrderState::Agreed.as_str());
        Ok(Self {
            agreed_until: match until {
                Some(until) if agreed => Some(super::rows::decode_time(&until)?),
                _ => None,
            },
            // Sequences from before read sessions that were never receipted are negative.
            last_sequence: last_sequence.unwrap_or(0).max(0),
            session_sent,
        })
    }
}

/// A new read session's delivery row; its receipt is signed once the batch's reads are
/// decided, and kept in the log alone (the row names its log index).
pub(super) struct OpenedSession<'a> {
    /// The order.
    pub(super) order_id: String,
    /// The file's name.
    pub(super) file: String,
    /// The read session.
    pub(super) session: String,
    /// Which download of the file under the order it spends (1, 2, …).
    pub(super) sequence: i64,
    /// Signs the receipt.
    signer: &'a ReceiptBuilder,
    /// The receipt's log index, reserved when the session was decided.
    log_index: u64,
    /// The same, as stored.
    pub(super) stored_index: i64,
    /// When it opened, as stored.
    pub(super) at: String,
    /// Bytes its responses in the batch carry.
    pub(super) bytes_sent: i64,
    /// Its responses in the batch.
    pub(super) responses: i64,
}

/// What a batch adds to a session opened before it.
#[derive(Default)]
pub(super) struct Continued {
    /// Bytes the batch's responses in the session carry.
    pub(super) bytes: i64,
    /// The batch's responses in the session.
    pub(super) responses: i64,
}

/// A session as the batch has left it so far.
enum SessionState {
    /// Opened before the batch, having carried `sent` bytes by now.
    Stored { sent: i64 },
    /// Opened by the batch: the row at this position of [`ReadAdmissions::opened`].
    Opened(usize),
}

/// An (order, file) key.
type FileKey = (String, String);
/// An (order, file, session) key.
type SessionKey = (String, String, String);

/// Decides a batch's reads in order, in memory, as the one-by-one statements would
/// have: a later read of the batch sees what the earlier ones spent and opened.
pub(super) struct ReadAdmissions<'a> {
    /// The log index the next opened session's receipt takes.
    next_index: u64,
    /// Downloads of each file spent so far, where the batch changed them.
    spent: HashMap<FileKey, i64>,
    /// Sessions as the batch has left them.
    sessions: HashMap<SessionKey, SessionState>,
    /// Rows to insert: the sessions the batch opened.
    pub(super) opened: Vec<OpenedSession<'a>>,
    /// Bytes and responses to add to sessions opened before the batch.
    pub(super) continued: HashMap<SessionKey, Continued>,
}

impl<'a> ReadAdmissions<'a> {
    /// Admissions whose receipts go at the end of `log`.
    pub(super) fn new(log: &BatchLog) -> Self {
        Self {
            next_index: log.size(),
            spent: HashMap::new(),
            sessions: HashMap::new(),
            opened: Vec::new(),
            continued: HashMap::new(),
        }
    }

    /// Decides one read given what was `stored` before the batch; a new session's
    /// receipt takes the next log index, to be signed by [`Self::sign_receipts`].
    pub(super) fn decide(
        &mut self,
        read: &SessionRead,
        receipt: &'a ReceiptBuilder,
        stored: StoredSession,
    ) -> Result<SessionAdmission, StoreError> {
        // Decided here, in log order, rather than only when the request was authorized: a
        // revocation or expiry logged before this read stops it, whatever the caller saw.
        if stored.agreed_until.is_none_or(|until| read.at >= until) {
            return Ok(SessionAdmission::OrderInactive);
        }
        let length = super::rows::encode_size(read.length)?;
        // Compared as `sent <= limit - length`: a closed session holds the largest BIGINT.
        let room = super::rows::encode_size(read.session_byte_limit.saturating_sub(read.length))?;
        let file_key = (read.order_id.clone(), read.file.as_str().to_owned());
        let session_key = (file_key.0.clone(), file_key.1.clone(), read.session.as_str().to_owned());
        let state = match self.sessions.get(&session_key) {
            Some(SessionState::Stored { sent }) => Some(*sent),
            Some(SessionState::Opened(row)) => Some(self.opened[*row].bytes_sent),
            None => stored.session_sent,
        };
        if let Some(sent) = state {
            if sent > room {
                return Ok(SessionAdmission::SessionSpent);
            }
            match self.sessions.get(&session_key) {
                Some(SessionState::Opened(row)) => {
                    let row = &mut self.opened[*row];
                    row.bytes_sent += length;
                    row.responses += 1;
                }
                _ => {
                    self.sessions
                        .insert(session_key.clone(), SessionState::Stored { sent: sent + length });
                    let continued = self.continued.entry(session_key).or_default();
                    continued.bytes += length;
                    continued.responses += 1;
                }
            }
            return Ok(SessionAdmission::Continued);
        }
        let spent = *self.spent.get(&file_key).unwrap_or(&stored.last_sequence);
        let sequence = spent + 1;
        if sequence > i64::from(read.max_downloads) {
            return Ok(SessionAdmission::OverLimit);
        }
        let log_index = self.next_index;
        self.next_index += 1;
        self.spent.insert(file_key, sequence);
        self.sessions
            .insert(session_key, SessionState::Opened(self.opened.len()));
        self.opened.push(OpenedSession {
            order_id: read.order_id.clone(),
            file: read.file.as_str().to_owned(),
            session: read.session.as_str().to_owned(),
            sequence,
            signer: receipt,
            log_index,
            stored_index: super::rows::encode_index(log_index)?,
            at: super::rows::encode_time(read.at),
            bytes_sent: length,
            responses: 1,
        });
        Ok(SessionAdmission::Opened { log_index })
    }

    /// Signs the opened sessions' receipts and appends them to `log` at the indices they
    /// were given. A receipt that cannot be signed fails the batch: the indices after it
    /// are taken.
    pub(super) fn sign_receipts(&self, log: &mut BatchLog) -> Result<(), StoreError> {
        for opened in &self.opened {
            let sequence =
                u32::try_from(opened.sequence).map_err(|_| StoreError::Conflict("too many deliveries".into()))?;
            let document = (opened.signer)(ReceiptFacts {
                log_index: opened.log_index,
                sequence,
            })?;
            let index = log.append(&document, &opened.at);
            if index != opened.log_index {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "receipt for index {} landed at {index}",
                    opened.log_index
                )));
            }
        }
        Ok(())
    }
}

/// The log tree's right edge as this replica's last batch left it, so the next batch
/// grows the tree without reading its edge back. Another replica's batch in between
/// leaves it at an older size, and the edge is then read from the store.
#[derive(Default)]
pub(super) struct RightEdge(std::sync::Mutex<Option<TreeBuilder>>);

impl RightEdge {
    /// The edge of a tree of `size` leaves, if that is the one kept.
    pub(super) fn at(&self, size: u64) -> Option<TreeBuilder> {
        let kept = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.as_ref().filter(|tree| tree.size() == size).cloned()
    }

    /// Keeps the edge of a committed tree.
    pub(super) fn keep(&self, tree: TreeBuilder) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tree);
    }
}

/// Implements [`Store`](super::Store) for a backend type with `pool` and `right_edge` fields,
/// a `begin_write` method and an `integrate_reads_in_place` method that may integrate a
/// batch of reads its own way (SQLite does, on the sequencer's thread).
macro_rules! impl_store_with_shared_sql {
    ($backend:ty, $database:ty, $chaining:expr) => {
        use chrono::{DateTime, Utc};

        use super::rows::{
            ChangeRow, DatasetRow, FileRow, GrantRow, LogRow, ManifestRow, ORDER_COLUMNS, OrderRow, PublisherRow, TokenRow, VersionRow,
            decode_head, decode_index, decode_leaf, decode_subtree, decode_time, encode_index, encode_size, encode_subtree, encode_time, size_from_column, stored_leaves,
        };
        use super::rows::{DemandSearchRow, IndexedRow, PeerSearchRow, peer_search_select, SearchChangeRow};
        use super::rows::{PEER_COLUMNS, PeerRow, REMOTE_DEMAND_COLUMNS, REMOTE_VERSION_COLUMNS, HeldRemoteVersionRow, NEWEST_REMOTE_VERSION, PeerCatalogRow, RemoteDemandRow, RemoteVersionRow, peer_catalog_select};
        use super::rows::{ANSWER_COLUMNS, AnswerRow, DEMAND_COLUMNS, DemandRow};
        use super::{AnswerRecord, BoardWrite, DEMAND_TAKEN, DemandRecord, HarvestedVersion, MAX_ANSWERS, PeerCatalogEntry, PeerContact, RemoteDemandRecord};
        use crate::domain::demand::{DemandKind, DemandState};
        use crate::domain::node::{Peer, RemoteDemand, RemoteVersion};
        use crate::ledger::witness::{Conflict, WitnessedCheckpoint};
        use crate::search::{IndexedItem, SearchChange, SearchDocument, SearchKey};
        use super::{
            CatalogChange, DatasetFilter, DatasetHead, DatasetSummary, DeliveryTally, LogEntry, LoggedCopy, LoggedDocument, ReceiptedDelivery,
            NewOrder, NewVersion, OrderGrant, OrderSummary, OrderTransition, Publisher, Acknowledgement, ReceiptBuilder, SessionAdmission, SessionRead,
            StoredFile, StoredToken, VersionRecord, VersionSummary,
        };
        use crate::domain::order::OrderState;
        use crate::ledger::stored::Subtree;
        use crate::domain::{DatasetId, FileName, PublisherId, ReadSessionId, ResourceName, Sha256Digest, VersionNumber};

        use super::sql::{BatchLog, Chain, OpenedSession, ReadAdmissions, RightEdge, StoredSession};
        use super::{CheckpointSigner, LogWrite, LogWritten, LoggedWrite};

        /// Opens the savepoint one log write of a batch runs in.
        async fn savepoint(tx: &mut sqlx::Transaction<'static, $database>) -> Result<(), StoreError> {
            sqlx::query("SAVEPOINT log_write").execute(&mut **tx).await?;
            Ok(())
        }

        /// Closes the write's savepoint, undoing the write if it failed; the batch goes on.
        async fn settle<T>(
            tx: &mut sqlx::Transaction<'static, $database>,
            result: Result<T, StoreError>,
        ) -> Result<Result<T, StoreError>, StoreError> {
            if result.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT log_write").execute(&mut **tx).await?;
            }
            sqlx::query("RELEASE SAVEPOINT log_write").execute(&mut **tx).await?;
            Ok(result)
        }

        /// Reads stored subtree hashes, in chunks that stay within the bind-parameter limits.
        async fn select_subtrees(
            connection: &mut <$database as sqlx::Database>::Connection,
            subtrees: &[Subtree],
        ) -> Result<std::collections::HashMap<Subtree, [u8; 32]>, StoreError> {
            let mut found = std::collections::HashMap::with_capacity(subtrees.len());
            for chunk in subtrees.chunks(INSERT_CHUNK) {
                let mut select = sqlx::QueryBuilder::<$database>::new("SELECT node, hash FROM log_tree WHERE node IN (");
                let mut list = select.separated(", ");
                for subtree in chunk {
                    list.push_bind(encode_subtree(*subtree)?);
                }
                select.push(")");
                let rows: Vec<(i64, String)> = select.build_query_as().fetch_all(&mut *connection).await?;
                for (node, hash) in rows {
                    found.insert(decode_subtree(node)?, decode_leaf(&hash)?);
                }
            }
            Ok(found)
        }

        /// Stores subtree hashes; one already stored is left as it is.
        async fn insert_subtrees(
            tx: &mut sqlx::Transaction<'static, $database>,
            nodes: &[(Subtree, [u8; 32])],
        ) -> Result<(), StoreError> {
            for chunk in nodes.chunks(INSERT_CHUNK) {
                let mut insert = sqlx::QueryBuilder::<$database>::new("INSERT INTO log_tree (node, hash) ");
                let mut rows = Vec::with_capacity(chunk.len());
                for (subtree, hash) in chunk {
                    rows.push((encode_subtree(*subtree)?, hex::encode(hash)));
                }
                insert.push_values(&rows, |mut row, (node, hash)| {
                    row.push_bind(*node).push_bind(hash.as_str());
                });
                insert.push(" ON CONFLICT (node) DO NOTHING");
                insert.build().execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Writes the delivery rows of the sessions a batch opened, its entries, the log's
        /// new size, the subtrees they complete and the checkpoint of the new size. Runs under
        /// the log head's lock, taken by the batch.
        async fn write_log(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &BatchLog,
            opened: &[OpenedSession<'_>],
            edge: &RightEdge,
            sign: &CheckpointSigner,
        ) -> Result<Option<crate::ledger::stored::TreeBuilder>, StoreError> {
            if log.entries.is_empty() {
                return Ok(None);
            }
            let size = log.size();
            let mut tree = match edge.at(log.base) {
                Some(tree) => tree,
                None => read_right_edge(tx, log.base).await?,
            };
            let (nodes, note) = log.grow(&mut tree, sign)?;
            let mut entries = Vec::with_capacity(log.entries.len());
            for entry in &log.entries {
                entries.push((encode_index(entry.index)?, entry, hex::encode(entry.leaf)));
            }
            // One round trip for the five writes: a batch holds at most 2 × MAX_BATCH entries
            // (an order and its agreement each) and MAX_BATCH opened sessions, well under
            // either backend's bind limit.
            let mut chain =
                Chain::<$database>::new($chaining, 3 + usize::from(!nodes.is_empty()) + usize::from(!opened.is_empty()));
            if !opened.is_empty() {
                chain.statement().push(
                    "INSERT INTO deliveries (order_id, file_name, sequence, delivered_ranges, log_index, \
                     started_at, completed_at, session, bytes_sent, responses) ",
                );
                chain.builder().push_values(opened, |mut row, opened| {
                    row.push_bind(opened.order_id.as_str())
                        .push_bind(opened.file.as_str())
                        .push_bind(opened.sequence)
                        .push_bind("[]")
                        .push_bind(opened.stored_index)
                        .push_bind(opened.at.as_str())
                        .push_bind(opened.at.as_str())
                        .push_bind(opened.session.as_str())
                        .push_bind(opened.bytes_sent)
                        .push_bind(opened.responses);
                });
            }
            chain.statement().push("INSERT INTO log_entries (idx, kind, entry, leaf_sha256, created_at) ");
            chain.builder().push_values(&entries, |mut row, (index, entry, leaf)| {
                row.push_bind(*index)
                    .push_bind(entry.kind.as_str())
                    .push_bind(entry.text.as_str())
                    .push_bind(leaf.as_str())
                    .push_bind(entry.at.as_str());
            });
            chain
                .statement()
                .push("UPDATE log_head SET size = ")
                .push_bind(encode_index(size)?)
                .push(" WHERE id = 1");
            if !nodes.is_empty() {
                chain.statement().push("INSERT INTO log_tree (node, hash) ");
                chain.builder().push_values(&nodes, |mut row, (node, hash)| {
                    row.push_bind(*node).push_bind(hash.as_str());
                });
                chain.builder().push(" ON CONFLICT (node) DO NOTHING");
            }
            chain
                .statement()
                .push("INSERT INTO checkpoints (size, note, signed_at) VALUES (")
                .push_bind(encode_index(size)?)
                .push(", ")
                .push_bind(note)
                .push(", ")
                .push_bind(encode_time(Utc::now()))
                .push(") ON CONFLICT (size) DO NOTHING");
            chain.builder().build().execute(&mut **tx).await?;
            Ok(Some(tree))
        }

        /// The stored right edge of a tree of `size` leaves, to grow it from.
        async fn read_right_edge(
            tx: &mut sqlx::Transaction<'static, $database>,
            size: u64,
        ) -> Result<crate::ledger::stored::TreeBuilder, StoreError> {
            let parts = crate::ledger::stored::parts(0..size);
            let found = select_subtrees(&mut **tx, &parts).await?;
            let frontier = parts
                .iter()
                .map(|part| found.get(part).copied())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("the stored log tree lacks part of its right edge")))?;
            crate::ledger::stored::TreeBuilder::resume(size, frontier)
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("the log tree's right edge does not fit its size")))
        }

        /// A version's rows, written before the batch takes the log's lock: the dataset,
        /// the version (its log index follows in [`log_version`]), files, keywords, terms.
        async fn prepare_version(
            tx: &mut sqlx::Transaction<'static, $database>,
            new: &NewVersion,
        ) -> Result<(), StoreError> {
            let version = i64::from(new.version.get());
            let published_at = encode_time(new.published_at);
            let metadata = serde_json::to_string(&new.metadata).map_err(anyhow::Error::from)?;
            let access = new.metadata.access.as_str();
            let current: Option<(String, i64)> =
                sqlx::query_as("SELECT publisher_id, latest_version FROM datasets WHERE id = $1")
                    .bind(new.dataset.as_str())
                    .fetch_optional(&mut **tx)
                    .await?;
            match current {
                None if new.version == VersionNumber::FIRST => {
                    sqlx::query(
                        "INSERT INTO datasets (id, publisher_id, access, latest_version, metadata, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    )
                    .bind(new.dataset.as_str())
                    .bind(new.publisher.as_str())
                    .bind(access)
                    .bind(version)
                    .bind(&metadata)
                    .bind(&published_at)
                    .execute(&mut **tx)
                    .await?;
                }
                Some((owner, latest)) if owner == new.publisher.as_str() && latest + 1 == version => {
                    let updated = sqlx::query(
                        "UPDATE datasets SET access = $2, latest_version = $3, metadata = $4, updated_at = $5 \
                         WHERE id = $1 AND latest_version = $6",
                    )
                    .bind(new.dataset.as_str())
                    .bind(access)
                    .bind(version)
                    .bind(&metadata)
                    .bind(&published_at)
                    .bind(latest)
                    .execute(&mut **tx)
                    .await?;
                    if updated.rows_affected() != 1 {
                        return Err(StoreError::Conflict("another version was published first".into()));
                    }
                }
                _ => return Err(StoreError::Conflict("the dataset changed while publishing".into())),
            }
            sqlx::query(
                "INSERT INTO versions (dataset_id, version, access, content_sha256, manifest, manifest_sha256, published_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new.dataset.as_str())
            .bind(version)
            .bind(access)
            .bind(new.content.to_string())
            .bind(&new.manifest)
            .bind(new.manifest_digest.to_string())
            .bind(&published_at)
            .execute(&mut **tx)
            .await?;
            for chunk in new.files.chunks(INSERT_CHUNK) {
                let mut rows = Vec::with_capacity(chunk.len());
                for file in chunk {
                    rows.push((file, encode_size(file.size)?));
                }
                let mut insert = sqlx::QueryBuilder::<$database>::new(
                    "INSERT INTO version_files (dataset_id, version, name, media_type, size_bytes, sha256, derived_from, resource) ",
                );
                insert.push_values(&rows, |mut row, (file, size)| {
                    row.push_bind(new.dataset.as_str())
                        .push_bind(version)
                        .push_bind(file.name.as_str())
                        .push_bind(file.media_type.as_str())
                        .push_bind(*size)
                        .push_bind(file.sha256.to_string())
                        .push_bind(file.derived_from.as_ref().map(FileName::as_str))
                        .push_bind(file.resource.as_ref().map(ResourceName::as_str));
                });
                insert.build().execute(&mut **tx).await?;
            }
            sqlx::query("DELETE FROM dataset_keywords WHERE dataset_id = $1")
                .bind(new.dataset.as_str())
                .execute(&mut **tx)
                .await?;
            for chunk in new.metadata.keywords.chunks(INSERT_CHUNK) {
                let mut insert = sqlx::QueryBuilder::<$database>::new("INSERT INTO dataset_keywords (dataset_id, keyword) ");
                insert.push_values(chunk, |mut row, keyword| {
                    row.push_bind(new.dataset.as_str()).push_bind(keyword.as_str());
                });
                insert.build().execute(&mut **tx).await?;
            }
            sqlx::query("UPDATE datasets SET search_document = $2 WHERE id = $1")
                .bind(new.dataset.as_str())
                .bind(serde_json::to_string(&new.search).map_err(anyhow::Error::from)?)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        /// Logs a prepared version's manifest and feeds it to search; returns what [`LogWritten::Published`] tells.
        async fn log_version(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            new: &NewVersion,
        ) -> Result<LogWritten, StoreError> {
            let manifest = LoggedDocument {
                kind: crate::domain::EntryKind::Manifest,
                text: new.manifest.clone(),
                leaf: new.log_leaf,
            };
            let log_index = log.append(&manifest, &encode_time(new.published_at));
            sqlx::query("UPDATE versions SET log_index = $3 WHERE dataset_id = $1 AND version = $2")
                .bind(new.dataset.as_str())
                .bind(i64::from(new.version.get()))
                .bind(encode_index(log_index)?)
                .execute(&mut **tx)
                .await?;
            // Under the log's lock, so a batch's search sequences follow the log's order.
            let search_sequence = feed_search_changes(tx, &[SearchKey::Dataset(new.dataset.clone())]).await?;
            Ok(LogWritten::Published { log_index, search_sequence })
        }

        /// Records an order and logs it (and its agreement).
        async fn record_order(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            order: &NewOrder,
        ) -> Result<(), StoreError> {
            let created_at = encode_time(order.created_at);
            sqlx::query(
                "INSERT INTO orders (id, buyer, nonce, dataset_id, version, order_doc, order_sha256, state, agreement, \
                 valid_until, max_downloads, token_id, token_sha256, created_at, demand_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            )
            .bind(&order.id)
            .bind(&order.buyer)
            .bind(&order.nonce)
            .bind(order.dataset.as_str())
            .bind(i64::from(order.version.get()))
            .bind(&order.order.text)
            .bind(order.order_digest.to_string())
            .bind(order.state.as_str())
            .bind(order.agreement.as_ref().map(|agreement| agreement.text.as_str()))
            .bind(order.valid_until.map(encode_time))
            .bind(i64::from(order.max_downloads))
            .bind(&order.token_id)
            .bind(order.token_secret_sha256.to_string())
            .bind(&created_at)
            .bind(order.demand.as_deref())
            .execute(&mut **tx)
            .await?;
            if let Some(demand) = &order.demand {
                let taken = sqlx::query("UPDATE demands SET state = $2 WHERE id = $1 AND state = $3")
                    .bind(demand)
                    .bind(DemandState::Fulfilled.as_str())
                    .bind(DemandState::Awarded.as_str())
                    .execute(&mut **tx)
                    .await?;
                if taken.rows_affected() != 1 {
                    return Err(StoreError::Conflict(DEMAND_TAKEN.into()));
                }
            }
            for document in std::iter::once(&order.order).chain(order.agreement.as_ref()) {
                log.append(document, &created_at);
            }
            Ok(())
        }

        /// Writes to the demand board (see [`BoardWrite`]) and logs the signed document.
        async fn record_board(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            write: &BoardWrite,
        ) -> Result<(), StoreError> {
            let open = [DemandState::Open.as_str(), DemandState::Answered.as_str()];
            let (document, at) = match write {
                BoardWrite::Post(demand) => {
                    let created_at = encode_time(demand.created_at);
                    sqlx::query(
                        "INSERT INTO demands (id, kind, poster, nonce, document, state, budget_fen, deadline, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&demand.id)
                    .bind(demand.kind.as_str())
                    .bind(&demand.poster)
                    .bind(&demand.nonce)
                    .bind(&demand.document.text)
                    .bind(DemandState::Open.as_str())
                    .bind(encode_size(demand.budget_fen)?)
                    .bind(encode_time(demand.deadline))
                    .bind(&created_at)
                    .execute(&mut **tx)
                    .await?;
                    feed_search_changes(tx, &[SearchKey::Demand(demand.id.clone())]).await?;
                    (&demand.document, created_at)
                }
                BoardWrite::Answer(answer) => {
                    let answered = sqlx::query(
                        "UPDATE demands SET state = $2 WHERE id = $1 AND state IN ($3, $4) \
                         AND (SELECT COUNT(*) FROM demand_answers WHERE demand_id = $1) < $5",
                    )
                    .bind(&answer.demand_id)
                    .bind(DemandState::Answered.as_str())
                    .bind(open[0])
                    .bind(open[1])
                    .bind(encode_size(MAX_ANSWERS)?)
                    .execute(&mut **tx)
                    .await?;
                    if answered.rows_affected() != 1 {
                        return Err(StoreError::Conflict(format!(
                            "the demand takes no more answers (closed, or {MAX_ANSWERS} already)"
                        )));
                    }
                    let created_at = encode_time(answer.created_at);
                    sqlx::query(
                        "INSERT INTO demand_answers (id, demand_id, provider, nonce, publisher_id, dataset_id, version, \
                         price_fen, document, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&answer.id)
                    .bind(&answer.demand_id)
                    .bind(&answer.provider)
                    .bind(&answer.nonce)
                    .bind(answer.publisher.as_str())
                    .bind(answer.dataset.as_str())
                    .bind(answer.version.map(|version| i64::from(version.get())))
                    .bind(encode_size(answer.price_fen)?)
                    .bind(&answer.document.text)
                    .bind(&created_at)
                    .execute(&mut **tx)
                    .await?;
                    (&answer.document, created_at)
                }
                BoardWrite::Decide(decision) => {
                    let decided = sqlx::query(
                        "UPDATE demands SET state = $2, accepted_answer = $3 WHERE id = $1 AND state IN ($4, $5)",
                    )
                    .bind(&decision.demand_id)
                    .bind(decision.to.as_str())
                    .bind(decision.accepted_answer.as_deref())
                    .bind(open[0])
                    .bind(open[1])
                    .execute(&mut **tx)
                    .await?;
                    if decided.rows_affected() != 1 {
                        return Err(StoreError::Conflict("the demand is no longer open".into()));
                    }
                    (&decision.document, encode_time(decision.at))
                }
            };
            log.append(document, &at);
            Ok(())
        }

        /// Moves an order between states and logs the document that says so.
        async fn change_order(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            transition: &OrderTransition,
        ) -> Result<(), StoreError> {
            let at = encode_time(transition.at);
            let agreement = (transition.to == OrderState::Agreed).then_some(transition.document.text.as_str());
            let updated = sqlx::query(
                "UPDATE orders SET state = $3, agreement = COALESCE($4, agreement), \
                 valid_until = COALESCE($5, valid_until) WHERE id = $1 AND state = $2",
            )
            .bind(&transition.order_id)
            .bind(transition.from.as_str())
            .bind(transition.to.as_str())
            .bind(agreement)
            .bind(transition.valid_until.map(encode_time))
            .execute(&mut **tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!("the order is not {}", transition.from.as_str())));
            }
            log.append(&transition.document, &at);
            Ok(())
        }

        /// Admits a batch's reads together (see [`LogWrite::Read`]): one statement reads
        /// what is stored of their orders' files and sessions, [`ReadAdmissions`] decides
        /// each in batch order, then one statement per continued session adds its bytes.
        /// Returns the decisions and the sessions opened, whose delivery rows go in with the
        /// log's own writes ([`write_log`]). No savepoint: nothing is written until every read
        /// is decided, and a statement that fails fails the batch, whose writes the sequencer
        /// then integrates one by one.
        async fn admit_reads<'r>(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            reads: &[(&SessionRead, &'r ReceiptBuilder)],
        ) -> Result<(Vec<Result<SessionAdmission, StoreError>>, Vec<OpenedSession<'r>>), StoreError> {
            let mut stored = Vec::with_capacity(reads.len());
            for chunk in reads.chunks(INSERT_CHUNK / 5) {
                let mut select = sqlx::QueryBuilder::<$database>::new("");
                for (position, (read, _)) in chunk.iter().enumerate() {
                    if position > 0 {
                        select.push(" UNION ALL ");
                    }
                    // Receipted deliveries hold sequences 1, 2, … (those from before read
                    // sessions that were never receipted hold negative ones), so the largest
                    // is the number spent; MAX over the key's primary-key range is one seek.
                    // The order is joined to a one-row table, so a read of an unknown order
                    // still answers its row (with no state): one seek of the order's row.
                    select
                        .push(format!(
                            "SELECT CAST({position} AS BIGINT), o.state, o.valid_until, \
                             (SELECT MAX(sequence) FROM deliveries WHERE order_id = "
                        ))
                        .push_bind(read.order_id.as_str())
                        .push(" AND file_name = ")
                        .push_bind(read.file.as_str())
                        .push("), (SELECT bytes_sent FROM deliveries WHERE order_id = ")
                        .push_bind(read.order_id.as_str())
                        .push(" AND file_name = ")
                        .push_bind(read.file.as_str())
                        .push(" AND session = ")
                        .push_bind(read.session.as_str())
                        .push(" AND log_index IS NOT NULL) FROM (SELECT 1 AS one) AS read_row LEFT JOIN orders o ON o.id = ")
                        .push_bind(read.order_id.as_str());
                }
                type Row = (i64, Option<String>, Option<String>, Option<i64>, Option<i64>);
                let mut rows: Vec<Row> = select.build_query_as().fetch_all(&mut **tx).await?;
                rows.sort_unstable_by_key(|(position, ..)| *position);
                for (_, state, until, last, sent) in rows {
                    stored.push(StoredSession::decode(state, until, last, sent)?);
                }
            }
            if stored.len() != reads.len() {
                return Err(StoreError::Other(anyhow::anyhow!("read {} session states for {} reads", stored.len(), reads.len())));
            }
            let mut admissions = ReadAdmissions::new(log);
            let decided: Vec<_> = reads
                .iter()
                .zip(stored)
                .map(|((read, receipt), stored)| admissions.decide(read, *receipt, stored))
                .collect();
            admissions.sign_receipts(log)?;
            for ((order_id, file, session), added) in &admissions.continued {
                sqlx::query(
                    "UPDATE deliveries SET bytes_sent = bytes_sent + $4, responses = responses + $5 \
                     WHERE order_id = $1 AND file_name = $2 AND session = $3 AND log_index IS NOT NULL",
                )
                .bind(order_id)
                .bind(file)
                .bind(session)
                .bind(added.bytes)
                .bind(added.responses)
                .execute(&mut **tx)
                .await?;
            }
            Ok((decided, admissions.opened))
        }

        /// Logs an acknowledgement unless its receipt was acknowledged before.
        async fn acknowledge(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            order_id: &str,
            receipt: &Sha256Digest,
            document: &LoggedDocument,
            at: DateTime<Utc>,
        ) -> Result<Acknowledgement, StoreError> {
            let earlier: Option<i64> = sqlx::query_scalar(
                "SELECT log_index FROM acknowledgements WHERE order_id = $1 AND receipt_sha256 = $2",
            )
            .bind(order_id)
            .bind(receipt.to_string())
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(index) = earlier {
                return Ok(Acknowledgement::Earlier { log_index: decode_index(index)? });
            }
            let at = encode_time(at);
            let index = log.append(document, &at);
            // An acknowledgement of the same receipt in a concurrent batch conflicts here; its
            // retry finds it.
            sqlx::query(
                "INSERT INTO acknowledgements (order_id, receipt_sha256, log_index, acknowledged_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(order_id)
            .bind(receipt.to_string())
            .bind(encode_index(index)?)
            .bind(&at)
            .execute(&mut **tx)
            .await?;
            Ok(Acknowledgement::Logged { log_index: index })
        }

        /// Runs one write of a batch (other than a read) under the log's lock.
        async fn integrate_one(
            tx: &mut sqlx::Transaction<'static, $database>,
            log: &mut BatchLog,
            write: &LoggedWrite,
        ) -> Result<LogWritten, StoreError> {
            match write {
                LoggedWrite::Publish(new) => log_version(tx, log, new).await,
                LoggedWrite::Order(order) => record_order(tx, log, order).await.map(|()| LogWritten::Ordered),
                LoggedWrite::Transition(transition) => {
                    change_order(tx, log, transition).await.map(|()| LogWritten::Transitioned)
                }
                LoggedWrite::Board(write) => record_board(tx, log, write).await.map(|()| LogWritten::Boarded),
                LoggedWrite::Acknowledge { order_id, receipt, document, at } => {
                    acknowledge(tx, log, order_id, receipt, document, *at).await.map(LogWritten::Acknowledged)
                }
            }
        }

        /// Rows per multi-row INSERT: well under both backends' bind-parameter limits.
        const INSERT_CHUNK: usize = 500;

        /// Hands out `count` sequences of the search feed inside `tx`, returning the first.
        ///
        /// The feed's row stays locked until `tx` ends, so feed entries commit in sequence
        /// order and a reader that has seen one has seen every earlier one.
        async fn take_search_sequences(
            tx: &mut sqlx::Transaction<'static, $database>,
            count: usize,
        ) -> Result<u64, StoreError> {
            let count = i64::try_from(count).map_err(anyhow::Error::from)?;
            let head: i64 = sqlx::query_scalar("UPDATE search_feed SET head = head + $1 WHERE id = 1 RETURNING head")
                .bind(count)
                .fetch_one(&mut **tx)
                .await?;
            decode_index(head - count + 1)
        }

        /// Records that items (datasets, demands) changed as search sees them, in the feed
        /// every replica's index follows.
        async fn feed_search_changes(
            tx: &mut sqlx::Transaction<'static, $database>,
            items: &[SearchKey],
        ) -> Result<u64, StoreError> {
            let first = take_search_sequences(tx, items.len()).await?;
            if let Some(notice) = <$backend>::FEED_NOTICE {
                sqlx::query(notice).execute(&mut **tx).await?;
            }
            // Each change carries its dataset whole: the new one makes the earlier ones
            // redundant, and the feed stays as long as the catalog, not its history.
            let ids: Vec<String> = items.iter().map(|key| key.text().into_owned()).collect();
            for chunk in ids.chunks(INSERT_CHUNK) {
                let mut delete = sqlx::QueryBuilder::<$database>::new("DELETE FROM search_changes WHERE dataset_id IN (");
                push_list(&mut delete, chunk);
                delete.push(")");
                delete.build().execute(&mut **tx).await?;
            }
            for (offset, chunk) in ids.chunks(INSERT_CHUNK).enumerate() {
                let mut rows = Vec::with_capacity(chunk.len());
                for (index, key) in chunk.iter().enumerate() {
                    rows.push((encode_index(first + (offset * INSERT_CHUNK + index) as u64)?, key.as_str()));
                }
                let mut insert = sqlx::QueryBuilder::<$database>::new("INSERT INTO search_changes (sequence, dataset_id) ");
                insert.push_values(&rows, |mut row, (sequence, dataset)| {
                    row.push_bind(*sequence).push_bind(*dataset);
                });
                insert.build().execute(&mut **tx).await?;
            }
            Ok(first + items.len() as u64 - 1)
        }

        /// Pushes a condition on `remote_versions r` that holds for these (peer URL, dataset) pairs.
        fn push_peer_datasets<'q>(sql: &mut sqlx::QueryBuilder<'q, $database>, held: &'q [(String, impl ToString)]) {
            sql.push("(");
            for (index, (url, dataset)) in held.iter().enumerate() {
                if index > 0 {
                    sql.push(" OR ");
                }
                sql.push("(r.peer_url = ").push_bind(url.as_str()).push(" AND r.dataset_id = ").push_bind(dataset.to_string()).push(")");
            }
            sql.push(")");
        }

        /// One keyset page of `select` (over `remote_versions r`, ending in a `WHERE`
        /// condition): the rows after `after` in (peer URL, dataset) order.
        async fn peer_page<R>(
            pool: &sqlx::Pool<$database>,
            select: &str,
            after: Option<(&str, &DatasetId)>,
            limit: u32,
        ) -> Result<Vec<R>, StoreError>
        where
            R: for<'r> sqlx::FromRow<'r, <$database as sqlx::Database>::Row> + Send + Unpin,
        {
            let (url, dataset) = after.map_or(("", ""), |(url, dataset)| (url, dataset.as_str()));
            Ok(sqlx::query_as::<_, R>(&format!(
                "{select} AND (r.peer_url > $1 OR (r.peer_url = $1 AND r.dataset_id > $2)) \
                 ORDER BY r.peer_url, r.dataset_id LIMIT $3"
            ))
            .bind(url)
            .bind(dataset)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?)
        }

        /// Pushes a comma-separated list of bound texts.
        fn push_list<'q>(sql: &mut sqlx::QueryBuilder<'q, $database>, items: &'q [String]) {
            let mut list = sql.separated(", ");
            for item in items {
                list.push_bind(item.as_str());
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $backend {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn create_publisher(&self, publisher: &Publisher, token: &StoredToken) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let created_at = encode_time(publisher.created_at);
                sqlx::query("INSERT INTO publishers (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(publisher.id.as_str())
                    .bind(&publisher.name)
                    .bind(&created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO publisher_tokens (id, publisher_id, secret_sha256, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&token.id)
                .bind(token.publisher.as_str())
                .bind(token.secret_sha256.to_string())
                .bind(&created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn publishers(&self) -> Result<Vec<Publisher>, StoreError> {
                sqlx::query_as::<_, PublisherRow>("SELECT id, name, created_at FROM publishers ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(PublisherRow::decode)
                    .collect()
            }

            async fn publisher(&self, id: &PublisherId) -> Result<Publisher, StoreError> {
                sqlx::query_as::<_, PublisherRow>("SELECT id, name, created_at FROM publishers WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_one(&self.pool)
                    .await?
                    .decode()
            }

            async fn find_token(&self, token_id: &str) -> Result<Option<StoredToken>, StoreError> {
                sqlx::query_as::<_, TokenRow>("SELECT id, publisher_id, secret_sha256 FROM publisher_tokens WHERE id = $1")
                    .bind(token_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(TokenRow::decode)
                    .transpose()
            }

            async fn record_blob(
                &self,
                digest: &Sha256Digest,
                size: u64,
                holder: Option<&PublisherId>,
                at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO blobs (sha256, size_bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(digest.to_string())
                .bind(encode_size(size)?)
                .bind(encode_time(at))
                .execute(&mut *tx)
                .await?;
                if let Some(holder) = holder {
                    sqlx::query(
                        "INSERT INTO blob_holders (publisher_id, sha256, proven_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (publisher_id, sha256) DO NOTHING",
                    )
                    .bind(holder.as_str())
                    .bind(digest.to_string())
                    .bind(encode_time(at))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn blob_size(&self, digest: &Sha256Digest) -> Result<Option<u64>, StoreError> {
                sqlx::query_scalar::<_, i64>("SELECT size_bytes FROM blobs WHERE sha256 = $1")
                    .bind(digest.to_string())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(size_from_column)
                    .transpose()
            }

            async fn held_blob_size(&self, digest: &Sha256Digest, holder: &PublisherId) -> Result<Option<u64>, StoreError> {
                sqlx::query_scalar::<_, i64>(
                    "SELECT b.size_bytes FROM blobs b JOIN blob_holders h ON h.sha256 = b.sha256 \
                     WHERE b.sha256 = $1 AND h.publisher_id = $2",
                )
                .bind(digest.to_string())
                .bind(holder.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(size_from_column)
                .transpose()
            }

            async fn forget_blob_if_unreferenced(&self, digest: &Sha256Digest) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "DELETE FROM blob_holders WHERE sha256 = $1 \
                     AND NOT EXISTS (SELECT 1 FROM version_files WHERE sha256 = $1)",
                )
                .bind(digest.to_string())
                .execute(&mut *tx)
                .await?;
                let deleted = sqlx::query(
                    "DELETE FROM blobs WHERE sha256 = $1 \
                     AND NOT EXISTS (SELECT 1 FROM version_files WHERE sha256 = $1)",
                )
                .bind(digest.to_string())
                .execute(&mut *tx)
                .await;
                match deleted.map_err(StoreError::from) {
                    // A version committed concurrently took a reference: keep the blob.
                    Err(StoreError::Conflict(_)) => return Ok(false),
                    Err(other) => return Err(other),
                    Ok(_) => {}
                }
                let references: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM version_files WHERE sha256 = $1")
                    .bind(digest.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(references == 0)
            }

            async fn dataset_head(&self, dataset: &DatasetId) -> Result<Option<DatasetHead>, StoreError> {
                let row: Option<(String, i64, String)> = sqlx::query_as(
                    "SELECT d.publisher_id, d.latest_version, v.content_sha256 FROM datasets d \
                     JOIN versions v ON v.dataset_id = d.id AND v.version = d.latest_version WHERE d.id = $1",
                )
                .bind(dataset.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(publisher, latest, content)| decode_head(&publisher, latest, &content))
                    .transpose()
            }

            async fn find_order_grant(&self, token_id: &str) -> Result<Option<OrderGrant>, StoreError> {
                sqlx::query_as::<_, GrantRow>(
                    "SELECT id, buyer, dataset_id, version, state, valid_until, max_downloads, token_sha256, order_sha256, \
                     demand_id FROM orders WHERE token_id = $1",
                )
                .bind(token_id)
                .fetch_optional(&self.pool)
                .await?
                .map(GrantRow::decode)
                .transpose()
            }

            async fn get_order(&self, order_id: &str) -> Result<OrderSummary, StoreError> {
                sqlx::query_as::<_, OrderRow>(&format!(
                    "SELECT {ORDER_COLUMNS} FROM orders o JOIN datasets d ON d.id = o.dataset_id WHERE o.id = $1"
                ))
                .bind(order_id)
                .fetch_one(&self.pool)
                .await?
                .decode()
            }

            async fn publisher_orders(&self, publisher: &PublisherId) -> Result<Vec<OrderSummary>, StoreError> {
                sqlx::query_as::<_, OrderRow>(&format!(
                    "SELECT {ORDER_COLUMNS} FROM orders o JOIN datasets d ON d.id = o.dataset_id \
                     WHERE d.publisher_id = $1 ORDER BY o.created_at DESC, o.id"
                ))
                .bind(publisher.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OrderRow::decode)
                .collect()
            }

            async fn delivery_tally(
                &self,
                order_id: &str,
                file: &FileName,
                session: &ReadSessionId,
            ) -> Result<DeliveryTally, StoreError> {
                // One seek each, however many downloads the order has had: the largest
                // sequence is the number spent (see `admit_reads`), and the session's
                // receipt is found by its unique index.
                let (completed, in_session): (Option<i64>, i64) = sqlx::query_as(
                    "SELECT MAX(sequence), (SELECT COUNT(*) FROM deliveries WHERE order_id = $1 AND file_name = $2 \
                     AND session = $3 AND log_index IS NOT NULL) FROM deliveries WHERE order_id = $1 AND file_name = $2",
                )
                .bind(order_id)
                .bind(file.as_str())
                .bind(session.as_str())
                .fetch_one(&self.pool)
                .await?;
                let completed = completed.unwrap_or(0).max(0);
                Ok(DeliveryTally {
                    completed: u32::try_from(completed)
                        .map_err(|_| StoreError::Other(anyhow::anyhow!("delivery count {completed} out of range")))?,
                    in_session: in_session > 0,
                })
            }

            async fn order_receipts(&self, order_id: &str) -> Result<Vec<(u64, String)>, StoreError> {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT d.log_index, l.entry FROM deliveries d JOIN log_entries l ON l.idx = d.log_index \
                     WHERE d.order_id = $1 AND d.log_index IS NOT NULL ORDER BY d.log_index",
                )
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(|(index, receipt)| Ok((decode_index(index)?, receipt))).collect()
            }

            async fn demands_page(
                &self,
                kind: Option<DemandKind>,
                before: Option<(DateTime<Utc>, String)>,
                limit: u32,
            ) -> Result<Vec<DemandRecord>, StoreError> {
                // One index walk either way: (created_at, id), or (kind, created_at, id).
                let mut query = sqlx::QueryBuilder::<$database>::new(format!("SELECT {DEMAND_COLUMNS} FROM demands d WHERE 1 = 1"));
                if let Some(kind) = kind {
                    query.push(" AND d.kind = ").push_bind(kind.as_str());
                }
                if let Some((time, id)) = before {
                    query.push(" AND (d.created_at, d.id) < (").push_bind(encode_time(time)).push(", ").push_bind(id).push(")");
                }
                query.push(" ORDER BY d.created_at DESC, d.id DESC LIMIT ").push_bind(i64::from(limit));
                query
                    .build_query_as::<DemandRow>()
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(DemandRow::decode)
                    .collect()
            }

            async fn get_demand(&self, id: &str) -> Result<DemandRecord, StoreError> {
                sqlx::query_as::<_, DemandRow>(&format!("SELECT {DEMAND_COLUMNS} FROM demands d WHERE d.id = $1"))
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?
                    .decode()
            }

            async fn demand_answers(&self, demand_id: &str) -> Result<Vec<AnswerRecord>, StoreError> {
                sqlx::query_as::<_, AnswerRow>(&format!(
                    "SELECT {ANSWER_COLUMNS} FROM demand_answers WHERE demand_id = $1 ORDER BY created_at, id LIMIT $2"
                ))
                .bind(demand_id)
                .bind(encode_size(MAX_ANSWERS)?)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(AnswerRow::decode)
                .collect()
            }

            async fn get_answer(&self, id: &str) -> Result<AnswerRecord, StoreError> {
                sqlx::query_as::<_, AnswerRow>(&format!("SELECT {ANSWER_COLUMNS} FROM demand_answers WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?
                    .decode()
            }

            async fn integrate(
                &self,
                batch: &[LogWrite],
                sign: &CheckpointSigner,
            ) -> Result<Vec<Result<LogWritten, StoreError>>, StoreError> {
                if let Some(results) = self.integrate_reads_in_place(batch, sign).await? {
                    return Ok(results);
                }
                let mut tx = self.begin_write().await?;
                // A version's many rows go in before the log's lock is taken, so other
                // replicas' batches are not held up behind them.
                let mut prepared = Vec::with_capacity(batch.len());
                for write in batch {
                    prepared.push(match write {
                        LogWrite::Logged(logged) => match logged.as_ref() {
                            LoggedWrite::Publish(new) => {
                                savepoint(&mut tx).await?;
                                let result = prepare_version(&mut tx, new).await;
                                settle(&mut tx, result).await?
                            }
                            _ => Ok(()),
                        },
                        LogWrite::Read { .. } => Ok(()),
                    });
                }
                // Holds the log head's row lock until commit: one batch integrates at a
                // time across replicas, so indices stay dense.
                let size: i64 = sqlx::query_scalar("UPDATE log_head SET size = size WHERE id = 1 RETURNING size")
                    .fetch_one(&mut *tx)
                    .await?;
                let mut log = BatchLog::new(decode_index(size)?);
                let mut results: Vec<Option<Result<LogWritten, StoreError>>> =
                    prepared.into_iter().map(|prepared| prepared.err().map(Err)).collect();
                // Reads are the bulk of a busy log: they are admitted together, in two or
                // three statements for the whole batch rather than several each.
                let reads: Vec<_> = batch
                    .iter()
                    .zip(&results)
                    .filter_map(|(write, result)| match (write, result) {
                        (LogWrite::Read { read, receipt }, None) => Some((read, receipt.as_ref())),
                        _ => None,
                    })
                    .collect();
                let (admitted, opened) = admit_reads(&mut tx, &mut log, &reads).await?;
                let mut admitted = admitted.into_iter();
                for (write, result) in batch.iter().zip(results.iter_mut()) {
                    if result.is_some() {
                        continue;
                    }
                    let write = match write {
                        LogWrite::Read { .. } => {
                            *result = admitted.next().map(|admission| admission.map(LogWritten::Read));
                            continue;
                        }
                        LogWrite::Logged(write) => write.as_ref(),
                    };
                    let kept = log.entries.len();
                    savepoint(&mut tx).await?;
                    let outcome = integrate_one(&mut tx, &mut log, write).await;
                    if outcome.is_err() {
                        log.truncate(kept);
                    }
                    let outcome = settle(&mut tx, outcome).await?;
                    if let (LoggedWrite::Publish(_), Err(error)) = (write, &outcome) {
                        // Its rows went in before its savepoint: only the whole batch undoes them.
                        return Err(StoreError::Other(anyhow::anyhow!("logging a prepared version failed: {error}")));
                    }
                    *result = Some(outcome);
                }
                let results = results
                    .into_iter()
                    .map(|result| result.unwrap_or_else(|| Err(StoreError::Other(anyhow::anyhow!("a write went unanswered")))))
                    .collect();
                let grown = write_log(&mut tx, &log, &opened, &self.right_edge, sign).await?;
                tx.commit().await?;
                if let Some(tree) = grown {
                    self.right_edge.keep(tree);
                }
                Ok(results)
            }

            async fn record_refusal(
                &self,
                order_id: &str,
                file: &FileName,
                reason: &str,
                at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO access_refusals (order_id, file_name, reason, refused_at) VALUES ($1, $2, $3, $4)")
                    .bind(order_id)
                    .bind(file.as_str())
                    .bind(reason)
                    .bind(encode_time(at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn logged_copies(&self, start: u64, end: u64) -> Result<Vec<LoggedCopy>, StoreError> {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT log_index, manifest FROM versions WHERE log_index >= $1 AND log_index < $2",
                )
                .bind(encode_index(start)?)
                .bind(encode_index(end)?)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(index, text)| {
                        Ok(LoggedCopy {
                            log_index: decode_index(index)?,
                            text,
                        })
                    })
                    .collect()
            }

            async fn receipted_deliveries(&self, start: u64, end: u64) -> Result<Vec<ReceiptedDelivery>, StoreError> {
                let rows: Vec<(i64, String, String, i64, Option<String>)> = sqlx::query_as(
                    "SELECT log_index, order_id, file_name, sequence, session FROM deliveries \
                     WHERE log_index >= $1 AND log_index < $2",
                )
                .bind(encode_index(start)?)
                .bind(encode_index(end)?)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(index, order_id, file, sequence, session)| {
                        Ok(ReceiptedDelivery {
                            log_index: decode_index(index)?,
                            order_id,
                            file,
                            sequence,
                            session,
                        })
                    })
                    .collect()
            }

            async fn subtree_hashes(&self, subtrees: &[Subtree]) -> Result<std::collections::HashMap<Subtree, [u8; 32]>, StoreError> {
                let mut connection = self.pool.acquire().await?;
                select_subtrees(&mut connection, subtrees).await
            }

            async fn stored_tree_size(&self) -> Result<u64, StoreError> {
                let last: Option<i64> = sqlx::query_scalar("SELECT MAX(node) FROM log_tree")
                    .fetch_one(&self.pool)
                    .await?;
                last.map_or(Ok(0), stored_leaves)
            }

            async fn store_subtrees(&self, nodes: &[(Subtree, [u8; 32])]) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                // Batches queue behind the log head while a converted log's tree is written.
                sqlx::query("UPDATE log_head SET size = size WHERE id = 1").execute(&mut *tx).await?;
                insert_subtrees(&mut tx, nodes).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn checkpoint_note(&self, size: u64) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT note FROM checkpoints WHERE size = $1")
                    .bind(encode_index(size)?)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn checkpoint_notes(&self, after: u64, limit: u32) -> Result<Vec<(u64, String)>, StoreError> {
                let rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT size, note FROM checkpoints WHERE size > $1 ORDER BY size LIMIT $2")
                        .bind(encode_index(after)?)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(|(size, note)| Ok((decode_index(size)?, note))).collect()
            }

            async fn record_checkpoint_note(&self, size: u64, note: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("INSERT INTO checkpoints (size, note, signed_at) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING")
                    .bind(encode_index(size)?)
                    .bind(note)
                    .bind(encode_time(at))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn node_identity(&self) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT did FROM node_identity WHERE id = 1")
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn record_node_identity(&self, did: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO node_identity (id, did, recorded_at) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET did = $1, recorded_at = $2",
                )
                .bind(did)
                .bind(encode_time(at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn peer(&self, url: &str) -> Result<Option<Peer>, StoreError> {
                sqlx::query_as::<_, PeerRow>(&format!("SELECT {PEER_COLUMNS} FROM peers WHERE url = $1"))
                    .bind(url)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(Peer::try_from)
                    .transpose()
            }

            async fn peers(&self) -> Result<Vec<Peer>, StoreError> {
                sqlx::query_as::<_, PeerRow>(&format!("SELECT {PEER_COLUMNS} FROM peers ORDER BY url"))
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(Peer::try_from)
                    .collect()
            }

            async fn record_peer_contact(&self, url: &str, contact: &PeerContact, at: DateTime<Utc>) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                match contact {
                    // The DID is written only by the first sighting: a pin is never moved here.
                    PeerContact::Seen { did, name, identifier_prefix } => sqlx::query(
                        "INSERT INTO peers (url, did, name, added_at, last_seen_at, identifier_prefix) \
                         VALUES ($1, $2, $3, $4, $4, $5) \
                         ON CONFLICT (url) DO UPDATE SET name = $3, last_seen_at = $4, identifier_prefix = $5, \
                         last_error = NULL, last_error_at = NULL",
                    )
                    .bind(url)
                    .bind(did)
                    .bind(name)
                    .bind(encode_time(at))
                    .bind(identifier_prefix),
                    PeerContact::Refused(reason) => {
                        sqlx::query("UPDATE peers SET last_error = $2, last_error_at = $3 WHERE url = $1")
                            .bind(url)
                            .bind(reason)
                            .bind(encode_time(at))
                    }
                }
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn remove_peer(&self, url: &str) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                // Its datasets leave the search index with it.
                let held: Vec<String> = sqlx::query_scalar("SELECT DISTINCT dataset_id FROM remote_versions WHERE peer_url = $1")
                    .bind(url)
                    .fetch_all(&mut *tx)
                    .await?;
                let held: Vec<SearchKey> = held
                    .iter()
                    .map(|dataset| Ok(SearchKey::Peer { url: url.to_owned(), dataset: dataset.parse().map_err(anyhow::Error::from)? }))
                    .collect::<Result<_, StoreError>>()?;
                if !held.is_empty() {
                    feed_search_changes(&mut tx, &held).await?;
                }
                for harvested in ["DELETE FROM remote_versions WHERE peer_url = $1", "DELETE FROM remote_demands WHERE peer_url = $1"] {
                    sqlx::query(harvested).bind(url).execute(&mut *tx).await?;
                }
                let removed = sqlx::query("DELETE FROM peers WHERE url = $1")
                    .bind(url)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(removed > 0)
            }

            async fn set_peer_witnesses_us(&self, url: &str, witnesses: bool) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let changed = sqlx::query("UPDATE peers SET witnesses_us = $2 WHERE url = $1")
                    .bind(url)
                    .bind(i64::from(witnesses))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(changed > 0)
            }

            async fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>, StoreError> {
                Ok(sqlx::query_as("SELECT witness, line FROM cosignatures WHERE size = $1 ORDER BY witness")
                    .bind(encode_index(size)?)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn record_cosignature(&self, size: u64, witness: &str, line: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO cosignatures (size, witness, line, cosigned_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (size, witness) DO NOTHING",
                )
                .bind(encode_index(size)?)
                .bind(witness)
                .bind(line)
                .bind(encode_time(at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn cosigned_size(&self, witness: &str) -> Result<Option<u64>, StoreError> {
                let size: Option<i64> = sqlx::query_scalar("SELECT MAX(size) FROM cosignatures WHERE witness = $1")
                    .bind(witness)
                    .fetch_one(&self.pool)
                    .await?;
                size.map(decode_index).transpose()
            }

            async fn witnessed_checkpoint(&self, origin: &str) -> Result<Option<WitnessedCheckpoint>, StoreError> {
                let row: Option<(i64, String, String)> =
                    sqlx::query_as("SELECT size, root, note FROM witnessed_logs WHERE origin = $1")
                        .bind(origin)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(|(size, root, note)| {
                    Ok(WitnessedCheckpoint {
                        size: decode_index(size)?,
                        root: decode_leaf(&root)?,
                        note,
                    })
                })
                .transpose()
            }

            async fn advance_witnessed_checkpoint(
                &self,
                origin: &str,
                old_size: u64,
                latest: &WitnessedCheckpoint,
                at: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                // A first record inserts; a later one updates only the row still at the old size.
                let written = sqlx::query(
                    "INSERT INTO witnessed_logs (origin, size, root, note, updated_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (origin) DO UPDATE SET size = $2, root = $3, note = $4, updated_at = $5 \
                     WHERE witnessed_logs.size = $6",
                )
                .bind(origin)
                .bind(encode_index(latest.size)?)
                .bind(Sha256Digest::from_bytes(latest.root).to_string())
                .bind(&latest.note)
                .bind(encode_time(at))
                .bind(encode_index(old_size)?)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(written > 0)
            }

            async fn record_witness_conflict(&self, conflict: &Conflict) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO witness_conflicts (origin, conflicting, size, accepted, reason, recorded_at) \
                     SELECT $1, $2, $3, $4, $5, $6 \
                     WHERE (SELECT COUNT(*) FROM witness_conflicts WHERE origin = $1) < 100 \
                     ON CONFLICT (origin, conflicting) DO NOTHING",
                )
                .bind(&conflict.origin)
                .bind(&conflict.conflicting)
                .bind(encode_index(conflict.size)?)
                .bind(&conflict.accepted)
                .bind(&conflict.reason)
                .bind(encode_time(conflict.recorded_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn witness_conflicts(&self, limit: u32) -> Result<Vec<Conflict>, StoreError> {
                let rows: Vec<(String, String, i64, String, String, String)> = sqlx::query_as(
                    "SELECT origin, conflicting, size, accepted, reason, recorded_at FROM witness_conflicts \
                     ORDER BY recorded_at DESC, origin LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(origin, conflicting, size, accepted, reason, recorded_at)| {
                        Ok(Conflict {
                            origin,
                            conflicting,
                            size: decode_index(size)?,
                            accepted,
                            reason,
                            recorded_at: decode_time(&recorded_at)?,
                        })
                    })
                    .collect()
            }

            async fn record_remote_demands(&self, url: &str, demands: &[RemoteDemand], at: DateTime<Utc>) -> Result<(), StoreError> {
                if demands.is_empty() {
                    return Ok(());
                }
                let at = encode_time(at);
                let mut tx = self.begin_write().await?;
                for chunk in demands.chunks(INSERT_CHUNK / 4) {
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO remote_demands (peer_url, id, kind, state, document, created_at, harvested_at) ",
                    );
                    insert.push_values(chunk, |mut row, demand| {
                        row.push_bind(url)
                            .push_bind(demand.id.as_str())
                            .push_bind(demand.kind.as_str())
                            .push_bind(demand.state.as_str())
                            .push_bind(demand.document.as_str())
                            .push_bind(encode_time(demand.created_at))
                            .push_bind(at.as_str());
                    });
                    insert.push(
                        " ON CONFLICT (peer_url, id) DO UPDATE SET state = excluded.state, harvested_at = excluded.harvested_at",
                    );
                    insert.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn newest_remote_demand(&self, url: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
                let newest: Option<String> = sqlx::query_scalar("SELECT MAX(created_at) FROM remote_demands WHERE peer_url = $1")
                    .bind(url)
                    .fetch_one(&self.pool)
                    .await?;
                newest.as_deref().map(decode_time).transpose()
            }

            async fn remote_demands(&self, limit: u32) -> Result<Vec<RemoteDemandRecord>, StoreError> {
                sqlx::query_as::<_, RemoteDemandRow>(&format!(
                    "SELECT {REMOTE_DEMAND_COLUMNS} FROM remote_demands r JOIN peers p ON p.url = r.peer_url \
                     ORDER BY r.created_at DESC, r.peer_url, r.id LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(RemoteDemandRow::decode)
                .collect()
            }

            async fn record_harvest(
                &self,
                url: &str,
                versions: &[HarvestedVersion],
                through: Option<u64>,
                at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let at = encode_time(at);
                let mut rows = Vec::with_capacity(versions.len());
                let mut harvested: Vec<SearchKey> = Vec::new();
                for HarvestedVersion { version, search, metadata } in versions {
                    let title = serde_json::to_string(&version.title).map_err(anyhow::Error::from)?;
                    let search = serde_json::to_string(search).map_err(anyhow::Error::from)?;
                    rows.push((version, title, search, metadata, encode_index(version.log_index)?));
                    let key = SearchKey::Peer { url: url.to_owned(), dataset: version.dataset.clone() };
                    if !harvested.contains(&key) {
                        harvested.push(key);
                    }
                }
                let mut tx = self.begin_write().await?;
                for chunk in rows.chunks(INSERT_CHUNK / 2) {
                    let mut insert = sqlx::QueryBuilder::<$database>::new(
                        "INSERT INTO remote_versions (peer_url, dataset_id, version, access, title, manifest_digest, \
                         log_index, published_at, harvested_at, search_document, metadata) ",
                    );
                    insert.push_values(chunk, |mut row, (version, title, search, metadata, log_index)| {
                        row.push_bind(url)
                            .push_bind(version.dataset.as_str())
                            .push_bind(i64::from(version.version.get()))
                            .push_bind(version.access.as_str())
                            .push_bind(title.as_str())
                            .push_bind(version.manifest_digest.prefixed())
                            .push_bind(*log_index)
                            .push_bind(encode_time(version.published_at))
                            .push_bind(at.as_str())
                            .push_bind(search.as_str())
                            .push_bind(metadata.as_str());
                    });
                    insert.push(" ON CONFLICT (peer_url, dataset_id, version) DO NOTHING");
                    insert.build().execute(&mut *tx).await?;
                }
                if !harvested.is_empty() {
                    feed_search_changes(&mut tx, &harvested).await?;
                }
                // Replicas harvest the same peer on their own schedules: the position only
                // moves forward, whichever of them finishes last.
                sqlx::query(
                    "UPDATE peers SET harvested_through = CASE \
                     WHEN harvested_through IS NULL OR $2 > harvested_through THEN $2 ELSE harvested_through END, \
                     last_harvested_at = $3 WHERE url = $1",
                )
                    .bind(url)
                    .bind(through.map(encode_index).transpose()?)
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn newest_remote_versions(&self, limit: u32) -> Result<Vec<(String, RemoteVersion)>, StoreError> {
                sqlx::query_as::<_, HeldRemoteVersionRow>(&format!(
                    "SELECT peer_url, {REMOTE_VERSION_COLUMNS} FROM remote_versions r WHERE {NEWEST_REMOTE_VERSION} \
                     ORDER BY published_at DESC, peer_url, dataset_id LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(HeldRemoteVersionRow::decode)
                .collect()
            }

            async fn peer_catalog(&self, after: Option<(&str, &DatasetId)>, limit: u32) -> Result<Vec<PeerCatalogEntry>, StoreError> {
                let select = format!("{} AND metadata <> ''", peer_catalog_select());
                peer_page::<PeerCatalogRow>(&self.pool, &select, after, limit)
                    .await?
                    .into_iter()
                    .map(PeerCatalogRow::decode)
                    .collect()
            }

            async fn held_remote_versions(&self, held: &[(String, DatasetId)]) -> Result<Vec<PeerCatalogEntry>, StoreError> {
                let mut found = Vec::with_capacity(held.len());
                for chunk in held.chunks(INSERT_CHUNK / 2) {
                    let mut sql = sqlx::QueryBuilder::<$database>::new(peer_catalog_select());
                    sql.push(" AND ");
                    push_peer_datasets(&mut sql, chunk);
                    for row in sql.build_query_as::<PeerCatalogRow>().fetch_all(&self.pool).await? {
                        found.push(row.decode()?);
                    }
                }
                Ok(found)
            }

            async fn remote_version(
                &self,
                prefix: &str,
                dataset: &DatasetId,
                version: Option<VersionNumber>,
            ) -> Result<Option<(Peer, Option<RemoteVersion>)>, StoreError> {
                let peer: Option<PeerRow> =
                    sqlx::query_as(&format!("SELECT {PEER_COLUMNS} FROM peers WHERE identifier_prefix = $1"))
                        .bind(prefix)
                        .fetch_optional(&self.pool)
                        .await?;
                let Some(peer) = peer.map(Peer::try_from).transpose()? else {
                    return Ok(None);
                };
                let found: Option<RemoteVersionRow> = sqlx::query_as(&format!(
                    "SELECT {REMOTE_VERSION_COLUMNS} FROM remote_versions \
                     WHERE peer_url = $1 AND dataset_id = $2 AND ($3 IS NULL OR version = $3) \
                     ORDER BY version DESC LIMIT 1"
                ))
                .bind(&peer.url)
                .bind(dataset.as_str())
                .bind(version.map(|version| i64::from(version.get())))
                .fetch_optional(&self.pool)
                .await?;
                let found = found.map(RemoteVersion::try_from).transpose()?;
                Ok(Some((peer, found)))
            }

            async fn log_size(&self) -> Result<u64, StoreError> {
                let size: i64 = sqlx::query_scalar("SELECT size FROM log_head WHERE id = 1").fetch_one(&self.pool).await?;
                decode_index(size)
            }

            async fn log_leaves(&self, start: u64, end: u64) -> Result<Vec<[u8; 32]>, StoreError> {
                let leaves: Vec<String> =
                    sqlx::query_scalar("SELECT leaf_sha256 FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
                        .bind(encode_index(start)?)
                        .bind(encode_index(end)?)
                        .fetch_all(&self.pool)
                        .await?;
                leaves.iter().map(|leaf| decode_leaf(leaf)).collect()
            }

            async fn log_entries(&self, start: u64, end: u64, max_bytes: u64) -> Result<Vec<LogEntry>, StoreError> {
                use futures::TryStreamExt as _;
                let mut rows = sqlx::query_as::<_, LogRow>(
                    "SELECT idx, kind, entry, leaf_sha256, created_at FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                )
                .bind(encode_index(start)?)
                .bind(encode_index(end)?)
                .fetch(&self.pool);
                // Rows stream in one at a time; reading stops at the byte budget, so a page of
                // large entries never sits in memory whole.
                let mut entries = Vec::new();
                let mut bytes = 0u64;
                while let Some(row) = rows.try_next().await? {
                    let entry = row.decode()?;
                    bytes = bytes.saturating_add(entry.entry.len() as u64);
                    if bytes > max_bytes && !entries.is_empty() {
                        break;
                    }
                    entries.push(entry);
                }
                Ok(entries)
            }

            async fn list_datasets(
                &self,
                filter: &DatasetFilter,
                after: Option<&DatasetId>,
                limit: u32,
            ) -> Result<Vec<DatasetSummary>, StoreError> {
                sqlx::query_as::<_, DatasetRow>(
                    "SELECT d.id, d.publisher_id, d.latest_version, d.metadata, d.created_at, d.updated_at \
                     FROM datasets d \
                     WHERE ($1 IS NULL OR d.publisher_id = $1) \
                       AND ($2 IS NULL OR d.access = $2) \
                       AND ($3 IS NULL OR EXISTS (SELECT 1 FROM dataset_keywords k WHERE k.dataset_id = d.id AND k.keyword = $3)) \
                       AND ($4 IS NULL OR d.id > $4) \
                     ORDER BY d.id LIMIT $5",
                )
                .bind(filter.publisher.as_ref().map(|p| p.as_str()))
                .bind(filter.access.map(|a| a.as_str()))
                .bind(filter.keyword.as_deref())
                .bind(after.map(|id| id.as_str()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(DatasetRow::decode)
                .collect()
            }

            async fn get_dataset(&self, dataset: &DatasetId) -> Result<(DatasetSummary, Vec<VersionSummary>), StoreError> {
                let summary = sqlx::query_as::<_, DatasetRow>(
                    "SELECT id, publisher_id, latest_version, metadata, created_at, updated_at FROM datasets WHERE id = $1",
                )
                .bind(dataset.as_str())
                .fetch_one(&self.pool)
                .await?
                .decode()?;
                let versions = sqlx::query_as::<_, VersionRow>(
                    "SELECT version, access, manifest_sha256, published_at, log_index FROM versions \
                     WHERE dataset_id = $1 ORDER BY version DESC",
                )
                .bind(dataset.as_str())
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(VersionRow::decode)
                .collect::<Result<_, _>>()?;
                Ok((summary, versions))
            }

            async fn catalog_changes(&self, after: Option<u64>, limit: u32) -> Result<Vec<CatalogChange>, StoreError> {
                // Past the largest index a column holds nothing follows.
                let after = after.map_or(-1, |after| i64::try_from(after).unwrap_or(i64::MAX));
                sqlx::query_as::<_, ChangeRow>(
                    "SELECT v.version, v.access, v.manifest_sha256, v.published_at, v.log_index, v.dataset_id, d.publisher_id \
                     FROM versions v JOIN datasets d ON d.id = v.dataset_id \
                     WHERE v.log_index > $1 ORDER BY v.log_index LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(ChangeRow::decode)
                .collect()
            }

            async fn get_version(
                &self,
                dataset: &DatasetId,
                version: Option<VersionNumber>,
            ) -> Result<VersionRecord, StoreError> {
                let row = sqlx::query_as::<_, ManifestRow>(
                    "SELECT v.version, v.access, v.manifest_sha256, v.published_at, v.log_index, v.manifest \
                     FROM versions v JOIN datasets d ON d.id = v.dataset_id \
                     WHERE v.dataset_id = $1 AND v.version = COALESCE($2, d.latest_version)",
                )
                .bind(dataset.as_str())
                .bind(version.map(|v| i64::from(v.get())))
                .fetch_one(&self.pool)
                .await?;
                let summary = row.summary.decode()?;
                let mut files = sqlx::query_as::<_, FileRow>(
                    "SELECT f.version, v.access, v.published_at, f.name, f.media_type, f.size_bytes, f.sha256, f.derived_from, f.resource \
                     FROM version_files f JOIN versions v ON v.dataset_id = f.dataset_id AND v.version = f.version \
                     WHERE f.dataset_id = $1 AND f.version = $2",
                )
                .bind(dataset.as_str())
                .bind(i64::from(summary.version.get()))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|row| row.decode().map(|file| file.entry))
                .collect::<Result<Vec<_>, _>>()?;
                files.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(VersionRecord {
                    summary,
                    manifest: row.manifest,
                    files,
                })
            }

            async fn get_file(
                &self,
                dataset: &DatasetId,
                version: Option<VersionNumber>,
                name: &FileName,
            ) -> Result<StoredFile, StoreError> {
                sqlx::query_as::<_, FileRow>(
                    "SELECT f.version, v.access, v.published_at, f.name, f.media_type, f.size_bytes, f.sha256, f.derived_from, f.resource \
                     FROM version_files f \
                     JOIN versions v ON v.dataset_id = f.dataset_id AND v.version = f.version \
                     JOIN datasets d ON d.id = f.dataset_id \
                     WHERE f.dataset_id = $1 AND f.version = COALESCE($2, d.latest_version) AND f.name = $3",
                )
                .bind(dataset.as_str())
                .bind(version.map(|v| i64::from(v.get())))
                .bind(name.as_str())
                .fetch_one(&self.pool)
                .await?
                .decode()
            }

            async fn search_changes(&self, after: u64, limit: u32) -> Result<Vec<SearchChange>, StoreError> {
                let mut changes: Vec<SearchChange> = sqlx::query_as::<_, SearchChangeRow>(
                    "SELECT c.sequence, c.dataset_id, d.search_document, d.downloads, d.created_at, d.updated_at \
                     FROM search_changes c LEFT JOIN datasets d ON d.id = c.dataset_id \
                     WHERE c.sequence > $1 ORDER BY c.sequence LIMIT $2",
                )
                .bind(encode_index(after)?)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(SearchChangeRow::decode)
                .collect::<Result<_, _>>()?;
                // Peers' datasets changed are read by their keys, one query per chunk.
                let peer_keys: Vec<(String, String)> = changes
                    .iter()
                    .filter_map(|change| match &change.key {
                        SearchKey::Peer { url, dataset } => Some((url.clone(), dataset.to_string())),
                        SearchKey::Dataset(_) | SearchKey::Demand(_) => None,
                    })
                    .collect();
                let mut peer_items: std::collections::HashMap<SearchKey, IndexedItem> = std::collections::HashMap::new();
                for chunk in peer_keys.chunks(INSERT_CHUNK / 2) {
                    let mut sql = sqlx::QueryBuilder::<$database>::new(peer_search_select());
                    sql.push(" AND ");
                    push_peer_datasets(&mut sql, chunk);
                    for row in sql.build_query_as::<PeerSearchRow>().fetch_all(&self.pool).await? {
                        let item = row.decode()?;
                        peer_items.insert(item.key.clone(), item);
                    }
                }
                for change in &mut changes {
                    if let Some(item) = peer_items.remove(&change.key) {
                        change.item = Some(item);
                    }
                }
                // Demands changed are read by their ids, one query for the page.
                let demand_ids: Vec<String> = changes
                    .iter()
                    .filter_map(|change| match &change.key {
                        SearchKey::Demand(id) => Some(id.clone()),
                        SearchKey::Dataset(_) | SearchKey::Peer { .. } => None,
                    })
                    .collect();
                if demand_ids.is_empty() {
                    return Ok(changes);
                }
                let mut sql = sqlx::QueryBuilder::<$database>::new("SELECT id, kind, document, created_at FROM demands WHERE id IN (");
                push_list(&mut sql, &demand_ids);
                sql.push(")");
                let mut demands: std::collections::HashMap<SearchKey, IndexedItem> = sql
                    .build_query_as::<DemandSearchRow>()
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|row| row.decode().map(|item| (item.key.clone(), item)))
                    .collect::<Result<_, _>>()?;
                for change in &mut changes {
                    if let Some(item) = demands.remove(&change.key) {
                        change.item = Some(item);
                    }
                }
                Ok(changes)
            }

            fn search_feed_notices(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
                self.feed_notices.clone()
            }

            async fn search_feed_head(&self) -> Result<u64, StoreError> {
                let head: i64 = sqlx::query_scalar("SELECT head FROM search_feed WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                decode_index(head)
            }

            async fn indexed_demands(&self, after: Option<&str>, limit: u32) -> Result<Vec<IndexedItem>, StoreError> {
                sqlx::query_as::<_, DemandSearchRow>(
                    "SELECT id, kind, document, created_at FROM demands WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after.unwrap_or_default())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(DemandSearchRow::decode)
                .collect()
            }

            async fn indexed_peer_datasets(
                &self,
                after: Option<(&str, &DatasetId)>,
                limit: u32,
            ) -> Result<Vec<IndexedItem>, StoreError> {
                peer_page::<PeerSearchRow>(&self.pool, &peer_search_select(), after, limit)
                    .await?
                    .into_iter()
                    .map(PeerSearchRow::decode)
                    .collect()
            }

            async fn indexed_datasets(&self, after: Option<&DatasetId>, limit: u32) -> Result<Vec<IndexedItem>, StoreError> {
                sqlx::query_as::<_, IndexedRow>(
                    "SELECT id, search_document, downloads, created_at, updated_at FROM datasets \
                     WHERE id > $1 AND search_document <> '' ORDER BY id LIMIT $2",
                )
                .bind(after.map_or("", DatasetId::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(IndexedRow::decode)
                .collect()
            }

            async fn dataset_summaries(&self, ids: &[DatasetId]) -> Result<Vec<DatasetSummary>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                let mut sql = sqlx::QueryBuilder::<$database>::new(
                    "SELECT id, publisher_id, latest_version, metadata, created_at, updated_at FROM datasets WHERE id IN (",
                );
                push_list(&mut sql, &ids);
                sql.push(")");
                sql.build_query_as::<DatasetRow>()
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(DatasetRow::decode)
                    .collect()
            }

            async fn datasets_without_search_document(&self, limit: u32) -> Result<Vec<DatasetId>, StoreError> {
                let ids: Vec<String> =
                    sqlx::query_scalar("SELECT id FROM datasets WHERE search_document = '' ORDER BY id LIMIT $1")
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                ids.iter().map(|id| super::rows::decode("dataset id", id)).collect()
            }

            async fn set_search_document(&self, dataset: &DatasetId, document: &SearchDocument) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE datasets SET search_document = $2 WHERE id = $1")
                    .bind(dataset.as_str())
                    .bind(serde_json::to_string(document).map_err(anyhow::Error::from)?)
                    .execute(&mut *tx)
                    .await?;
                let sequence = feed_search_changes(&mut tx, &[SearchKey::Dataset(dataset.clone())]).await?;
                tx.commit().await?;
                Ok(sequence)
            }

            async fn add_downloads(&self, counts: &[(DatasetId, u64)]) -> Result<u64, StoreError> {
                if counts.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.begin_write().await?;
                for (dataset, count) in counts {
                    sqlx::query("UPDATE datasets SET downloads = downloads + $2 WHERE id = $1")
                        .bind(dataset.as_str())
                        .bind(encode_size(*count)?)
                        .execute(&mut *tx)
                        .await?;
                }
                let datasets: Vec<SearchKey> = counts.iter().map(|(dataset, _)| SearchKey::Dataset(dataset.clone())).collect();
                let sequence = feed_search_changes(&mut tx, &datasets).await?;
                tx.commit().await?;
                Ok(sequence)
            }

            async fn save_table_profile(
                &self,
                digest: &Sha256Digest,
                format: &str,
                inspection: &Result<String, String>,
                at: DateTime<Utc>,
            ) -> Result<(), StoreError> {
                let (profile, problem) = match inspection {
                    Ok(profile) => (Some(profile.as_str()), None),
                    Err(problem) => (None, Some(problem.as_str())),
                };
                // Same bytes, same format, same finding: a concurrent first writer is as good.
                sqlx::query(
                    "INSERT INTO table_profiles (sha256, format, profile, problem, inspected_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256, format) DO NOTHING",
                )
                .bind(digest.to_string())
                .bind(format)
                .bind(profile)
                .bind(problem)
                .bind(encode_time(at))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn table_profile(
                &self,
                digest: &Sha256Digest,
                format: &str,
            ) -> Result<Option<Result<String, String>>, StoreError> {
                let row: Option<(Option<String>, Option<String>)> =
                    sqlx::query_as("SELECT profile, problem FROM table_profiles WHERE sha256 = $1 AND format = $2")
                        .bind(digest.to_string())
                        .bind(format)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(profile, problem)| profile.ok_or_else(|| problem.unwrap_or_default())))
            }
        }
    };
}

pub(super) use impl_store_with_shared_sql;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EntryKind, ReadSessionId, Sha256Digest};

    fn chained<DB: sqlx::Database>(chaining: Chaining, count: usize) -> String {
        let mut chain = Chain::<DB>::new(chaining, count);
        for index in 0..count {
            chain.statement().push(format!("S{index}"));
        }
        chain.builder().sql().to_owned()
    }

    #[test]
    fn chained_statements_are_glued_as_each_backend_runs_them() {
        assert_eq!(chained::<sqlx::Sqlite>(Chaining::Semicolons, 3), "S0; S1; S2");
        assert_eq!(chained::<sqlx::Sqlite>(Chaining::Semicolons, 1), "S0");
        assert_eq!(
            chained::<sqlx::Postgres>(Chaining::WithQueries, 3),
            "WITH w0 AS (S0), w1 AS (S1) S2"
        );
        assert_eq!(
            chained::<sqlx::Postgres>(Chaining::WithQueries, 2),
            "WITH w0 AS (S0) S1"
        );
        assert_eq!(chained::<sqlx::Postgres>(Chaining::WithQueries, 1), "S0");
    }

    fn read(order: &str, session: &ReadSessionId, length: u64) -> SessionRead {
        SessionRead {
            order_id: order.into(),
            file: "f.csv".parse().expect("name"),
            session: session.clone(),
            length,
            session_byte_limit: 100,
            max_downloads: 2,
            at: chrono::Utc::now(),
        }
    }

    fn receipt(facts: ReceiptFacts) -> Result<LoggedDocument, StoreError> {
        let text = format!("receipt {} of download {}", facts.log_index, facts.sequence);
        Ok(LoggedDocument {
            kind: EntryKind::Receipt,
            leaf: Sha256Digest::from_bytes(crate::ledger::merkle::leaf_hash(text.as_bytes())),
            text,
        })
    }

    fn agreed() -> Option<chrono::DateTime<chrono::Utc>> {
        Some(chrono::Utc::now() + chrono::Duration::days(1))
    }

    fn nothing_stored() -> StoredSession {
        StoredSession {
            agreed_until: agreed(),
            last_sequence: 0,
            session_sent: None,
        }
    }

    #[test]
    fn a_read_under_an_order_no_longer_in_force_is_refused_even_in_an_open_session() {
        let log = BatchLog::new(3);
        let mut admissions = ReadAdmissions::new(&log);
        let session = ReadSessionId::generate();
        for agreed_until in [None, Some(chrono::Utc::now() - chrono::Duration::seconds(1))] {
            for session_sent in [None, Some(10)] {
                let stored = StoredSession {
                    agreed_until,
                    last_sequence: 1,
                    session_sent,
                };
                let decided = admissions.decide(&read("o", &session, 10), &receipt, stored);
                assert_eq!(decided.expect("decided"), SessionAdmission::OrderInactive);
            }
        }
        assert!(admissions.opened.is_empty() && admissions.continued.is_empty());
    }

    #[test]
    fn a_batch_decides_its_reads_as_one_by_one_statements_would() {
        let mut log = BatchLog::new(10);
        let mut admissions = ReadAdmissions::new(&log);
        let (first, second, third) = (
            ReadSessionId::generate(),
            ReadSessionId::generate(),
            ReadSessionId::generate(),
        );
        let decided = [
            admissions.decide(&read("o", &first, 60), &receipt, nothing_stored()),
            // The same session again in the batch: continued within its 100 bytes, then spent.
            admissions.decide(&read("o", &first, 40), &receipt, nothing_stored()),
            admissions.decide(&read("o", &first, 1), &receipt, nothing_stored()),
            // A second session spends the order's second and last download…
            admissions.decide(&read("o", &second, 100), &receipt, nothing_stored()),
            // …so a third is over the limit, whatever the stale state read before the batch says.
            admissions.decide(&read("o", &third, 1), &receipt, nothing_stored()),
            // Another order's session open before the batch is continued.
            admissions.decide(
                &read("p", &third, 10),
                &receipt,
                StoredSession {
                    agreed_until: agreed(),
                    last_sequence: 1,
                    session_sent: Some(50),
                },
            ),
        ]
        .map(|decided| decided.expect("decided"));
        assert_eq!(
            decided,
            [
                SessionAdmission::Opened { log_index: 10 },
                SessionAdmission::Continued,
                SessionAdmission::SessionSpent,
                SessionAdmission::Opened { log_index: 11 },
                SessionAdmission::OverLimit,
                SessionAdmission::Continued,
            ]
        );
        admissions.sign_receipts(&mut log).expect("signed");
        assert_eq!(log.size(), 12);
        let rows: Vec<_> = admissions
            .opened
            .iter()
            .map(|row| {
                (
                    row.sequence,
                    row.stored_index,
                    row.bytes_sent,
                    row.responses,
                    log.entries[usize::try_from(row.log_index - log.base).expect("index")]
                        .text
                        .as_str(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (1, 10, 100, 2, "receipt 10 of download 1"),
                (2, 11, 100, 1, "receipt 11 of download 2"),
            ]
        );
        let continued = &admissions.continued[&("p".to_owned(), "f.csv".to_owned(), third.as_str().to_owned())];
        assert_eq!((continued.bytes, continued.responses), (10, 1));
        assert_eq!(admissions.continued.len(), 1);
    }

    #[test]
    fn a_receipt_that_cannot_be_signed_fails_the_batch() {
        let mut log = BatchLog::new(0);
        let mut admissions = ReadAdmissions::new(&log);
        let failing =
            |_: ReceiptFacts| -> Result<LoggedDocument, StoreError> { Err(StoreError::Conflict("no key".into())) };
        let decided = admissions.decide(&read("o", &ReadSessionId::generate(), 1), &failing, nothing_stored());
        assert_eq!(decided.expect("decided"), SessionAdmission::Opened { log_index: 0 });
        assert!(admissions.sign_receipts(&mut log).is_err());
        assert_eq!(log.size(), 0);
    }
}
