//! Garbage collection of blobs no version references.
//!
//! Idempotent and safe to run beside a live node: only objects older than a
//! grace period are touched (uploads land before the publish that references
//! them), and a blob row is forgotten only when no version references it, in
//! the same transaction that checks.

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::blobs::{BlobKey, BlobStore};
use crate::store::Store;

/// What a collection removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    /// Committed blobs no version referenced.
    pub removed_blobs: u64,
    /// Abandoned staging objects and partial local files.
    pub removed_staging: u64,
    /// Committed blobs kept because a version references them or they are recent.
    pub kept_blobs: u64,
}

/// Removes unreferenced blobs and abandoned uploads older than `grace`.
pub async fn collect_garbage(store: &dyn Store, blobs: &BlobStore, grace: Duration) -> anyhow::Result<GcReport> {
    let cutoff = Utc::now() - chrono::Duration::from_std(grace)?;
    let mut report = GcReport::default();
    for listed in blobs.list().await? {
        let old_enough = listed.last_modified < cutoff;
        match &listed.key {
            BlobKey::Staging(_) if old_enough => {
                blobs.delete(&listed.key).await?;
                report.removed_staging += 1;
            }
            BlobKey::Content(digest) if old_enough && store.forget_blob_if_unreferenced(digest).await? => {
                blobs.delete(&listed.key).await?;
                report.removed_blobs += 1;
            }
            BlobKey::Content(_) => report.kept_blobs += 1,
            BlobKey::Staging(_) => {}
        }
    }
    report.removed_staging += blobs.sweep_local_partials(cutoff).await?;
    Ok(report)
}
