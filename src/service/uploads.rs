//! Uploading file bytes ahead of a publish.
//!
//! Bytes are committed to the blob store (durably) before their row is
//! recorded, so a recorded blob always has its bytes.

use std::path::Path;

use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt as _, TryStreamExt as _};

use super::Context;
use crate::blobs::{BlobError, BlobStore, StoredBlob};
use crate::domain::{PublisherId, Sha256Digest};
use crate::error::AppError;

/// Whether an upload stored new bytes or found them already present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The bytes were new and are now durable.
    Stored,
    /// The node already held these bytes; the body was hashed, not stored again.
    AlreadyPresent,
}

/// Stores a blob that must hash to `expected` on behalf of `publisher`,
/// refusing bodies over the node's limit; records that `publisher` holds it.
///
/// The whole body is read and hashed even when the node already holds the
/// bytes: a digest is public, so only the bytes themselves prove that the
/// uploader holds them (and may list them in its versions).
pub async fn upload_blob<S, E>(
    ctx: &Context,
    publisher: &PublisherId,
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
    if blob_size(ctx, &expected).await?.is_some() {
        let hashed = ctx.blobs.hash_stream(body, expected, ctx.max_upload_bytes).await?;
        ctx.store
            .record_blob(&hashed.digest, hashed.size, Some(publisher), Utc::now())
            .await?;
        return Ok(UploadOutcome::AlreadyPresent);
    }
    store_and_record(ctx, body, Some(expected), Some(publisher)).await?;
    Ok(UploadOutcome::Stored)
}

/// A blob's bytes as the blob store streams them.
type BlobBytes = futures::stream::BoxStream<'static, Result<Bytes, BlobError>>;

/// Most parts one composition joins.
pub const MAX_PARTS: usize = 10_000;

/// Joins blobs `parts`, in order, into one blob that must hash to `expected`, for
/// `publisher`, who must hold every part. A large file is sent as parts, each its own
/// content-addressed upload: an interrupted upload goes on with the parts the node lacks,
/// and the parts no version lists are collected as garbage like any unreferenced upload.
pub async fn compose_blob(
    ctx: &Context,
    publisher: &PublisherId,
    expected: Sha256Digest,
    parts: &[Sha256Digest],
) -> Result<UploadOutcome, AppError> {
    if parts.is_empty() || parts.len() > MAX_PARTS {
        return Err(AppError::InvalidRequest(format!("parts: 1 to {MAX_PARTS} digests")));
    }
    let mut total: u64 = 0;
    for part in parts {
        let size = held_blob_size(ctx, publisher, part)
            .await?
            .ok_or(AppError::MissingBlob(*part))?;
        total = total.saturating_add(size);
    }
    let blobs = ctx.blobs.clone();
    let joined = futures::stream::iter(parts.to_vec())
        .then(move |part| read_whole(blobs.clone(), part))
        .try_flatten();
    upload_blob(ctx, publisher, expected, Some(total), Box::pin(joined)).await
}

/// A committed blob's bytes, as a stream.
async fn read_whole(blobs: BlobStore, digest: Sha256Digest) -> Result<BlobBytes, BlobError> {
    blobs.read(&digest, None).await
}

/// Stores a local file's bytes as a blob (checked against `expected` when given)
/// and records it, held by `holder` when a publisher's file and not a node-derived one.
pub async fn store_file(
    ctx: &Context,
    path: &Path,
    expected: Option<Sha256Digest>,
    holder: Option<&PublisherId>,
) -> Result<StoredBlob, AppError> {
    let file = tokio::fs::File::open(path).await.map_err(anyhow::Error::from)?;
    store_and_record(ctx, tokio_util::io::ReaderStream::new(file), expected, holder).await
}

/// Commits bytes to the blob store, then records them: a recorded blob always has its bytes.
async fn store_and_record<S, E>(
    ctx: &Context,
    body: S,
    expected: Option<Sha256Digest>,
    holder: Option<&PublisherId>,
) -> Result<StoredBlob, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::fmt::Display,
{
    let stored = ctx.blobs.put_stream(body, expected, ctx.max_upload_bytes).await?;
    ctx.store
        .record_blob(&stored.digest, stored.size, holder, Utc::now())
        .await?;
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

/// The size of a blob the node holds and `publisher` proved it holds too, or `None`.
///
/// Another publisher's bytes are `None` here, exactly as bytes nobody uploaded:
/// they are not this publisher's to list.
pub async fn held_blob_size(
    ctx: &Context,
    publisher: &PublisherId,
    digest: &Sha256Digest,
) -> Result<Option<u64>, AppError> {
    match ctx.store.held_blob_size(digest, publisher).await? {
        Some(size) if ctx.blobs.contains(digest).await? => Ok(Some(size)),
        _ => Ok(None),
    }
}
