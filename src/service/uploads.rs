//! Uploading file bytes ahead of a publish.
//!
//! Bytes are committed to the blob store (durably) before their row is
//! recorded, so a recorded blob always has its bytes.

use std::path::Path;

use bytes::Bytes;
use chrono::Utc;
use futures::Stream;

use super::Context;
use crate::blobs::StoredBlob;
use crate::domain::Sha256Digest;
use crate::error::AppError;

/// Whether an upload stored new bytes or found them already present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The bytes were new and are now durable.
    Stored,
    /// The node already held these bytes; the body was not read.
    AlreadyPresent,
}

/// Stores a blob that must hash to `expected`, refusing bodies over the node's limit.
pub async fn upload_blob<S, E>(
    ctx: &Context,
    expected: Sha256Digest,
    declared_length: Option<u64>,
    body: S,
) -> Result<UploadOutcome, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    if declared_length.is_some_and(|length| length > ctx.max_upload_bytes) {
        return Err(AppError::TooLarge {
            limit: ctx.max_upload_bytes,
        });
    }
    if blob_is_present(ctx, &expected).await? {
        return Ok(UploadOutcome::AlreadyPresent);
    }
    store_and_record(ctx, body, Some(expected)).await?;
    Ok(UploadOutcome::Stored)
}

/// Stores a local file's bytes as a blob (checked against `expected` when given) and records it.
pub async fn store_file(ctx: &Context, path: &Path, expected: Option<Sha256Digest>) -> Result<StoredBlob, AppError> {
    let file = tokio::fs::File::open(path).await.map_err(anyhow::Error::from)?;
    store_and_record(ctx, tokio_util::io::ReaderStream::new(file), expected).await
}

/// Commits bytes to the blob store, then records them: a recorded blob always has its bytes.
async fn store_and_record<S, E>(ctx: &Context, body: S, expected: Option<Sha256Digest>) -> Result<StoredBlob, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    let stored = ctx.blobs.put_stream(body, expected, ctx.max_upload_bytes).await?;
    ctx.store.record_blob(&stored.digest, stored.size, Utc::now()).await?;
    tracing::info!(sha256 = %stored.digest, size_bytes = stored.size, "blob stored");
    Ok(stored)
}

/// The size of a blob the node holds, bytes and record both, or `None`.
pub async fn blob_size(ctx: &Context, digest: &Sha256Digest) -> Result<Option<u64>, AppError> {
    match ctx.store.blob_size(digest).await? {
        Some(size) if ctx.blobs.contains(digest).await? => Ok(Some(size)),
        _ => Ok(None),
    }
}

async fn blob_is_present(ctx: &Context, digest: &Sha256Digest) -> Result<bool, AppError> {
    Ok(blob_size(ctx, digest).await?.is_some())
}
