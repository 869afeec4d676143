//! Downloads: find a file, check who may read it, stream the bytes.
//!
//! Open files are served to anyone; licensed files only to the holder of an
//! agreed, unexpired order-scoped token for that very dataset version.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;

use super::Context;
use super::catalog::not_found;
use super::{deliveries, grants};
use crate::domain::{AccessClass, DatasetId, FileEntry, FileName, ReadSessionId, VersionNumber};
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
    /// When its version was published.
    pub published_at: chrono::DateTime<chrono::Utc>,
    /// How a licensed file is delivered; `None` for open data.
    pub licence: Option<LicensedRead>,
}

/// The order and read session a licensed file is read under.
#[derive(Debug, Clone)]
pub struct LicensedRead {
    /// The order.
    pub grant: OrderGrant,
    /// The read session this request belongs to.
    pub session: ReadSessionId,
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
    /// An order-scoped bearer token, and the read session the request names, if any
    /// (none: a new session, which costs a download when it carries bytes).
    Bearer {
        /// The token.
        token: &'a str,
        /// The session named by the request.
        session: Option<ReadSessionId>,
    },
    /// A ticket the node signed: an order, and the read session the ticket opened.
    Ticket {
        /// The order.
        grant: OrderGrant,
        /// The session: reads through one ticket are one download.
        session: ReadSessionId,
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
    let licence = match file.access {
        AccessClass::Open => None,
        AccessClass::Licensed => {
            let (grant, session) = match credential {
                Credential::Anonymous => {
                    return Err(AppError::Licensed {
                        dataset: dataset.to_string(),
                    });
                }
                Credential::Bearer { token, session } => (
                    grants::authorize(ctx, token, dataset, file.version, &file.entry.name).await?,
                    session.unwrap_or_else(ReadSessionId::generate),
                ),
                Credential::Ticket { grant, session } => (
                    grants::admit(ctx, grant, dataset, file.version, &file.entry.name).await?,
                    session,
                ),
            };
            Some(LicensedRead { grant, session })
        }
    };
    Ok(AllowedFile {
        dataset: dataset.clone(),
        version: file.version,
        entry: file.entry,
        published_at: file.published_at,
        licence,
    })
}

/// Answers, for a response that carries none of a file's bytes (`HEAD`, `304`) and so
/// admits nothing, as a read would whether the order has a download of the file left.
/// A response with bytes is decided by its admission in [`read_file`] alone.
pub async fn ensure_readable(ctx: &Context, file: &AllowedFile) -> Result<(), AppError> {
    match &file.licence {
        Some(LicensedRead { grant, session }) => {
            grants::ensure_in_force(ctx, grant).await?;
            deliveries::ensure_downloads_left(ctx, grant, &file.entry, session).await
        }
        None => Ok(()),
    }
}

/// Streams `range` of a file's bytes; a licensed file's response is admitted
/// in its read session (a download spent and receipted, or the session
/// continued) before the first byte is read.
pub async fn read_file(
    ctx: &Context,
    file: &AllowedFile,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, AppError> {
    let length = range.as_ref().map_or(file.entry.size, |r| r.end - r.start);
    let is_whole = range.is_none();
    // Opened before admission, so a blob that cannot be read costs the buyer nothing.
    let bytes = ctx.blobs.read(&file.entry.sha256, range).await?;
    match &file.licence {
        None if is_whole => ctx.downloads.count(&file.dataset),
        None => {}
        Some(LicensedRead { grant, session }) => {
            deliveries::admit_read(ctx, grant, &file.entry, session, length).await?;
        }
    }
    Ok(bytes.map_err(std::io::Error::other).boxed())
}
