//! Row shapes shared by both backends and their decoding into domain types.
//!
//! Columns use only TEXT and BIGINT, so one `FromRow` derive serves SQLite
//! and PostgreSQL alike; a row this build cannot decode is an internal error.

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};

use super::{CatalogChange, DatasetSummary, Publisher, StoreError, StoredFile, StoredToken, VersionSummary};
use crate::domain::node::{Peer, RemoteDemand, RemoteVersion};
use crate::domain::{FileEntry, Sha256Digest, VersionNumber};
use crate::ledger::stored::Subtree;
use crate::search::{IndexedItem, SearchChange, SearchKey};

/// Encodes a time in the fixed-width form every table uses.
pub(super) fn encode_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) fn decode_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    Ok(DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("stored time {text:?}"))?
        .with_timezone(&Utc))
}

pub(super) fn decode<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|error| StoreError::Other(anyhow::anyhow!("stored {what} {text:?}: {error}")))
}

fn decode_size(size: i64) -> Result<u64, StoreError> {
    u64::try_from(size).map_err(|_| StoreError::Other(anyhow::anyhow!("stored size {size} is negative")))
}

fn decode_version(version: i64) -> Result<VersionNumber, StoreError> {
    VersionNumber::try_from(version).map_err(|error| StoreError::Other(error.into()))
}

/// `publisher_tokens` row.
#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    id: String,
    publisher_id: String,
    secret_sha256: String,
}

impl TokenRow {
    pub(super) fn decode(self) -> Result<StoredToken, StoreError> {
        Ok(StoredToken {
            publisher: decode("publisher id", &self.publisher_id)?,
            secret_sha256: decode("digest", &self.secret_sha256)?,
            id: self.id,
        })
    }
}

/// `publishers` row.
#[derive(sqlx::FromRow)]
pub(super) struct PublisherRow {
    id: String,
    name: String,
    created_at: String,
}

impl PublisherRow {
    pub(super) fn decode(self) -> Result<Publisher, StoreError> {
        Ok(Publisher {
            id: decode("publisher id", &self.id)?,
            name: self.name,
            created_at: decode_time(&self.created_at)?,
        })
    }
}

/// `datasets` row.
#[derive(sqlx::FromRow)]
pub(super) struct DatasetRow {
    id: String,
    publisher_id: String,
    latest_version: i64,
    metadata: String,
    created_at: String,
    updated_at: String,
}

impl DatasetRow {
    pub(super) fn decode(self) -> Result<DatasetSummary, StoreError> {
        Ok(DatasetSummary {
            id: decode("dataset id", &self.id)?,
            publisher: decode("publisher id", &self.publisher_id)?,
            metadata: serde_json::from_str(&self.metadata).context("stored metadata")?,
            latest_version: decode_version(self.latest_version)?,
            created_at: decode_time(&self.created_at)?,
            updated_at: decode_time(&self.updated_at)?,
        })
    }
}

/// A `datasets` or `demands` row as search indexes it, its id as its [`SearchKey::text`].
#[derive(sqlx::FromRow)]
pub(super) struct IndexedRow {
    id: String,
    search_document: String,
    downloads: i64,
    created_at: String,
    updated_at: String,
}

impl IndexedRow {
    pub(super) fn decode(self) -> Result<IndexedItem, StoreError> {
        Ok(IndexedItem {
            key: decode::<SearchKey>("search key", &self.id)?,
            document: serde_json::from_str(&self.search_document).context("stored search document")?,
            downloads: u64::try_from(self.downloads).unwrap_or(0),
            created_at: decode_time(&self.created_at)?,
            updated_at: decode_time(&self.updated_at)?,
        })
    }
}

/// A peer's dataset at its newest harvested version, as search indexes it.
#[derive(sqlx::FromRow)]
pub(super) struct PeerSearchRow {
    peer_url: String,
    dataset_id: String,
    search_document: String,
    published_at: String,
    created_at: String,
}

/// The condition on a `remote_versions r` row that it is its dataset's newest version harvested.
pub(super) const NEWEST_REMOTE_VERSION: &str = "NOT EXISTS (SELECT 1 FROM remote_versions n \
     WHERE n.peer_url = r.peer_url AND n.dataset_id = r.dataset_id AND n.version > r.version)";

/// Selects [`PeerSearchRow`]s: each peer dataset at its newest version (one whose search
/// document is kept), first published when its first version kept was; the caller adds
/// `AND` conditions on `r`.
pub(super) fn peer_search_select() -> String {
    format!(
        "SELECT r.peer_url, r.dataset_id, r.search_document, r.published_at, \
         (SELECT MIN(f.published_at) FROM remote_versions f WHERE f.peer_url = r.peer_url AND f.dataset_id = r.dataset_id) \
         AS created_at FROM remote_versions r WHERE r.search_document <> '' AND {NEWEST_REMOTE_VERSION}"
    )
}

/// Selects [`PeerCatalogRow`]s: each peer dataset at its newest version, with its peer's URL
/// and metadata; the caller adds `AND` conditions on `r`.
pub(super) fn peer_catalog_select() -> String {
    format!("SELECT peer_url, {REMOTE_VERSION_COLUMNS}, metadata FROM remote_versions r WHERE {NEWEST_REMOTE_VERSION}")
}

impl PeerSearchRow {
    pub(super) fn decode(self) -> Result<IndexedItem, StoreError> {
        Ok(IndexedItem {
            key: SearchKey::Peer {
                url: self.peer_url,
                dataset: decode("dataset id", &self.dataset_id)?,
            },
            document: serde_json::from_str(&self.search_document).context("stored search document")?,
            downloads: 0,
            created_at: decode_time(&self.created_at)?,
            updated_at: decode_time(&self.published_at)?,
        })
    }
}

/// A `demands` row as search indexes it.
#[derive(sqlx::FromRow)]
pub(super) struct DemandSearchRow {
    id: String,
    kind: String,
    document: String,
    created_at: String,
}

impl DemandSearchRow {
    pub(super) fn decode(self) -> Result<IndexedItem, StoreError> {
        let document: serde_json::Value = serde_json::from_str(&self.document).context("stored demand")?;
        let created_at = decode_time(&self.created_at)?;
        Ok(IndexedItem {
            document: crate::search::demand_document(&self.kind, &document),
            key: SearchKey::Demand(self.id),
            downloads: 0,
            created_at,
            updated_at: created_at,
        })
    }
}

/// A `search_changes` row with its item as it now is (absent when gone or not yet documented).
#[derive(sqlx::FromRow)]
pub(super) struct SearchChangeRow {
    sequence: i64,
    dataset_id: String,
    search_document: Option<String>,
    downloads: Option<i64>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl SearchChangeRow {
    pub(super) fn decode(self) -> Result<SearchChange, StoreError> {
        let item = match (self.search_document, self.downloads, self.created_at, self.updated_at) {
            (Some(search_document), Some(downloads), Some(created_at), Some(updated_at))
                if !search_document.is_empty() =>
            {
                Some(
                    IndexedRow {
                        id: self.dataset_id.clone(),
                        search_document,
                        downloads,
                        created_at,
                        updated_at,
                    }
                    .decode()?,
                )
            }
            _ => None,
        };
        Ok(SearchChange {
            sequence: decode_index(self.sequence)?,
            key: decode::<SearchKey>("search key", &self.dataset_id)?,
            item,
        })
    }
}

/// `versions` row without the manifest text.
#[derive(sqlx::FromRow)]
pub(super) struct VersionRow {
    version: i64,
    access: String,
    manifest_sha256: String,
    published_at: String,
    log_index: Option<i64>,
}

impl VersionRow {
    pub(super) fn decode(self) -> Result<VersionSummary, StoreError> {
        Ok(VersionSummary {
            version: decode_version(self.version)?,
            access: decode("access class", &self.access)?,
            manifest_digest: decode("digest", &self.manifest_sha256)?,
            published_at: decode_time(&self.published_at)?,
            log_index: self.log_index.map(decode_index).transpose()?,
        })
    }
}

/// `versions` row with its dataset and publisher, as the change feed reads it.
#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    #[sqlx(flatten)]
    summary: VersionRow,
    dataset_id: String,
    publisher_id: String,
}

impl ChangeRow {
    pub(super) fn decode(self) -> Result<CatalogChange, StoreError> {
        Ok(CatalogChange {
            dataset: decode("dataset id", &self.dataset_id)?,
            publisher: decode("publisher id", &self.publisher_id)?,
            version: self.summary.decode()?,
        })
    }
}

/// `versions` row with its manifest text.
#[derive(sqlx::FromRow)]
pub(super) struct ManifestRow {
    #[sqlx(flatten)]
    pub(super) summary: VersionRow,
    pub(super) manifest: String,
}

/// `log_entries` row.
#[derive(sqlx::FromRow)]
pub(super) struct LogRow {
    idx: i64,
    kind: String,
    entry: String,
    leaf_sha256: String,
    created_at: String,
}

impl LogRow {
    pub(super) fn decode(self) -> Result<super::LogEntry, StoreError> {
        Ok(super::LogEntry {
            index: decode_index(self.idx)?,
            kind: self.kind,
            entry: self.entry,
            leaf: decode_leaf(&self.leaf_sha256)?,
            created_at: decode_time(&self.created_at)?,
        })
    }
}

/// Decodes a download limit column.
fn decode_limit(limit: i64) -> Result<u32, StoreError> {
    u32::try_from(limit)
        .map_err(|_| StoreError::Other(anyhow::anyhow!("stored download limit {limit} is out of range")))
}

/// Decodes a leaf (or root) hash column.
pub(super) fn decode_leaf(text: &str) -> Result<[u8; 32], StoreError> {
    decode::<Sha256Digest>("leaf hash", text).map(|digest| *digest.as_bytes())
}

/// Decodes a log index or count column.
pub(super) fn decode_index(index: i64) -> Result<u64, StoreError> {
    u64::try_from(index).map_err(|_| StoreError::Other(anyhow::anyhow!("stored log index {index} is negative")))
}

/// Converts a log index or count to the column type.
pub(super) fn encode_index(index: u64) -> Result<i64, StoreError> {
    i64::try_from(index).map_err(|_| StoreError::Conflict(format!("log index {index} is out of range")))
}

/// `version_files` row, joined with its version's access class.
#[derive(sqlx::FromRow)]
pub(super) struct FileRow {
    version: i64,
    access: String,
    published_at: String,
    name: String,
    media_type: String,
    size_bytes: i64,
    sha256: String,
    derived_from: Option<String>,
    resource: Option<String>,
}

impl FileRow {
    pub(super) fn decode(self) -> Result<StoredFile, StoreError> {
        Ok(StoredFile {
            version: decode_version(self.version)?,
            access: decode("access class", &self.access)?,
            published_at: decode_time(&self.published_at)?,
            entry: FileEntry {
                name: decode("file name", &self.name)?,
                media_type: decode("media type", &self.media_type)?,
                size: decode_size(self.size_bytes)?,
                sha256: decode::<Sha256Digest>("digest", &self.sha256)?,
                derived_from: self
                    .derived_from
                    .as_deref()
                    .map(|name| decode("file name", name))
                    .transpose()?,
                resource: self
                    .resource
                    .as_deref()
                    .map(|name| decode("resource name", name))
                    .transpose()?,
            },
        })
    }
}

/// Converts a size to the signed column type; sizes above `i64::MAX` cannot exist on disk.
pub(super) fn encode_size(size: u64) -> Result<i64, StoreError> {
    i64::try_from(size).map_err(|_| StoreError::Conflict(format!("size {size} is too large")))
}

/// Decodes a size column.
pub(super) fn size_from_column(size: i64) -> Result<u64, StoreError> {
    decode_size(size)
}

/// Decodes the columns of a dataset head.
pub(super) fn decode_head(publisher: &str, latest: i64, content: &str) -> Result<super::DatasetHead, StoreError> {
    Ok(super::DatasetHead {
        publisher: decode("publisher id", publisher)?,
        latest: decode_version(latest)?,
        latest_content: decode("digest", content)?,
    })
}

/// `orders` row, as a token lookup needs it.
#[derive(sqlx::FromRow)]
pub(super) struct GrantRow {
    id: String,
    buyer: String,
    dataset_id: String,
    version: i64,
    state: String,
    valid_until: Option<String>,
    max_downloads: i64,
    token_sha256: String,
    order_sha256: String,
    demand_id: Option<String>,
}

impl GrantRow {
    pub(super) fn decode(self) -> Result<super::OrderGrant, StoreError> {
        Ok(super::OrderGrant {
            order_id: self.id,
            buyer: self.buyer,
            dataset: decode("dataset id", &self.dataset_id)?,
            version: decode_version(self.version)?,
            state: decode("order state", &self.state)?,
            valid_until: self.valid_until.as_deref().map(decode_time).transpose()?,
            max_downloads: decode_limit(self.max_downloads)?,
            token_secret_sha256: decode("digest", &self.token_sha256)?,
            order_digest: decode("digest", &self.order_sha256)?,
            demand: self.demand_id,
        })
    }
}

/// `demands` row with its number of answers.
#[derive(sqlx::FromRow)]
pub(super) struct DemandRow {
    id: String,
    kind: String,
    poster: String,
    document: String,
    state: String,
    budget_fen: i64,
    deadline: String,
    accepted_answer: Option<String>,
    answers: i64,
    created_at: String,
}

/// The columns [`DemandRow`] reads, from `demands d`.
pub(super) const DEMAND_COLUMNS: &str = "d.id, d.kind, d.poster, d.document, d.state, d.budget_fen, d.deadline, \
    d.accepted_answer, d.created_at, (SELECT COUNT(*) FROM demand_answers a WHERE a.demand_id = d.id) AS answers";

impl DemandRow {
    pub(super) fn decode(self) -> Result<super::DemandRecord, StoreError> {
        Ok(super::DemandRecord {
            id: self.id,
            kind: decode("demand kind", &self.kind)?,
            poster: self.poster,
            document: self.document,
            state: decode("demand state", &self.state)?,
            budget_fen: decode_size(self.budget_fen)?,
            deadline: decode_time(&self.deadline)?,
            accepted_answer: self.accepted_answer,
            answers: decode_size(self.answers)?,
            created_at: decode_time(&self.created_at)?,
        })
    }
}

/// `demand_answers` row.
#[derive(sqlx::FromRow)]
pub(super) struct AnswerRow {
    id: String,
    demand_id: String,
    provider: String,
    publisher_id: String,
    dataset_id: String,
    version: Option<i64>,
    price_fen: i64,
    document: String,
    created_at: String,
}

/// The columns [`AnswerRow`] reads.
pub(super) const ANSWER_COLUMNS: &str =
    "id, demand_id, provider, publisher_id, dataset_id, version, price_fen, document, created_at";

impl AnswerRow {
    pub(super) fn decode(self) -> Result<super::AnswerRecord, StoreError> {
        Ok(super::AnswerRecord {
            id: self.id,
            demand_id: self.demand_id,
            provider: self.provider,
            publisher: decode("publisher id", &self.publisher_id)?,
            dataset: decode("dataset id", &self.dataset_id)?,
            version: self.version.map(decode_version).transpose()?,
            price_fen: decode_size(self.price_fen)?,
            document: self.document,
            created_at: decode_time(&self.created_at)?,
        })
    }
}

/// `orders` row joined with its dataset's publisher and delivery counts.
#[derive(sqlx::FromRow)]
pub(super) struct OrderRow {
    id: String,
    dataset_id: String,
    publisher_id: String,
    version: i64,
    buyer: String,
    state: String,
    order_doc: String,
    order_sha256: String,
    agreement: Option<String>,
    demand_id: Option<String>,
    valid_until: Option<String>,
    max_downloads: i64,
    completed_deliveries: i64,
    refusals: i64,
    created_at: String,
}

impl OrderRow {
    pub(super) fn decode(self) -> Result<super::OrderSummary, StoreError> {
        Ok(super::OrderSummary {
            id: self.id,
            dataset: decode("dataset id", &self.dataset_id)?,
            publisher: decode("publisher id", &self.publisher_id)?,
            version: decode_version(self.version)?,
            buyer: self.buyer,
            state: decode("order state", &self.state)?,
            order: self.order_doc,
            order_digest: decode("digest", &self.order_sha256)?,
            agreement: self.agreement,
            demand: self.demand_id,
            valid_until: self.valid_until.as_deref().map(decode_time).transpose()?,
            max_downloads: decode_limit(self.max_downloads)?,
            completed_deliveries: decode_index(self.completed_deliveries)?,
            refusals: decode_index(self.refusals)?,
            created_at: decode_time(&self.created_at)?,
        })
    }
}

/// The columns [`OrderRow`] reads, from `orders o JOIN datasets d`.
pub(super) const ORDER_COLUMNS: &str = "o.id, o.dataset_id, d.publisher_id, o.version, o.buyer, o.state, o.order_doc, \
    o.order_sha256, o.agreement, o.demand_id, o.valid_until, o.max_downloads, o.created_at, \
    (SELECT COUNT(*) FROM deliveries x WHERE x.order_id = o.id AND x.log_index IS NOT NULL) AS completed_deliveries, \
    (SELECT COUNT(*) FROM access_refusals r WHERE r.order_id = o.id) AS refusals";

/// Bits of a stored subtree's key that hold its level.
const LEVEL_BITS: u32 = 6;

/// The key of a stored subtree: the last leaf it covers · 64 + its level. Every subtree a
/// leaf completes covers that leaf last, so keys grow in the order the tree is written and
/// a batch writes at the end of the table's b-tree.
pub(super) fn encode_subtree(subtree: Subtree) -> Result<i64, StoreError> {
    // The leaves up to and including its last: (index + 1) · 2^level, at most 2^57 so the
    // key fits a signed 64-bit integer.
    let leaves_through = (subtree.level <= 63 - LEVEL_BITS)
        .then(|| subtree.index.checked_add(1)?.checked_mul(1 << subtree.level))
        .flatten()
        .filter(|leaves| *leaves <= 1 << (63 - LEVEL_BITS))
        .ok_or_else(|| StoreError::Conflict(format!("subtree {subtree:?} is out of range")))?;
    encode_index(((leaves_through - 1) << LEVEL_BITS) | u64::from(subtree.level))
}

/// The subtree a stored key names.
pub(super) fn decode_subtree(node: i64) -> Result<Subtree, StoreError> {
    let node = decode_index(node)?;
    let level = (node & ((1 << LEVEL_BITS) - 1)) as u32;
    let after = (node >> LEVEL_BITS) + 1;
    if after.trailing_zeros() < level {
        return Err(StoreError::Other(anyhow::anyhow!("bad subtree key {node}")));
    }
    Ok(Subtree {
        level,
        index: (after >> level) - 1,
    })
}

/// How many leaves a stored tree holds whose greatest key is `node`: the subtrees of its
/// newest leaf are written with it and hold the greatest keys.
pub(super) fn stored_leaves(node: i64) -> Result<u64, StoreError> {
    Ok((decode_index(node)? >> LEVEL_BITS) + 1)
}

/// A `peers` row.
#[derive(sqlx::FromRow)]
pub(super) struct PeerRow {
    url: String,
    did: String,
    name: String,
    added_at: String,
    last_seen_at: Option<String>,
    last_harvested_at: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    identifier_prefix: Option<String>,
    harvested_through: Option<i64>,
    witnesses_us: i64,
}

/// The columns of a [`PeerRow`], in a `SELECT`.
pub(super) const PEER_COLUMNS: &str = "url, did, name, added_at, last_seen_at, last_harvested_at, last_error, \
     last_error_at, identifier_prefix, harvested_through, witnesses_us";

impl TryFrom<PeerRow> for Peer {
    type Error = StoreError;

    fn try_from(row: PeerRow) -> Result<Self, StoreError> {
        let time = |text: Option<String>| text.as_deref().map(decode_time).transpose();
        Ok(Peer {
            added_at: decode_time(&row.added_at)?,
            last_seen_at: time(row.last_seen_at)?,
            last_harvested_at: time(row.last_harvested_at)?,
            last_error_at: time(row.last_error_at)?,
            url: row.url,
            did: row.did,
            name: row.name,
            last_error: row.last_error,
            identifier_prefix: row.identifier_prefix,
            harvested_through: row.harvested_through.map(decode_index).transpose()?,
            witnesses_us: row.witnesses_us != 0,
        })
    }
}

/// A `remote_versions` row.
#[derive(sqlx::FromRow)]
pub(super) struct RemoteVersionRow {
    dataset_id: String,
    version: i64,
    access: String,
    title: String,
    manifest_digest: String,
    log_index: i64,
    published_at: String,
}

/// A [`RemoteVersionRow`] with the URL of the peer holding it.
#[derive(sqlx::FromRow)]
pub(super) struct HeldRemoteVersionRow {
    peer_url: String,
    #[sqlx(flatten)]
    version: RemoteVersionRow,
}

/// A `remote_versions` row at its dataset's newest version, with its peer and metadata.
#[derive(sqlx::FromRow)]
pub(super) struct PeerCatalogRow {
    peer_url: String,
    #[sqlx(flatten)]
    version: RemoteVersionRow,
    metadata: String,
}

impl PeerCatalogRow {
    pub(super) fn decode(self) -> Result<super::PeerCatalogEntry, StoreError> {
        Ok(super::PeerCatalogEntry {
            peer_url: self.peer_url,
            version: RemoteVersion::try_from(self.version)?,
            metadata: self.metadata,
        })
    }
}

impl HeldRemoteVersionRow {
    pub(super) fn decode(self) -> Result<(String, RemoteVersion), StoreError> {
        Ok((self.peer_url, RemoteVersion::try_from(self.version)?))
    }
}

/// The columns of a [`RemoteVersionRow`], in a `SELECT`.
pub(super) const REMOTE_VERSION_COLUMNS: &str =
    "dataset_id, version, access, title, manifest_digest, log_index, published_at";

impl TryFrom<RemoteVersionRow> for RemoteVersion {
    type Error = StoreError;

    fn try_from(row: RemoteVersionRow) -> Result<Self, StoreError> {
        Ok(RemoteVersion {
            dataset: decode("dataset id", &row.dataset_id)?,
            version: decode("version", &row.version.to_string())?,
            access: decode("access", &row.access)?,
            title: serde_json::from_str(&row.title).context("stored remote title")?,
            manifest_digest: decode("manifest digest", &row.manifest_digest)?,
            log_index: decode_index(row.log_index)?,
            published_at: decode_time(&row.published_at)?,
        })
    }
}

/// A `remote_demands` row with its peer's name.
#[derive(sqlx::FromRow)]
pub(super) struct RemoteDemandRow {
    peer_url: String,
    peer_name: String,
    id: String,
    kind: String,
    state: String,
    document: String,
    created_at: String,
}

/// The columns [`RemoteDemandRow`] reads, from `remote_demands r` joined with `peers p`.
pub(super) const REMOTE_DEMAND_COLUMNS: &str =
    "r.peer_url, p.name AS peer_name, r.id, r.kind, r.state, r.document, r.created_at";

impl RemoteDemandRow {
    pub(super) fn decode(self) -> Result<super::RemoteDemandRecord, StoreError> {
        Ok(super::RemoteDemandRecord {
            peer_url: self.peer_url,
            peer_name: self.peer_name,
            demand: RemoteDemand {
                id: self.id,
                kind: decode("demand kind", &self.kind)?,
                state: decode("demand state", &self.state)?,
                document: self.document,
                created_at: decode_time(&self.created_at)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::stored::TreeBuilder;

    #[test]
    fn stored_subtree_keys_grow_as_the_tree_is_written_and_name_their_subtree() {
        let mut tree = TreeBuilder::default();
        let mut last_key = -1;
        for leaf in 0..5_000_u64 {
            for (subtree, _) in tree.push([(leaf % 251) as u8; 32]) {
                let key = encode_subtree(subtree).expect("in range");
                assert!(key > last_key, "{subtree:?} keyed {key} after {last_key}");
                last_key = key;
                assert_eq!(decode_subtree(key).expect("a key"), subtree);
            }
            assert_eq!(stored_leaves(last_key).expect("a key"), leaf + 1);
        }
        let widest = Subtree {
            level: 40,
            index: (1 << 17) - 1,
        };
        assert_eq!(
            decode_subtree(encode_subtree(widest).expect("fits")).expect("a key"),
            widest
        );
        assert!(
            encode_subtree(Subtree {
                level: 40,
                index: 1 << 17
            })
            .is_err(),
            "past 2^57 leaves"
        );
        assert!(encode_subtree(Subtree { level: 64, index: 0 }).is_err());
        assert!(
            decode_subtree((5 << LEVEL_BITS) | 2).is_err(),
            "leaf 5 ends no subtree of 4"
        );
    }
}
