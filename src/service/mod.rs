//! Use cases of the node: what the HTTP layer, the CLI and the demo loader call.
//!
//! Services speak domain types and [`AppError`](crate::error::AppError); they
//! reach storage only through [`Store`] and [`BlobStore`].

pub mod accounts;
pub mod audit;
pub mod catalog;
pub mod ckan;
pub mod deliveries;
pub mod demands;
pub mod demo;
pub mod doip;
pub mod download;
pub mod federation;
pub mod gc;
pub mod grants;
pub mod handles;
pub mod identity;
pub mod interop;
pub mod network;
pub mod orders;
pub mod publish;
pub mod search;
pub mod sequencer;
pub mod sharing;
pub mod tables;
pub mod transparency;
pub mod uploads;
pub mod witness;

use std::sync::Arc;

use crate::blobs::BlobStore;
use crate::crypto::{Did, KeyPair, canonical, proof};
use crate::error::AppError;
use crate::store::Store;

/// A signed document posted to the node (an order, an acknowledgement, a demand…), parsed
/// strictly and its proof checked: the document and its signer. `what` names it in errors.
pub(crate) fn signed_document(body: &[u8], what: &str) -> Result<(serde_json::Value, Did), AppError> {
    let document =
        canonical::parse_strict(body).map_err(|error| AppError::InvalidRequest(format!("{what}: {error}")))?;
    let signer = proof::verify_document(&document).map_err(|error| AppError::InvalidSignature(error.to_string()))?;
    Ok((document, signer))
}

/// The node's identity: its key and how it presents itself.
#[derive(Debug)]
pub struct NodeIdentity {
    /// The key that signs manifests (and, later, agreements, receipts and checkpoints).
    pub key: KeyPair,
    /// Display name.
    pub name: String,
    /// Base URL clients reach the node at, without a trailing slash.
    pub public_url: String,
    /// The prefix of its datasets' handles.
    pub handle_prefix: crate::domain::handle::HandlePrefix,
    /// Its signed description, made at the first request: it changes only with the configuration.
    pub description: std::sync::OnceLock<serde_json::Value>,
}

/// Everything a use case may touch; cheap to clone.
#[derive(Clone)]
pub struct Context {
    /// Catalog metadata.
    pub store: Arc<dyn Store>,
    /// File bytes.
    pub blobs: BlobStore,
    /// Who this node is.
    pub node: Arc<NodeIdentity>,
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: u64,
    /// Most bytes of log entries one page returns.
    pub log_page_max_bytes: u64,
    /// Bounds on reading tables.
    pub tables: Arc<tables::TableSettings>,
    /// Completed open downloads not yet written.
    pub downloads: Arc<search::DownloadCounter>,
    /// This replica's search index.
    pub search: Arc<crate::search::index::SearchIndex>,
    /// Woken when this replica writes to the search feed, so its index applies the change at once.
    pub search_written: Arc<tokio::sync::Notify>,
    /// Upper levels of the log's stored tree, read before.
    pub subtrees: Arc<transparency::SubtreeCache>,
    /// Integrates every write that appends to the log, in batches.
    pub sequencer: sequencer::Sequencer,
    /// Agreed orders' grants, read before, for admitted reads.
    pub agreed_grants: Arc<grants::AgreedGrants>,
    /// When this replica last asked its witnesses to cosign.
    pub cosigning: Arc<witness::CosigningState>,
}
