//! Tables: inspecting files as they are published, and reading schemas and previews.
//!
//! Inspection runs once per content (the finding is stored by sha256), off the
//! async threads and inside [`tabular::contained`], so a hostile file costs
//! one bounded task and leaves an explanation, never a crash.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use tokio::runtime::Handle;

use super::Context;
use super::catalog::{manifest_metadata, not_found};
use super::{deliveries, grants, uploads};
use crate::config::Config;
use crate::domain::{
    AccessClass, DatasetId, FileEntry, FileName, MediaType, Offer, ReadSessionId, Sha256Digest, VersionNumber,
};
use crate::error::AppError;
use crate::tabular::csv::convert_to_parquet;
use crate::tabular::{
    ParquetFooter, Preview, PreviewRequest, RangeSource, TableError, TableFormat, TableLimits, TableProfile, contained,
    read_footer,
};

/// How tables are inspected and previewed.
#[derive(Clone, Debug)]
pub struct TableSettings {
    /// Bounds for inspecting a published file.
    pub inspection: TableLimits,
    /// Bounds for one preview request.
    pub preview: TableLimits,
    /// Whether CSV files get a derived Parquet copy listed in the manifest.
    pub csv_to_parquet: bool,
}

impl TableSettings {
    /// The settings a configuration asks for; previews get the API request time limit.
    pub fn from_config(config: &Config) -> Self {
        let inspection = TableLimits {
            max_columns: config.table_max_columns,
            time_limit: Duration::from_secs(config.table_inspect_secs),
            ..TableLimits::default()
        };
        let preview = TableLimits {
            max_preview_rows: config.preview_max_rows,
            max_preview_read_bytes: config.preview_max_read_bytes,
            time_limit: Duration::from_secs(config.request_timeout_secs),
            ..inspection.clone()
        };
        Self {
            inspection,
            preview,
            csv_to_parquet: config.csv_to_parquet,
        }
    }
}

/// The table format a media type announces, if any.
pub fn table_format(media_type: &MediaType) -> Option<TableFormat> {
    match media_type.as_str() {
        "application/vnd.apache.parquet" | "application/x-parquet" => Some(TableFormat::Parquet),
        "text/csv" | "text/tab-separated-values" => Some(TableFormat::Csv),
        _ => None,
    }
}

/// Inspects every table among a version's files and adds the Parquet copies derived from CSV files.
pub async fn inspect_tables(ctx: &Context, files: &mut Vec<FileEntry>) -> Result<(), AppError> {
    let mut copies = Vec::new();
    for file in files.iter() {
        let Some(format) = table_format(&file.media_type) else {
            continue;
        };
        let found = inspection(ctx, &file.sha256, format).await?;
        let copy = found.ok().and_then(|profile| profile.parquet_copy);
        if let (Some(copy), true) = (copy, ctx.tables.csv_to_parquet) {
            let name = copy_name(&file.name);
            if files.iter().all(|other| other.name != name) {
                let size = uploads::blob_size(ctx, &copy)
                    .await?
                    .ok_or(AppError::MissingBlob(copy))?;
                copies.push(FileEntry {
                    name,
                    media_type: MediaType::guess(&copy_name(&file.name)),
                    size,
                    sha256: copy,
                    derived_from: Some(file.name.clone()),
                    resource: None,
                });
            }
        }
    }
    files.extend(copies);
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// `flows.csv` → `flows.parquet`; other names get `.parquet` appended.
fn copy_name(csv: &FileName) -> FileName {
    let text = csv.as_str();
    let stem = match text.rsplit_once('.') {
        Some((stem, extension)) if !stem.ends_with('/') && !extension.contains('/') => stem,
        _ => text,
    };
    format!("{stem}.parquet").parse().unwrap_or_else(|_| csv.clone())
}

/// The stored inspection of a blob; inspects it first when it never was.
pub(super) async fn inspection(
    ctx: &Context,
    digest: &Sha256Digest,
    format: TableFormat,
) -> Result<Result<TableProfile, String>, AppError> {
    if let Some(found) = ctx.store.table_profile(digest, format.as_str()).await? {
        let usable = match &found {
            Ok(profile) => {
                let profile: TableProfile = serde_json::from_str(profile).map_err(anyhow::Error::from)?;
                // A copy since collected (copies off when it was made) is made again.
                match profile.parquet_copy {
                    Some(copy) if uploads::blob_size(ctx, &copy).await?.is_none() => None,
                    _ => Some(Ok(profile)),
                }
            }
            Err(problem) => Some(Err(problem.clone())),
        };
        if let Some(usable) = usable {
            return Ok(usable);
        }
    }
    let outcome = match format {
        TableFormat::Parquet => inspect_parquet(ctx, digest).await,
        TableFormat::Csv => inspect_csv(ctx, digest).await,
    };
    let finding = match outcome {
        Ok(profile) => Ok(profile),
        // Storage failures are the node's, not the file's: nothing is recorded, the publish fails.
        Err(TableError::Fetch(reason)) => {
            return Err(AppError::Unavailable(format!("reading blob {digest} failed: {reason}")));
        }
        Err(problem) => Err(problem.to_string()),
    };
    if let Err(problem) = &finding {
        tracing::info!(sha256 = %digest, format = format.as_str(), problem, "file is not a readable table");
    }
    let stored = finding
        .as_ref()
        .map(|profile| serde_json::to_string(profile).unwrap_or_default())
        .map_err(Clone::clone);
    ctx.store
        .save_table_profile(digest, format.as_str(), &stored, Utc::now())
        .await?;
    Ok(finding)
}

async fn inspect_parquet(ctx: &Context, digest: &Sha256Digest) -> Result<TableProfile, TableError> {
    let footer = load_footer(ctx, digest, &ctx.tables.inspection).await?;
    Ok(footer.profile())
}

/// Converts a CSV blob to Parquet in a temporary file, stores the copy (when
/// copies are on) and profiles it.
async fn inspect_csv(ctx: &Context, digest: &Sha256Digest) -> Result<TableProfile, TableError> {
    let temporary = tempfile::NamedTempFile::new().map_err(|error| TableError::Fetch(error.to_string()))?;
    let output = temporary
        .reopen()
        .map_err(|error| TableError::Fetch(error.to_string()))?;
    let blobs = ctx.blobs.clone();
    let source = *digest;
    let limits = ctx.tables.inspection.clone();
    let handle = Handle::current();
    let dialect = off_the_async_threads(limits.time_limit, move || {
        let open = || -> std::io::Result<_> {
            let stream = handle
                .block_on(blobs.read(&source, None))
                .map_err(std::io::Error::other)?;
            let reader =
                tokio_util::io::StreamReader::new(futures::TryStreamExt::map_err(stream, std::io::Error::other));
            Ok(tokio_util::io::SyncIoBridge::new_with_handle(reader, handle.clone()))
        };
        convert_to_parquet(open, std::io::BufWriter::new(output), &limits)
    })
    .await?;
    let copy = uploads::store_file(ctx, temporary.path(), None, None)
        .await
        .map_err(|error| TableError::Fetch(error.to_string()))?;
    let footer = load_footer(ctx, &copy.digest, &ctx.tables.inspection).await?;
    let profile = TableProfile {
        format: TableFormat::Csv,
        csv: Some(dialect),
        parquet_copy: ctx.tables.csv_to_parquet.then_some(copy.digest),
        ..footer.profile()
    };
    Ok(profile)
}

/// Reads and checks a Parquet blob's footer.
async fn load_footer(ctx: &Context, digest: &Sha256Digest, limits: &TableLimits) -> Result<ParquetFooter, TableError> {
    let source = BlobSource::open(ctx, digest).await?;
    let limits = limits.clone();
    off_the_async_threads(limits.time_limit, move || read_footer(&source, &limits)).await
}

/// Runs table work on the blocking pool, panic-contained and under the time limit.
async fn off_the_async_threads<T: Send + 'static>(
    time_limit: Duration,
    work: impl FnOnce() -> Result<T, TableError> + Send + 'static,
) -> Result<T, TableError> {
    let task = tokio::task::spawn_blocking(move || contained(work));
    match tokio::time::timeout(time_limit, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(TableError::Unreadable(format!("reading the table failed: {join}"))),
        Err(_) => Err(TableError::OverLimit(
            "reading the table took longer than allowed".into(),
        )),
    }
}

/// A blob read through range requests, from a blocking thread.
struct BlobSource {
    ctx: Context,
    digest: Sha256Digest,
    length: u64,
    handle: Handle,
}

impl BlobSource {
    async fn open(ctx: &Context, digest: &Sha256Digest) -> Result<Self, TableError> {
        let length = ctx
            .store
            .blob_size(digest)
            .await
            .map_err(|error| TableError::Fetch(error.to_string()))?
            .ok_or_else(|| TableError::Fetch(format!("blob {digest} is not recorded")))?;
        Ok(Self {
            ctx: ctx.clone(),
            digest: *digest,
            length,
            handle: Handle::current(),
        })
    }
}

impl RangeSource for BlobSource {
    fn byte_length(&self) -> u64 {
        self.length
    }

    fn fetch(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, TableError> {
        if let Some(outside) = ranges.iter().find(|r| r.start > r.end || r.end > self.length) {
            return Err(TableError::Unreadable(format!("range {outside:?} is outside the file")));
        }
        self.handle
            .block_on(self.ctx.blobs.read_ranges(&self.digest, ranges))
            .map_err(|error| TableError::Fetch(error.to_string()))
    }
}

/// A file's table profile, as `GET …/files/{name}/schema` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableSchema {
    /// The dataset.
    #[schema(value_type = String)]
    pub dataset: DatasetId,
    /// The version.
    #[schema(value_type = u32)]
    pub version: VersionNumber,
    /// The file.
    #[schema(value_type = String)]
    pub file: FileName,
    /// What inspection found.
    #[serde(flatten)]
    pub profile: TableProfile,
}

/// A file's table: where it is, who may read its rows, and what inspection found.
struct FoundTable {
    version: VersionNumber,
    entry: FileEntry,
    access: AccessClass,
    /// The offer of a licensed table's version.
    offer: Option<Offer>,
    profile: TableProfile,
}

impl FoundTable {
    fn into_schema(self, dataset: &DatasetId) -> TableSchema {
        TableSchema {
            dataset: dataset.clone(),
            version: self.version,
            file: self.entry.name,
            profile: self.profile,
        }
    }
}

async fn find_table(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
) -> Result<FoundTable, AppError> {
    let file = ctx
        .store
        .get_file(dataset, version, name)
        .await
        .map_err(|e| not_found(e, dataset))?;
    let format = table_format(&file.entry.media_type).ok_or_else(|| {
        AppError::NotTabular(format!(
            "{name} is {}, not a table (Parquet or CSV)",
            file.entry.media_type.as_str()
        ))
    })?;
    let mut profile = inspection(ctx, &file.entry.sha256, format)
        .await?
        .map_err(|problem| AppError::NotTabular(format!("{name} could not be read as a table: {problem}")))?;
    let offer = match file.access {
        AccessClass::Open => None,
        AccessClass::Licensed => {
            let record = ctx
                .store
                .get_version(dataset, Some(file.version))
                .await
                .map_err(|e| not_found(e, dataset))?;
            manifest_metadata(&record)?.offer
        }
    };
    if file.access == AccessClass::Licensed && !offer.as_ref().is_some_and(|offer| offer.public_statistics) {
        for column in &mut profile.columns {
            column.min = None;
            column.max = None;
        }
    }
    Ok(FoundTable {
        version: file.version,
        entry: file.entry,
        access: file.access,
        offer,
        profile,
    })
}

/// The schema and statistics of a table file: public for every dataset, but a licensed
/// table's column minimums and maximums only when its offer makes them public.
pub async fn schema(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
) -> Result<TableSchema, AppError> {
    Ok(find_table(ctx, dataset, version, name).await?.into_schema(dataset))
}

/// A table's schema with its first rows as an anonymous reader may see them (rows are
/// `Err` when the reader may not see any or they cannot be read): one lookup for both.
pub async fn schema_with_preview(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
    request: PreviewRequest,
) -> Result<(TableSchema, Result<Preview, AppError>), AppError> {
    let table = find_table(ctx, dataset, version, name).await?;
    let rows = preview_of(ctx, dataset, &table, false, request).await;
    Ok((table.into_schema(dataset), rows))
}

/// The read session previews under an order are counted in when the reader names none.
const PREVIEW_SESSION: &str = "preview";

/// Rows of a table file. Open data: anyone. Licensed data: anyone within the
/// offer's sample rows; beyond them, the holder of an order token for this
/// version (`reader`: the token and the read session it names), whose rows are
/// a read of the file: admitted, counted and receipted like a download.
pub async fn preview(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
    reader: Option<(&str, Option<ReadSessionId>)>,
    request: PreviewRequest,
) -> Result<Preview, AppError> {
    let table = find_table(ctx, dataset, version, name).await?;
    let licensed_reader = match reader {
        Some((token, session)) if table.access == AccessClass::Licensed => {
            let grant = grants::authorize(ctx, token, dataset, table.version, &table.entry.name).await?;
            let session = match session {
                Some(session) => session,
                None => PREVIEW_SESSION.parse()?,
            };
            Some((grant, session))
        }
        _ => None,
    };
    let rows = preview_of(ctx, dataset, &table, licensed_reader.is_some(), request).await?;
    if let Some((grant, session)) = &licensed_reader {
        let length = serde_json::to_vec(&rows).map_err(anyhow::Error::from)?.len() as u64;
        deliveries::admit_read(ctx, grant, &table.entry, session, length).await?;
    }
    Ok(rows)
}

/// Rows of `table`; `ordered`: the reader holds an order in force for it (else, for
/// licensed data, only the offer's sample rows).
async fn preview_of(
    ctx: &Context,
    dataset: &DatasetId,
    table: &FoundTable,
    ordered: bool,
    mut request: PreviewRequest,
) -> Result<Preview, AppError> {
    if table.access == AccessClass::Licensed && !ordered {
        let sample = table
            .offer
            .as_ref()
            .and_then(|offer| offer.sample_rows)
            .map_or(0, u64::from);
        if request.offset >= sample {
            return Err(AppError::Licensed {
                dataset: dataset.to_string(),
            });
        }
        let room = usize::try_from(sample - request.offset).unwrap_or(usize::MAX);
        request.limit = request.limit.min(room);
    }
    let parquet = match table.profile.format {
        TableFormat::Parquet => table.entry.sha256,
        TableFormat::Csv => table.profile.parquet_copy.ok_or_else(|| {
            AppError::NotTabular(format!(
                "{} has no Parquet copy to preview (this node does not derive them)",
                table.entry.name
            ))
        })?,
    };
    let limits = ctx.tables.preview.clone();
    let footer = load_footer(ctx, &parquet, &limits).await.map_err(table_problem)?;
    let source = BlobSource::open(ctx, &parquet).await.map_err(table_problem)?;
    off_the_async_threads(limits.time_limit, move || footer.preview(&source, &request, &limits))
        .await
        .map_err(table_problem)
}

/// How a table read that failed during a request is answered.
fn table_problem(error: TableError) -> AppError {
    match error {
        TableError::UnknownColumn(_) => AppError::InvalidRequest(error.to_string()),
        TableError::Fetch(reason) => AppError::Unavailable(format!("reading the file failed: {reason}")),
        TableError::Unreadable(_) | TableError::OverLimit(_) => AppError::NotTabular(error.to_string()),
    }
}
