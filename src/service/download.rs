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
use crate::domain::{AccessClass, DatasetId, FileEntry, FileName, VersionNumber};
use crate::error::AppError;
use crate::store::{OrderGrant, StoreError};
use futures::{StreamExt as _, TryStreamExt as _};

/// A file the requester may download.
#[derive(Debug, Clone)]
pub struct AllowedFile {
    /// The dataset.
    pub dataset: DatasetId,
    /// The version that holds it.
    pub version: VersionNumber,
    /// The file.
    pub entry: FileEntry,
    /// The order a licensed file is delivered under; `None` for open data.
    pub grant: Option<OrderGrant>,
    /// The read session of a ticketed request.
    pub session: Option<String>,
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

/// What a download request presents to read licensed data.
#[derive(Debug, Clone)]
pub enum Credential<'a> {
    /// Nothing: open data only.
    Anonymous,
    /// An order-scoped bearer token.
    Bearer(&'a str),
    /// A ticket the node signed: an order, and the read session the ticket opened.
    Ticket {
        /// The order.
        grant: OrderGrant,
        /// The session: reads through one ticket are one download.
        session: String,
    },
}

/// Finds a file and checks the requester may read it.
pub async fn find_file(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
    credential: Credential<'_>,
) -> Result<AllowedFile, AppError> {
    let file = ctx
        .store
        .get_file(dataset, version, name)
        .await
        .map_err(|e| not_found(e, dataset))?;
    let (grant, session) = match file.access {
        AccessClass::Open => (None, None),
        AccessClass::Licensed => {
            let (grant, session) = match credential {
                Credential::Anonymous => {
                    return Err(AppError::Licensed {
                        dataset: dataset.to_string(),
                    });
                }
                Credential::Bearer(token) => (
                    orders::authorize(ctx, token, dataset, file.version, &file.entry.name).await?,
                    None,
                ),
                Credential::Ticket { grant, session } => (
                    orders::admit(ctx, grant, dataset, file.version, &file.entry.name).await?,
                    Some(session),
                ),
            };
            deliveries::ensure_downloads_left(ctx, &grant, &file.entry, session.as_deref()).await?;
            (Some(grant), session)
        }
    };
    Ok(AllowedFile {
        dataset: dataset.clone(),
        version: file.version,
        entry: file.entry,
        grant,
        session,
    })
}

/// Streams `range` of a file's bytes; bytes of a licensed file are recorded as delivered once sent.
pub async fn read_file(
    ctx: &Context,
    file: &AllowedFile,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, AppError> {
    let bytes = ctx.blobs.read(&file.entry.sha256, range.clone()).await?;
    Ok(match &file.grant {
        None => {
            if range.is_none() {
                ctx.downloads.count(&file.dataset);
            }
            bytes.map_err(std::io::Error::other).boxed()
        }
        Some(grant) => {
            let sent = range.unwrap_or(0..file.entry.size);
            deliveries::record_when_sent(
                ctx,
                grant.clone(),
                file.session.clone(),
                file.entry.clone(),
                sent,
                bytes,
            )
        }
    })
}
