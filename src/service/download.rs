//! Downloads: find a file, check who may read it, stream the bytes.
//!
//! Open files are served to anyone; licensed files only to the holder of an
//! agreed, unexpired order-scoped token for that very dataset version.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;

use super::Context;
use super::catalog::not_found;
use super::orders;
use crate::blobs::BlobError;
use crate::domain::{AccessClass, DatasetId, FileEntry, FileName, VersionNumber};
use crate::error::AppError;

/// A file the requester may download.
#[derive(Debug, Clone)]
pub struct AllowedFile {
    /// The version that holds it.
    pub version: VersionNumber,
    /// The file.
    pub entry: FileEntry,
    /// Who may read it; licensed bytes must not be cached by intermediaries.
    pub access: AccessClass,
}

/// Finds a file and checks the requester may read it; `bearer` is an order-scoped token, if any.
pub async fn find_file(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
    bearer: Option<&str>,
) -> Result<AllowedFile, AppError> {
    let file = ctx
        .store
        .get_file(dataset, version, name)
        .await
        .map_err(|e| not_found(e, dataset))?;
    if file.access == AccessClass::Licensed {
        let token = bearer.ok_or_else(|| AppError::Licensed {
            dataset: dataset.to_string(),
        })?;
        orders::authorize(ctx, token, dataset, file.version).await?;
    }
    Ok(AllowedFile {
        version: file.version,
        entry: file.entry,
        access: file.access,
    })
}

/// Streams `range` (or all) of a file's bytes.
pub async fn read_file(
    ctx: &Context,
    entry: &FileEntry,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, AppError> {
    Ok(ctx.blobs.read(&entry.sha256, range).await?)
}
