//! Open downloads: find a file, refuse licensed data, stream the bytes.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;

use super::Context;
use super::catalog::not_found;
use crate::blobs::BlobError;
use crate::domain::{AccessClass, DatasetId, FileEntry, FileName, VersionNumber};
use crate::error::AppError;

/// A file anyone may download.
#[derive(Debug, Clone)]
pub struct OpenFile {
    /// The version that holds it.
    pub version: VersionNumber,
    /// The file.
    pub entry: FileEntry,
}

/// Finds a file of an open version; a licensed one is refused with how to order it.
pub async fn find_open_file(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
) -> Result<OpenFile, AppError> {
    let file = ctx
        .store
        .get_file(dataset, version, name)
        .await
        .map_err(|e| not_found(e, dataset))?;
    match file.access {
        AccessClass::Open => Ok(OpenFile {
            version: file.version,
            entry: file.entry,
        }),
        AccessClass::Licensed => Err(AppError::Licensed {
            dataset: dataset.to_string(),
        }),
    }
}

/// Streams `range` (or all) of a file's bytes.
pub async fn read_file(
    ctx: &Context,
    entry: &FileEntry,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, AppError> {
    Ok(ctx.blobs.read(&entry.sha256, range).await?)
}
