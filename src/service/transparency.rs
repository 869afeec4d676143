//! Reading the transparency log: signed checkpoints, entries and proofs.
//!
//! Proofs are computed from the stored leaf hashes. Every answer names the
//! tree size it is relative to, so a client pairs it with a checkpoint of
//! that size.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Context;
use crate::crypto::{canonical, note};
use crate::error::AppError;
use crate::ledger::{Checkpoint, merkle, origin_for};

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
#[derive(Debug, Serialize, utoipa::ToSchema)]
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

/// The current checkpoint as a signed note.
pub async fn checkpoint(ctx: &Context) -> Result<String, AppError> {
    let size = ctx.store.log_size().await?;
    let leaves = ctx.store.log_leaves(size).await?;
    let checkpoint = Checkpoint {
        origin: origin(ctx),
        size,
        root: merkle::root(&leaves),
    };
    Ok(checkpoint.sign(&ctx.node.key).map_err(anyhow::Error::from)?)
}

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
    let leaves = leaves_for(ctx, size).await?;
    let position = usize::try_from(index).map_err(|_| AppError::InvalidRequest("index out of range".into()))?;
    let proof = merkle::inclusion_proof(position, &leaves).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    Ok(InclusionView {
        index,
        tree_size: size,
        leaf_hash: STANDARD.encode(leaves[position]),
        proof: proof.iter().map(|hash| STANDARD.encode(hash)).collect(),
    })
}

/// The consistency proof between tree sizes `from` and `to`.
pub async fn consistency(ctx: &Context, from: u64, to: u64) -> Result<ConsistencyView, AppError> {
    let leaves = leaves_for(ctx, to).await?;
    let old = usize::try_from(from).map_err(|_| AppError::InvalidRequest("from out of range".into()))?;
    let proof = merkle::consistency_proof(old, &leaves).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
    Ok(ConsistencyView {
        from,
        to,
        proof: proof.iter().map(|hash| STANDARD.encode(hash)).collect(),
    })
}

/// The leaves of the tree of `size` entries, which must not exceed the log.
async fn leaves_for(ctx: &Context, size: u64) -> Result<Vec<merkle::Hash>, AppError> {
    let current = ctx.store.log_size().await?;
    if size == 0 || size > current {
        return Err(AppError::InvalidRequest(format!(
            "the tree size must be 1 to {current}"
        )));
    }
    Ok(ctx.store.log_leaves(size).await?)
}
