//! Downloads: find a file, check who may read it, stream the bytes.
//!
//! Open files are served to anyone; licensed files only to the holder of an
//! agreed, unexpired order-scoped token for that very dataset version.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;

use super::Context;
use super::catalog::not_found;
use super::{deliveries, orders};
use crate::blobs::BlobError;
use crate::domain::{AccessClass, DatasetId, FileEntry, FileName, VersionNumber};
use crate::error::AppError;
use crate::store::{OrderGrant, StoreError};

/// A file the requester may download.
#[derive(Debug, Clone)]
pub struct AllowedFile {
    /// The version that holds it.
    pub version: VersionNumber,
    /// The file.
    pub entry: FileEntry,
    /// The order a licensed file is delivered under; `None` for open data.
    pub grant: Option<OrderGrant>,
}

/// Whether a version holds a file of exactly this name.
pub async fn file_exists(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
) -> Result<bool, AppError> {
    match ctx.store.get_file(dataset, version, name).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound) => Ok(false),
        Err(other) => Err(other.into()),
    }
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
    let grant = match file.access {
        AccessClass::Open => None,
        AccessClass::Licensed => {
            let token = bearer.ok_or_else(|| AppError::Licensed {
                dataset: dataset.to_string(),
            })?;
            let grant = orders::authorize(ctx, token, dataset, file.version, &file.entry.name).await?;
            deliveries::ensure_downloads_left(ctx, &grant, &file.entry).await?;
            Some(grant)
        }
    };
    Ok(AllowedFile {
        version: file.version,
        entry: file.entry,
        grant,
    })
}

/// Streams `range` of a file's bytes; bytes of a licensed file are recorded as delivered once sent.
pub async fn read_file(
    ctx: &Context,
    file: &AllowedFile,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, AppError> {
    let bytes = ctx.blobs.read(&file.entry.sha256, range.clone()).await?;
    Ok(match &file.grant {
        None => bytes,
        Some(grant) => {
            let sent = range.unwrap_or(0..file.entry.size);
            deliveries::record_when_sent(ctx, grant.clone(), file.entry.clone(), sent, bytes)
        }
    })
}
