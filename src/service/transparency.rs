//! Reading the transparency log: signed checkpoints, entries and proofs.
//!
//! Roots and proofs are read from the stored tree (`ledger::stored`): O(log n)
//! hashes in one query, whatever the log's size. Every answer names the tree
//! size it is relative to, so a client pairs it with a checkpoint of that size.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Context, NodeIdentity};
use serde_json::Value;

use crate::crypto::{canonical, note, sign_document};
use crate::domain::{EntryKind, Sha256Digest};
use crate::error::AppError;
use crate::ledger::stored::{self, Subtree};
use crate::ledger::tiles::{Tile, TileKind};
use crate::ledger::{Checkpoint, merkle, origin_for};
use crate::store::LoggedDocument;
use crate::store::Store;

/// Most entries one request returns.
pub const MAX_ENTRIES_PER_PAGE: u64 = 1000;

/// A log entry as served.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    /// Its 0-based index.
    pub index: u64,
    /// What it records.
    pub kind: String,
    /// Base64 RFC 9162 leaf hash of `entry`'s canonical text.
    pub leaf_hash: String,
    /// The logged document; its RFC 8785 canonical form is the leaf.
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
    /// When it was appended.
    pub appended_at: DateTime<Utc>,
}

/// An inclusion proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InclusionView {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Base64 leaf hash of the entry.
    pub leaf_hash: String,
    /// Base64 audit path, leaf to root (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
}

/// A consistency proof.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyView {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// Base64 consistency path (RFC 9162 §2.1.4).
    pub proof: Vec<String>,
}

/// The log's origin line, which also names the key that signs checkpoints.
pub fn origin(ctx: &Context) -> String {
    origin_for(&ctx.node.key.public())
}

/// The note verifier key (`<origin>+<id>+<key>`) that checks this log's checkpoints.
pub fn verifier_key(ctx: &Context) -> String {
    note::verifier_key(&origin(ctx), &ctx.node.key.public())
}

/// The current checkpoint as a signed note, with the cosignatures its witnesses gave it.
pub async fn checkpoint(ctx: &Context) -> Result<String, AppError> {
    let (size, note) = signed_checkpoint(ctx).await?;
    with_cosignatures(ctx, size, note).await
}

/// The current checkpoint signed by this node alone, and its tree size: signed once per
/// tree size, then served as stored.
pub async fn signed_checkpoint(ctx: &Context) -> Result<(u64, String), AppError> {
    let size = ctx.store.log_size().await?;
    if let Some(note) = ctx.store.checkpoint_note(size).await? {
        return Ok((size, note));
    }
    let note = sign_checkpoint(&ctx.node, size, tree_root(ctx, size).await?).map_err(anyhow::Error::from)?;
    ctx.store.record_checkpoint_note(size, &note, Utc::now()).await?;
    Ok((size, note))
}

/// The checkpoint `note` of `size` with the cosignature lines kept for it appended (a
/// note verifier ignores the lines of keys it does not know).
pub async fn with_cosignatures(ctx: &Context, size: u64, mut note: String) -> Result<String, AppError> {
    for (_, line) in ctx.store.cosignatures(size).await? {
        note.push_str(&line);
    }
    Ok(note)
}

/// The node's signed checkpoint note of the tree of `size` leaves with this `root`.
pub fn sign_checkpoint(
    node: &NodeIdentity,
    size: u64,
    root: merkle::Hash,
) -> Result<String, crate::ledger::CheckpointError> {
    Checkpoint {
        origin: origin_for(&node.key.public()),
        size,
        root,
    }
    .sign(&node.key)
}

/// The root of the tree of `size` leaves, from O(log n) stored subtree hashes.
async fn tree_root(ctx: &Context, size: u64) -> Result<merkle::Hash, AppError> {
    if size == 0 {
        return Ok(merkle::empty_root());
    }
    let whole = std::iter::once(0..size).collect();
    Ok(stored_hashes(ctx, whole).await?.remove(0))
}

/// Stored subtree hashes this replica has read, from height [`CACHED_LEVEL`] up. A complete
/// subtree's hash never changes, and every proof passes through the tree's upper levels, so
/// after the first proofs only the lower levels (at most 8 hashes) are read from the store.
#[derive(Debug, Default)]
pub struct SubtreeCache {
    hashes: Mutex<HashMap<Subtree, merkle::Hash>>,
}

/// Lowest subtree height kept: the level-1 tiles' hashes and above.
const CACHED_LEVEL: u32 = 8;

/// Most hashes kept (2 MiB); a full cache starts again empty. At a million entries the
/// levels kept hold about 8,000 hashes.
const CACHED_HASHES: usize = 1 << 16;

impl SubtreeCache {
    /// The hashes of `wanted` that are stored, from memory where it has them.
    async fn read(&self, store: &dyn Store, wanted: &[Subtree]) -> Result<HashMap<Subtree, merkle::Hash>, AppError> {
        let mut found = HashMap::with_capacity(wanted.len());
        let missing: Vec<Subtree> = {
            let hashes = self.hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            wanted
                .iter()
                .filter(|subtree| match hashes.get(subtree) {
                    Some(hash) => {
                        found.insert(**subtree, *hash);
                        false
                    }
                    None => true,
                })
                .copied()
                .collect()
        };
        if missing.is_empty() {
            return Ok(found);
        }
        let read = store.subtree_hashes(&missing).await?;
        let mut hashes = self.hashes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if hashes.len() + read.len() > CACHED_HASHES {
            hashes.clear();
        }
        for (subtree, hash) in read {
            if subtree.level >= CACHED_LEVEL {
                hashes.insert(subtree, hash);
            }
            found.insert(subtree, hash);
        }
        Ok(found)
    }
}

/// The tree hashes of leaf ranges, read from the stored tree in one query.
async fn stored_hashes(ctx: &Context, ranges: Vec<Range<u64>>) -> Result<Vec<merkle::Hash>, AppError> {
    let found = ctx
        .subtrees
        .read(ctx.store.as_ref(), &stored::parts_of(&ranges))
        .await?;
    stored::range_hashes(&ranges, &found)
        .map_err(|range| AppError::Internal(anyhow::anyhow!("the stored log tree lacks part of {range:?}")))
}

/// Converts a log written before the tree was stored: builds its subtrees from the
/// leaves once (O(log n) memory), at start-up. Returns how many leaves it added.
pub async fn complete_stored_tree(ctx: &Context) -> Result<u64, AppError> {
    let size = ctx.store.log_size().await?;
    let stored = ctx.store.stored_tree_size().await?;
    if stored >= size {
        return Ok(0);
    }
    let mut builder = stored::TreeBuilder::default();
    let mut start = 0;
    while start < size {
        let end = (start + CONVERSION_PAGE).min(size);
        let leaves = ctx.store.log_leaves(start, end).await?;
        let nodes: Vec<_> = leaves.into_iter().flat_map(|leaf| builder.push(leaf)).collect();
        ctx.store.store_subtrees(&nodes).await?;
        start = end;
    }
    Ok(size - stored)
}

/// The bytes of a tile in the C2SP `tlog-tiles` layout: concatenated 32-byte tree hashes,
/// or, for an entry bundle, each entry's canonical text behind a big-endian `u16` length.
pub async fn tile(ctx: &Context, tile: Tile) -> Result<Vec<u8>, AppError> {
    let missing = || AppError::NotFound(format!("the log has no tile {}", tile.path()));
    if !tile.exists_in(ctx.store.log_size().await?) {
        return Err(missing());
    }
    match tile.kind {
        TileKind::Hashes(level) => {
            let subtrees: Vec<Subtree> = tile.subtrees(level).collect();
            let found = ctx.subtrees.read(ctx.store.as_ref(), &subtrees).await?;
            let mut bytes = Vec::with_capacity(subtrees.len() * 32);
            for subtree in &subtrees {
                let hash = found
                    .get(subtree)
                    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the stored log tree lacks {subtree:?}")))?;
                bytes.extend_from_slice(hash);
            }
            Ok(bytes)
        }
        TileKind::Entries => {
            let range = tile.entries();
            let too_large = || {
                AppError::NotFound(format!(
                    "entry bundle {} holds an entry over 65,535 bytes, which bundles cannot carry; \
                     read it from /api/v1/log/entries",
                    tile.path()
                ))
            };
            // Read no further than the largest bundle the format can carry.
            let entries = ctx
                .store
                .log_entries(range.start, range.end, tile.width() * u64::from(u16::MAX))
                .await?;
            if entries.len() as u64 != tile.width() {
                return Err(too_large());
            }
            let mut bytes = Vec::new();
            for entry in entries {
                let length = u16::try_from(entry.entry.len()).map_err(|_| too_large())?;
                bytes.extend_from_slice(&length.to_be_bytes());
                bytes.extend_from_slice(entry.entry.as_bytes());
            }
            Ok(bytes)
        }
    }
}

/// Leaves read per step when converting an existing log.
const CONVERSION_PAGE: u64 = 10_000;

/// Entries from `start` towards `end` (exclusive): at most [`MAX_ENTRIES_PER_PAGE`], and no
/// more than the node's page byte budget allows (but always the first one). A client
/// continues from the last index it got, plus one.
pub async fn entries(ctx: &Context, start: u64, end: u64) -> Result<Vec<EntryView>, AppError> {
    if end <= start || end - start > MAX_ENTRIES_PER_PAGE {
        return Err(AppError::InvalidRequest(format!(
            "ask for 1 to {MAX_ENTRIES_PER_PAGE} entries with start < end"
        )));
    }
    let stored = ctx.store.log_entries(start, end, ctx.log_page_max_bytes).await?;
    stored
        .into_iter()
        .map(|entry| {
            Ok(EntryView {
                index: entry.index,
                kind: entry.kind,
                leaf_hash: STANDARD.encode(merkle::leaf_hash(entry.entry.as_bytes())),
                entry: canonical::parse_strict(entry.entry.as_bytes()).map_err(anyhow::Error::from)?,
                appended_at: entry.created_at,
            })
        })
        .collect()
}

/// The inclusion proof of entry `index` in the tree of `size` entries.
pub async fn inclusion(ctx: &Context, index: u64, size: u64) -> Result<InclusionView, AppError> {
    check_size(ctx, size).await?;
    let ranges = merkle::inclusion_ranges(index, size).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    let leaf_and_path = std::iter::once(index..index + 1).chain(ranges).collect();
    let mut hashes = stored_hashes(ctx, leaf_and_path).await?;
    let leaf = hashes.remove(0);
    Ok(InclusionView {
        index,
        tree_size: size,
        leaf_hash: STANDARD.encode(leaf),
        proof: hashes.iter().map(|hash| STANDARD.encode(hash)).collect(),
    })
}

/// The consistency proof between tree sizes `from` and `to`.
pub async fn consistency(ctx: &Context, from: u64, to: u64) -> Result<ConsistencyView, AppError> {
    let proof = consistency_hashes(ctx, from, to).await?;
    Ok(ConsistencyView {
        from,
        to,
        proof: proof.iter().map(|hash| STANDARD.encode(hash)).collect(),
    })
}

/// The consistency proof between tree sizes `from` and `to`, as hashes.
pub async fn consistency_hashes(ctx: &Context, from: u64, to: u64) -> Result<Vec<merkle::Hash>, AppError> {
    check_size(ctx, to).await?;
    let ranges = merkle::consistency_ranges(from, to).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    stored_hashes(ctx, ranges).await
}

/// `InvalidRequest` unless `size` names a tree the log has grown to.
async fn check_size(ctx: &Context, size: u64) -> Result<(), AppError> {
    let current = ctx.store.log_size().await?;
    if size == 0 || size > current {
        return Err(AppError::InvalidRequest(format!(
            "the tree size must be 1 to {current}"
        )));
    }
    Ok(())
}

/// Signs a document with the node key and prepares it for the log.
pub(super) fn sign_for_log(
    ctx: &Context,
    kind: EntryKind,
    unsigned: Value,
    at: DateTime<Utc>,
) -> Result<(Value, LoggedDocument), AppError> {
    let signed = sign_document(unsigned, &ctx.node.key, at).map_err(anyhow::Error::from)?;
    let text = canonical::canonicalize(&signed).map_err(anyhow::Error::from)?;
    Ok((signed, logged(kind, text)))
}

/// A canonical document's text as a log entry of `kind`.
pub(super) fn logged(kind: EntryKind, text: String) -> LoggedDocument {
    LoggedDocument {
        kind,
        leaf: Sha256Digest::from_bytes(merkle::leaf_hash(text.as_bytes())),
        text,
    }
}
