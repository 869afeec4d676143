//! Catalog metadata persistence: one [`Store`] trait, a SQLite and a PostgreSQL implementation.
//!
//! Methods are sized by use case and own their transactions, so callers
//! never see a half-applied change. Both backends share their SQL (see
//! `sql.rs`) and differ only in connecting, migrating and how a write
//! transaction begins.

mod postgres;
mod rows;
mod sql;
mod sqlite;

use crate::domain::EntryKind;
use crate::domain::demand::{DemandKind, DemandState};
use crate::domain::node::{Peer, RemoteDemand, RemoteVersion};
use crate::domain::order::OrderState;
use crate::ledger::stored::Subtree;
use crate::ledger::witness::{Conflict, WitnessedCheckpoint};
use crate::search::{IndexedItem, SearchChange, SearchDocument};
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    AccessClass, DatasetId, DatasetMetadata, FileEntry, FileName, PublisherId, ReadSessionId, Sha256Digest,
    VersionNumber,
};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// What a store operation can fail with; callers act on `NotFound` and `Conflict`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The change collides with existing rows (a duplicate key, a missing referenced row).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed or held a row this build cannot read.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
                Self::Conflict(db.message().to_owned())
            }
            _ => Self::Other(error.into()),
        }
    }
}

/// SQLite driven directly (`sqlite::reads`) fails as sqlx would: a duplicate key or a
/// missing referenced row is a `Conflict` the caller may retry.
impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match &error {
            rusqlite::Error::QueryReturnedNoRows => Self::NotFound,
            rusqlite::Error::SqliteFailure(failure, message)
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        | rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
                ) =>
            {
                Self::Conflict(message.clone().unwrap_or_else(|| failure.to_string()))
            }
            _ => Self::Other(error.into()),
        }
    }
}

/// A data provider known to the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publisher {
    /// Its id.
    pub id: PublisherId,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The stored half of a publisher token: its public id and the hash of its secret.
#[derive(Clone, Debug)]
pub struct StoredToken {
    /// The token's public id (the part before the secret).
    pub id: String,
    /// The publisher it authenticates.
    pub publisher: PublisherId,
    /// SHA-256 of the secret; the secret itself is never stored.
    pub secret_sha256: Sha256Digest,
}

/// What the publish use case needs to know about a dataset's current state.
#[derive(Clone, Debug)]
pub struct DatasetHead {
    /// The publisher that owns the dataset.
    pub publisher: PublisherId,
    /// Its newest version.
    pub latest: VersionNumber,
    /// The content digest of the newest version, to recognise an unchanged re-publish.
    pub latest_content: Sha256Digest,
}

/// A version ready to be committed: blobs durable, manifest signed.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The dataset; created with this version if new.
    pub dataset: DatasetId,
    /// The publishing publisher.
    pub publisher: PublisherId,
    /// The version number; it must be the dataset's next one.
    pub version: VersionNumber,
    /// The version's metadata.
    pub metadata: DatasetMetadata,
    /// Digest of metadata and files together, to recognise an unchanged re-publish.
    pub content: Sha256Digest,
    /// The signed manifest's exact JSON text.
    pub manifest: String,
    /// SHA-256 of the manifest's canonical form.
    pub manifest_digest: Sha256Digest,
    /// The files, each backed by a recorded blob.
    pub files: Vec<FileEntry>,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// RFC 9162 leaf hash of the manifest text, which is appended to the log with the version.
    pub log_leaf: Sha256Digest,
    /// What the dataset is found by, replacing the previous version's.
    pub search: crate::search::SearchDocument,
}

/// One entry of the transparency log.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// Its 0-based position.
    pub index: u64,
    /// What it records (`manifest`, …).
    pub kind: String,
    /// The exact canonical JSON text that is the leaf.
    pub entry: String,
    /// The leaf hash stored with it.
    pub leaf: [u8; 32],
    /// When it was appended.
    pub created_at: DateTime<Utc>,
}

/// A signed document to append to the transparency log.
#[derive(Clone, Debug)]
pub struct LoggedDocument {
    /// What it records.
    pub kind: EntryKind,
    /// Its exact canonical JSON text: the leaf.
    pub text: String,
    /// RFC 9162 leaf hash of `text`.
    pub leaf: Sha256Digest,
}

/// An order ready to be recorded, with the documents it puts in the log.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// The order's id.
    pub id: String,
    /// The buyer's DID.
    pub buyer: String,
    /// The buyer's nonce; `Conflict` if the buyer used it before.
    pub nonce: String,
    /// The dataset ordered.
    pub dataset: DatasetId,
    /// The version ordered.
    pub version: VersionNumber,
    /// The signed order.
    pub order: LoggedDocument,
    /// SHA-256 of the order's canonical text.
    pub order_digest: Sha256Digest,
    /// Its state.
    pub state: OrderState,
    /// The node's agreement, when the order was agreed at once.
    pub agreement: Option<LoggedDocument>,
    /// When the agreement ends.
    pub valid_until: Option<DateTime<Utc>>,
    /// Completed downloads allowed per file.
    pub max_downloads: u32,
    /// The awarded demand this order takes up; it becomes `FULFILLED` with the order, and
    /// `Conflict` ([`DEMAND_TAKEN`]) if it is no longer awarded.
    pub demand: Option<String>,
    /// The order-scoped access token's stored half.
    pub token_id: String,
    /// SHA-256 of the token's secret.
    pub token_secret_sha256: Sha256Digest,
    /// When the order was received.
    pub created_at: DateTime<Utc>,
}

/// What an order-scoped token grants.
#[derive(Clone, Debug)]
pub struct OrderGrant {
    /// The order's id.
    pub order_id: String,
    /// The buyer's DID.
    pub buyer: String,
    /// The dataset ordered.
    pub dataset: DatasetId,
    /// The version ordered.
    pub version: VersionNumber,
    /// The order's state.
    pub state: OrderState,
    /// When the agreement ends.
    pub valid_until: Option<DateTime<Utc>>,
    /// Completed downloads allowed per file.
    pub max_downloads: u32,
    /// SHA-256 of the token's secret.
    pub token_secret_sha256: Sha256Digest,
    /// SHA-256 of the order's canonical form.
    pub order_digest: Sha256Digest,
    /// The demand the order takes up, which its receipts name.
    pub demand: Option<String>,
}

/// An order as the node keeps it.
#[derive(Clone, Debug)]
pub struct OrderSummary {
    /// The order's id.
    pub id: String,
    /// The dataset ordered.
    pub dataset: DatasetId,
    /// Its publisher.
    pub publisher: PublisherId,
    /// The version ordered.
    pub version: VersionNumber,
    /// The buyer's DID.
    pub buyer: String,
    /// The order's state.
    pub state: OrderState,
    /// The signed order's canonical text.
    pub order: String,
    /// SHA-256 of the order's canonical text.
    pub order_digest: Sha256Digest,
    /// The node's signed agreement's canonical text, once agreed (kept after a revocation).
    pub agreement: Option<String>,
    /// The demand whose accepted answer the order takes up.
    pub demand: Option<String>,
    /// When the agreement ends.
    pub valid_until: Option<DateTime<Utc>>,
    /// Completed downloads allowed per file.
    pub max_downloads: u32,
    /// Completed deliveries so far, all files together.
    pub completed_deliveries: u64,
    /// Downloads refused so far.
    pub refusals: u64,
    /// When the order was received.
    pub created_at: DateTime<Utc>,
}

/// A version's manifest as `versions` keeps it besides the log, for audits to compare.
#[derive(Clone, Debug)]
pub struct LoggedCopy {
    /// The log index the copy claims.
    pub log_index: u64,
    /// The copy's text.
    pub text: String,
}

/// A receipted delivery as its row records it, for audits to compare with the receipt at
/// the log index it claims (the receipt itself is kept in the log alone).
#[derive(Clone, Debug)]
pub struct ReceiptedDelivery {
    /// The log index of its receipt.
    pub log_index: u64,
    /// The order.
    pub order_id: String,
    /// The file's name.
    pub file: String,
    /// Which download of the file under the order it was.
    pub sequence: i64,
    /// The read session.
    pub session: Option<String>,
}

/// A change of an order's state, with the signed document that records it.
#[derive(Clone, Debug)]
pub struct OrderTransition {
    /// The order.
    pub order_id: String,
    /// The state it must be in; otherwise `Conflict`.
    pub from: OrderState,
    /// The state it moves to.
    pub to: OrderState,
    /// The agreement, rejection or revocation, logged with the change.
    pub document: LoggedDocument,
    /// When a new agreement ends.
    pub valid_until: Option<DateTime<Utc>>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A response about to carry licensed bytes in a read session.
#[derive(Clone, Debug)]
pub struct SessionRead {
    /// The order.
    pub order_id: String,
    /// The file.
    pub file: FileName,
    /// The read session (see [`crate::domain::delivery`]).
    pub session: ReadSessionId,
    /// Bytes this response carries.
    pub length: u64,
    /// Most bytes the session may carry in all.
    pub session_byte_limit: u64,
    /// How many downloads (sessions) of the file the order allows.
    pub max_downloads: u32,
    /// When.
    pub at: DateTime<Utc>,
}

/// The downloads of one file under one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryTally {
    /// How many sessions have been receipted.
    pub completed: u32,
    /// Whether the asking read session is one of them: reading on in an open session is not
    /// another download.
    pub in_session: bool,
}

/// What a receipt states that only the store knows when it is made.
#[derive(Clone, Copy, Debug)]
pub struct ReceiptFacts {
    /// The receipt's index in the log.
    pub log_index: u64,
    /// Which download of this file under this order it is (1, 2, …).
    pub sequence: u32,
}

/// Signs a receipt inside the batch that logs it, once its index is known.
pub type ReceiptBuilder = dyn Fn(ReceiptFacts) -> Result<LoggedDocument, StoreError> + Send + Sync;

/// Signs the checkpoint of a tree size and root inside the batch that grew the tree to it.
pub type CheckpointSigner = dyn Fn(u64, [u8; 32]) -> Result<String, StoreError> + Send + Sync;

/// A change that appends to the transparency log, integrated with others in one batch
/// (one transaction, one new checkpoint); each write is all or nothing on its own.
pub enum LogWrite {
    /// Admits a response of a read session before its bytes leave: continues an open
    /// session within its byte limit, or opens a new one (spending a download within
    /// the order's limit, signing with `receipt` and logging its receipt), or refuses.
    /// A batch's reads are admitted together, before its other writes.
    /// `Conflict` when a concurrent request of the same order and file won a race (retry).
    Read {
        /// The response.
        read: SessionRead,
        /// Signs the receipt of a new session.
        receipt: Box<ReceiptBuilder>,
    },
    /// A write integrated on its own, in its own savepoint.
    Logged(Box<LoggedWrite>),
}

impl LogWrite {
    /// Whether it publishes a version.
    pub fn is_publish(&self) -> bool {
        matches!(self, Self::Logged(write) if matches!(**write, LoggedWrite::Publish(_)))
    }
}

/// A log write other than a read, each integrated in its own savepoint.
pub enum LoggedWrite {
    /// Commits a version and its files and logs its manifest. The version's rows are
    /// written before the batch takes the log's lock. `Conflict` if the number is taken
    /// or the dataset has another owner.
    Publish(NewVersion),
    /// Records an order (and its agreement) and logs them; `Conflict` if the buyer's
    /// nonce was used before.
    Order(NewOrder),
    /// Moves an order between states and logs the document that says so.
    Transition(OrderTransition),
    /// Writes to the demand board and logs the signed document.
    Board(BoardWrite),
    /// Logs a buyer's acknowledgement of one of the order's receipts unless that receipt
    /// was acknowledged before: then nothing is written and the earlier one is named.
    Acknowledge {
        /// The order.
        order_id: String,
        /// SHA-256 of the acknowledged receipt.
        receipt: Sha256Digest,
        /// The signed acknowledgement.
        document: LoggedDocument,
        /// When it arrived.
        at: DateTime<Utc>,
    },
}

/// The message of the `Conflict` an order gets when its demand is no longer awarded.
pub const DEMAND_TAKEN: &str = "the demand is no longer awarded to be ordered";

/// A demand ready to be recorded, with its signed document for the log.
#[derive(Clone, Debug)]
pub struct NewDemand {
    /// Its id.
    pub id: String,
    /// A demand or a challenge.
    pub kind: DemandKind,
    /// The poster's DID.
    pub poster: String,
    /// The poster's nonce; `Conflict` if used before.
    pub nonce: String,
    /// The signed demand.
    pub document: LoggedDocument,
    /// Its budget.
    pub budget_fen: u64,
    /// When answers stop.
    pub deadline: DateTime<Utc>,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
}

/// A provider's answer ready to be recorded; the demand becomes `ANSWERED`, or the answer
/// is a `Conflict` when the demand no longer takes answers (or the nonce was used).
#[derive(Clone, Debug)]
pub struct NewAnswer {
    /// Its id.
    pub id: String,
    /// The demand answered.
    pub demand_id: String,
    /// The provider's DID.
    pub provider: String,
    /// The provider's nonce.
    pub nonce: String,
    /// The publisher answering (the dataset's).
    pub publisher: PublisherId,
    /// The dataset offered.
    pub dataset: DatasetId,
    /// Its version; `None` for a promised delivery.
    pub version: Option<VersionNumber>,
    /// The price asked.
    pub price_fen: u64,
    /// The signed answer.
    pub document: LoggedDocument,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
}

/// A poster's decision on an open demand: `Conflict` unless the demand is still open.
#[derive(Clone, Debug)]
pub struct DemandDecision {
    /// The demand.
    pub demand_id: String,
    /// `AWARDED`, `FULFILLED` (an answer of open data) or `WITHDRAWN`.
    pub to: DemandState,
    /// The answer accepted, for an award.
    pub accepted_answer: Option<String>,
    /// The signed decision.
    pub document: LoggedDocument,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// A write to the demand board.
#[derive(Clone, Debug)]
pub enum BoardWrite {
    /// Posts a demand.
    Post(NewDemand),
    /// Records an answer.
    Answer(NewAnswer),
    /// Records the poster's decision.
    Decide(DemandDecision),
}

/// A demand as stored.
#[derive(Clone, Debug)]
pub struct DemandRecord {
    /// Its id.
    pub id: String,
    /// A demand or a challenge.
    pub kind: DemandKind,
    /// The poster's DID.
    pub poster: String,
    /// The signed demand's canonical text.
    pub document: String,
    /// The stored state (an open one past its deadline shows as expired).
    pub state: DemandState,
    /// Its budget.
    pub budget_fen: u64,
    /// When answers stop.
    pub deadline: DateTime<Utc>,
    /// The accepted answer, once awarded.
    pub accepted_answer: Option<String>,
    /// How many answers it has.
    pub answers: u64,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
}

/// An answer as stored.
#[derive(Clone, Debug)]
pub struct AnswerRecord {
    /// Its id.
    pub id: String,
    /// The demand answered.
    pub demand_id: String,
    /// The provider's DID.
    pub provider: String,
    /// The publisher answering.
    pub publisher: PublisherId,
    /// The dataset offered.
    pub dataset: DatasetId,
    /// Its version; `None` for a promised delivery.
    pub version: Option<VersionNumber>,
    /// The price asked.
    pub price_fen: u64,
    /// The signed answer's canonical text.
    pub document: String,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
}

/// A demand kept from a peer, with where it is.
#[derive(Clone, Debug)]
pub struct RemoteDemandRecord {
    /// The peer's base URL.
    pub peer_url: String,
    /// The peer's name, as its description gave it.
    pub peer_name: String,
    /// The demand.
    pub demand: RemoteDemand,
}

/// The most answers one demand takes: the board's page of a demand stays small.
pub const MAX_ANSWERS: u64 = 100;

/// What an integrated [`LogWrite`] did, variant for variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogWritten {
    /// The version is published.
    Published {
        /// The manifest's log index.
        log_index: u64,
        /// The change's place in the search feed.
        search_sequence: u64,
    },
    /// The order is recorded.
    Ordered,
    /// The order changed state.
    Transitioned,
    /// The board's write is recorded.
    Boarded,
    /// What the read's admission did.
    Read(SessionAdmission),
    /// Where the acknowledgement stands.
    Acknowledged(Acknowledgement),
}

/// Where a receipt's acknowledgement stands in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acknowledgement {
    /// Logged now, at this index.
    Logged {
        /// Its log index.
        log_index: u64,
    },
    /// The receipt was acknowledged before, at this index; nothing was written.
    Earlier {
        /// The earlier acknowledgement's log index.
        log_index: u64,
    },
}

/// What admitting a response of a read session did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionAdmission {
    /// A new session: one download spent, its receipt signed and logged.
    Opened {
        /// The receipt's log index.
        log_index: u64,
    },
    /// An open session carries these bytes too.
    Continued,
    /// A new session would be one download more than the order allows.
    OverLimit,
    /// The session has carried as many bytes as it may.
    SessionSpent,
    /// The order is no longer agreed, or its agreement has expired.
    OrderInactive,
}

/// A dataset as the catalog lists it: the metadata of its newest version.
#[derive(Clone, Debug)]
pub struct DatasetSummary {
    /// Its id.
    pub id: DatasetId,
    /// Its publisher.
    pub publisher: PublisherId,
    /// Metadata of the newest version.
    pub metadata: DatasetMetadata,
    /// The newest version.
    pub latest_version: VersionNumber,
    /// When its first version was published.
    pub created_at: DateTime<Utc>,
    /// When its newest version was published.
    pub updated_at: DateTime<Utc>,
}

/// One version in a dataset's history.
#[derive(Clone, Debug)]
pub struct VersionSummary {
    /// Its number.
    pub version: VersionNumber,
    /// Its access class.
    pub access: AccessClass,
    /// SHA-256 of its signed manifest.
    pub manifest_digest: Sha256Digest,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Where its manifest stands in the transparency log.
    pub log_index: Option<u64>,
}

/// A published version as the catalog's change feed lists it, in log order.
#[derive(Clone, Debug)]
pub struct CatalogChange {
    /// The dataset.
    pub dataset: DatasetId,
    /// Its publisher.
    pub publisher: PublisherId,
    /// The version; its manifest's log index is the change's place in the feed.
    pub version: VersionSummary,
}

/// A version harvested from a peer, verified, with what it is found by.
#[derive(Clone, Debug)]
pub struct HarvestedVersion {
    /// The version.
    pub version: RemoteVersion,
    /// Its search document, from its verified manifest.
    pub search: SearchDocument,
    /// Its verified manifest's metadata, canonical JSON.
    pub metadata: String,
}

/// A peer's dataset at its newest version harvested, as this node's catalog lists it.
#[derive(Clone, Debug)]
pub struct PeerCatalogEntry {
    /// The peer's base URL.
    pub peer_url: String,
    /// The version.
    pub version: RemoteVersion,
    /// Its verified manifest's metadata, canonical JSON.
    pub metadata: String,
}

/// How a contact with a peer went.
#[derive(Clone, Debug)]
pub enum PeerContact {
    /// Its description verified: under `did` (pinned at a first contact) and naming it `name`.
    Seen {
        /// The DID that signed the description.
        did: String,
        /// The name the description gives.
        name: String,
        /// The prefix of its handles.
        identifier_prefix: String,
    },
    /// It was refused, for this reason; kept only for a known peer.
    Refused(String),
}

/// A published version with its signed manifest and files.
#[derive(Clone, Debug)]
pub struct VersionRecord {
    /// The version's place in history.
    pub summary: VersionSummary,
    /// The signed manifest's exact JSON text.
    pub manifest: String,
    /// Its files, ordered by name.
    pub files: Vec<FileEntry>,
}

/// One downloadable file and the access class of the version holding it.
#[derive(Clone, Debug)]
pub struct StoredFile {
    /// The version that holds the file.
    pub version: VersionNumber,
    /// Who may download it.
    pub access: AccessClass,
    /// When its version was published (the file's `Last-Modified`).
    pub published_at: DateTime<Utc>,
    /// The file.
    pub entry: FileEntry,
}

/// Filters of a catalog listing; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct DatasetFilter {
    /// Only this publisher's datasets.
    pub publisher: Option<PublisherId>,
    /// Only datasets of this access class.
    pub access: Option<AccessClass>,
    /// Only datasets carrying this keyword.
    pub keyword: Option<String>,
}

/// The persistence the node needs, by use case. Every method is atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a publisher with its first token; `Conflict` if the id is taken.
    async fn create_publisher(&self, publisher: &Publisher, token: &StoredToken) -> Result<(), StoreError>;

    /// Every publisher, by id.
    async fn publishers(&self) -> Result<Vec<Publisher>, StoreError>;

    /// One publisher; `NotFound` if unknown.
    async fn publisher(&self, id: &PublisherId) -> Result<Publisher, StoreError>;

    /// Looks a publisher token up by its public id.
    async fn find_token(&self, token_id: &str) -> Result<Option<StoredToken>, StoreError>;

    /// Records that a blob is durable in the blob store and, when a publisher's
    /// upload proved it holds the bytes, that proof; recording either again is harmless.
    async fn record_blob(
        &self,
        digest: &Sha256Digest,
        size: u64,
        holder: Option<&PublisherId>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The size of a recorded blob, or `None` if it was never recorded.
    async fn blob_size(&self, digest: &Sha256Digest) -> Result<Option<u64>, StoreError>;

    /// The size of a recorded blob that `holder` proved it holds, or `None`.
    async fn held_blob_size(&self, digest: &Sha256Digest, holder: &PublisherId) -> Result<Option<u64>, StoreError>;

    /// Forgets a blob unless a version references it; returns whether its bytes may be deleted.
    async fn forget_blob_if_unreferenced(&self, digest: &Sha256Digest) -> Result<bool, StoreError>;

    /// The owner and newest version of a dataset, if it exists.
    async fn dataset_head(&self, dataset: &DatasetId) -> Result<Option<DatasetHead>, StoreError>;

    /// Lists datasets ordered by id, after `after`, at most `limit`.
    async fn list_datasets(
        &self,
        filter: &DatasetFilter,
        after: Option<&DatasetId>,
        limit: u32,
    ) -> Result<Vec<DatasetSummary>, StoreError>;

    /// One dataset and its versions, newest first.
    async fn get_dataset(&self, dataset: &DatasetId) -> Result<(DatasetSummary, Vec<VersionSummary>), StoreError>;

    /// Up to `limit` published versions whose manifests stand in the log after index
    /// `after` (from the start when `None`), in log order. Log indices are assigned under
    /// the log's lock and committed in that order, so a reader never sees a later index
    /// before an earlier one: following `after` misses nothing.
    async fn catalog_changes(&self, after: Option<u64>, limit: u32) -> Result<Vec<CatalogChange>, StoreError>;

    /// One version (the newest when `version` is `None`).
    async fn get_version(
        &self,
        dataset: &DatasetId,
        version: Option<VersionNumber>,
    ) -> Result<VersionRecord, StoreError>;

    /// What the order-scoped token with this public id grants.
    async fn find_order_grant(&self, token_id: &str) -> Result<Option<OrderGrant>, StoreError>;

    /// One order, with its publisher and counts.
    async fn get_order(&self, order_id: &str) -> Result<OrderSummary, StoreError>;

    /// The orders of a publisher's datasets, newest first.
    async fn publisher_orders(&self, publisher: &PublisherId) -> Result<Vec<OrderSummary>, StoreError>;

    /// The downloads (receipted sessions) of `file` under the order, and whether `session`
    /// is one of them, read together so a session opening meanwhile is in both or neither.
    async fn delivery_tally(
        &self,
        order_id: &str,
        file: &FileName,
        session: &ReadSessionId,
    ) -> Result<DeliveryTally, StoreError>;

    /// The receipts of an order's completed deliveries, oldest first, with their log indices.
    async fn order_receipts(&self, order_id: &str) -> Result<Vec<(u64, String)>, StoreError>;

    /// Demands (of `kind` when given), newest first, posted before `before` (time, id) when
    /// given: a page of `limit`.
    async fn demands_page(
        &self,
        kind: Option<DemandKind>,
        before: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<DemandRecord>, StoreError>;

    /// A demand; `NotFound` if none has that id.
    async fn get_demand(&self, id: &str) -> Result<DemandRecord, StoreError>;

    /// A demand's answers, oldest first (at most [`MAX_ANSWERS`]).
    async fn demand_answers(&self, demand_id: &str) -> Result<Vec<AnswerRecord>, StoreError>;

    /// An answer; `NotFound` if none has that id.
    async fn get_answer(&self, id: &str) -> Result<AnswerRecord, StoreError>;

    /// Integrates a batch of log writes in one transaction: the rows each needs, the log
    /// entries at dense indices in batch order, the tree's new subtrees and the checkpoint
    /// `sign` makes of the new size. One result per write, in order; a write that fails
    /// changes nothing and the others stand. `Err` when the whole batch failed.
    async fn integrate(
        &self,
        batch: &[LogWrite],
        sign: &CheckpointSigner,
    ) -> Result<Vec<Result<LogWritten, StoreError>>, StoreError>;

    /// Records a download refused under an order.
    async fn record_refusal(
        &self,
        order_id: &str,
        file: &FileName,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The version manifests the catalog keeps a copy of besides the log that claim a log
    /// index in `start..end`, with that index.
    async fn logged_copies(&self, start: u64, end: u64) -> Result<Vec<LoggedCopy>, StoreError>;

    /// The receipted deliveries whose receipts claim a log index in `start..end`.
    async fn receipted_deliveries(&self, start: u64, end: u64) -> Result<Vec<ReceiptedDelivery>, StoreError>;

    /// Number of entries in the transparency log.
    async fn log_size(&self) -> Result<u64, StoreError>;

    /// Leaf hashes of the log entries `start <= index < end`, in order.
    async fn log_leaves(&self, start: u64, end: u64) -> Result<Vec<[u8; 32]>, StoreError>;

    /// The DID of the key this database's log is signed with, once recorded.
    async fn node_identity(&self) -> Result<Option<String>, StoreError>;

    /// Records the DID of the node's key (replacing an earlier one: a deliberate re-initialisation).
    async fn record_node_identity(&self, did: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The peer kept under this base URL.
    async fn peer(&self, url: &str) -> Result<Option<Peer>, StoreError>;

    /// Every peer, by URL.
    async fn peers(&self) -> Result<Vec<Peer>, StoreError>;

    /// Records a contact with a peer at `at`: a first sighting adds it pinned to the DID
    /// seen, a later one keeps the pinned DID; a refusal is recorded for a known peer only.
    async fn record_peer_contact(&self, url: &str, contact: &PeerContact, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Forgets a peer, its pin and what was harvested from it; whether it was known.
    async fn remove_peer(&self, url: &str) -> Result<bool, StoreError>;

    /// Sets whether the peer at `url` is asked to cosign this node's checkpoints; whether it is known.
    async fn set_peer_witnesses_us(&self, url: &str, witnesses: bool) -> Result<bool, StoreError>;

    /// The cosignature lines kept for this node's checkpoint of `size`, with their witness.
    async fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>, StoreError>;

    /// Keeps the cosignature line `witness` (a DID) returned for the checkpoint of `size`.
    async fn record_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The largest checkpoint size `witness` cosigned, if it cosigned one.
    async fn cosigned_size(&self, witness: &str) -> Result<Option<u64>, StoreError>;

    /// As a witness: the latest checkpoint verified of the log with `origin`.
    async fn witnessed_checkpoint(&self, origin: &str) -> Result<Option<WitnessedCheckpoint>, StoreError>;

    /// As a witness: makes `latest` the latest checkpoint of the log with `origin`, if the
    /// latest recorded is still of size `old_size` (0: none yet); whether it did. The
    /// compare and the write are one statement, so two submissions cannot roll it back.
    async fn advance_witnessed_checkpoint(
        &self,
        origin: &str,
        old_size: u64,
        latest: &WitnessedCheckpoint,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// As a witness: keeps the evidence of a log that showed two trees (the first 100 per log).
    async fn record_witness_conflict(&self, conflict: &Conflict) -> Result<(), StoreError>;

    /// As a witness: the newest `limit` conflicts kept, newest first.
    async fn witness_conflicts(&self, limit: u32) -> Result<Vec<Conflict>, StoreError>;

    /// Keeps a page of a peer's harvested versions (a version kept before stays as it was)
    /// and that its change feed was read (through `through`, if it lists anything) at `at`;
    /// the datasets harvested go to the search feed in the same transaction.
    async fn record_harvest(
        &self,
        url: &str,
        versions: &[HarvestedVersion],
        through: Option<u64>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Keeps demands a peer's board listed (one kept before takes the state given now).
    async fn record_remote_demands(
        &self,
        url: &str,
        demands: &[RemoteDemand],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// When the newest demand kept from the peer at `url` was posted there.
    async fn newest_remote_demand(&self, url: &str) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// The newest `limit` demands kept from every peer, with the peer they are at.
    async fn remote_demands(&self, limit: u32) -> Result<Vec<RemoteDemandRecord>, StoreError>;

    /// The newest `limit` versions harvested from peers, each the newest of its dataset,
    /// newest first, with the URL of the peer holding it.
    async fn newest_remote_versions(&self, limit: u32) -> Result<Vec<(String, RemoteVersion)>, StoreError>;

    /// Peers' datasets at their newest versions harvested (those whose metadata is kept),
    /// in order of (peer URL, dataset) after `after`, at most `limit`.
    async fn peer_catalog(
        &self,
        after: Option<(&str, &DatasetId)>,
        limit: u32,
    ) -> Result<Vec<PeerCatalogEntry>, StoreError>;

    /// The newest version harvested of each of these peers' datasets (peer URL, dataset)
    /// that this node keeps, with its peer's URL and metadata.
    async fn held_remote_versions(&self, held: &[(String, DatasetId)]) -> Result<Vec<PeerCatalogEntry>, StoreError>;

    /// The peer whose handles have `prefix`, if one does, and the version of `dataset`
    /// harvested from it (its newest when `version` is `None`), if there is one.
    async fn remote_version(
        &self,
        prefix: &str,
        dataset: &DatasetId,
        version: Option<VersionNumber>,
    ) -> Result<Option<(Peer, Option<RemoteVersion>)>, StoreError>;

    /// The hashes of stored subtrees of the log's tree (those not stored are absent).
    async fn subtree_hashes(&self, subtrees: &[Subtree]) -> Result<HashMap<Subtree, [u8; 32]>, StoreError>;

    /// How many leaves the stored tree holds (fewer than the log's size only before a log
    /// written by an older node is converted).
    async fn stored_tree_size(&self) -> Result<u64, StoreError>;

    /// Stores subtree hashes of the log's tree, keeping any already stored; appenders wait.
    async fn store_subtrees(&self, nodes: &[(Subtree, [u8; 32])]) -> Result<(), StoreError>;

    /// The checkpoint note signed for a tree size, if one was.
    async fn checkpoint_note(&self, size: u64) -> Result<Option<String>, StoreError>;

    /// The checkpoint notes kept for tree sizes above `after`, smallest first, at most `limit`.
    async fn checkpoint_notes(&self, after: u64, limit: u32) -> Result<Vec<(u64, String)>, StoreError>;

    /// Keeps the checkpoint note signed for a tree size (the first one kept wins; Ed25519
    /// signatures are deterministic, so replicas sign the same note anyway).
    async fn record_checkpoint_note(&self, size: u64, note: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Log entries from `start` towards `end` (exclusive), stopping before the entry that
    /// would take their text past `max_bytes` — but never before the first.
    async fn log_entries(&self, start: u64, end: u64, max_bytes: u64) -> Result<Vec<LogEntry>, StoreError>;

    /// Records what inspecting a blob as a table of `format` found: the profile's JSON or why it is unreadable.
    async fn save_table_profile(
        &self,
        digest: &Sha256Digest,
        format: &str,
        inspection: &Result<String, String>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// What inspecting a blob as a table of `format` found, if it was inspected.
    async fn table_profile(
        &self,
        digest: &Sha256Digest,
        format: &str,
    ) -> Result<Option<Result<String, String>>, StoreError>;

    /// The search feed after position `after`, up to `limit` changes in order, each with
    /// the dataset as it now is.
    async fn search_changes(&self, after: u64, limit: u32) -> Result<Vec<SearchChange>, StoreError>;

    /// Woken when any replica writes to the search feed, where the database can tell
    /// (PostgreSQL `LISTEN`); `None` where it cannot, and the feed is polled.
    fn search_feed_notices(&self) -> Option<Arc<tokio::sync::Notify>>;

    /// The search feed's last position handed out.
    async fn search_feed_head(&self) -> Result<u64, StoreError>;

    /// Demands as search indexes them, by id after `after`, up to `limit` (rebuilding an index).
    async fn indexed_demands(&self, after: Option<&str>, limit: u32) -> Result<Vec<IndexedItem>, StoreError>;

    /// Peers' datasets at their newest versions, as the index holds them, in order of
    /// (peer URL, dataset) after `after`, at most `limit` (rebuilding an index).
    async fn indexed_peer_datasets(
        &self,
        after: Option<(&str, &DatasetId)>,
        limit: u32,
    ) -> Result<Vec<IndexedItem>, StoreError>;

    /// Datasets as search indexes them, by id after `after`, up to `limit` (rebuilding an index).
    async fn indexed_datasets(&self, after: Option<&DatasetId>, limit: u32) -> Result<Vec<IndexedItem>, StoreError>;

    /// The catalog entries of these datasets (those that exist), in no particular order.
    async fn dataset_summaries(&self, ids: &[DatasetId]) -> Result<Vec<DatasetSummary>, StoreError>;

    /// Datasets published before search documents were stored, up to `limit`.
    async fn datasets_without_search_document(&self, limit: u32) -> Result<Vec<DatasetId>, StoreError>;

    /// Stores a dataset's search document and feeds the change; returns its feed position.
    async fn set_search_document(&self, dataset: &DatasetId, document: &SearchDocument) -> Result<u64, StoreError>;

    /// Adds completed open downloads to datasets' counts, and feeds the change to search.
    /// Returns the last feed position written (0 when `counts` is empty).
    async fn add_downloads(&self, counts: &[(DatasetId, u64)]) -> Result<u64, StoreError>;

    /// One file of a version (the newest when `version` is `None`).
    async fn get_file(
        &self,
        dataset: &DatasetId,
        version: Option<VersionNumber>,
        name: &FileName,
    ) -> Result<StoredFile, StoreError>;
}

/// Opens the store a database URL names (`sqlite://…` or `postgres://…`) and migrates it.
pub async fn connect(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else {
        anyhow::bail!("unsupported database URL (expected sqlite:// or postgres://)")
    }
}
