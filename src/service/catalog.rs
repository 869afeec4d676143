//! Reading the catalog: datasets, versions and manifests (listings are searches: see `search`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Context;
use crate::crypto::canonical;
use crate::domain::{AccessClass, DatasetId, DatasetMetadata, FileEntry, PublisherId, VersionNumber};
use crate::error::AppError;
use crate::store::VersionRecord;
use crate::store::{DatasetSummary, Publisher, StoreError, VersionSummary};

/// Page size when the client names none.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A dataset as listings show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetView {
    /// Its id.
    #[schema(value_type = String)]
    pub id: DatasetId,
    /// Its publisher.
    #[schema(value_type = String)]
    pub publisher: PublisherId,
    /// Metadata of the newest version.
    #[serde(flatten)]
    pub metadata: DatasetMetadata,
    /// The newest version.
    #[schema(value_type = u32)]
    pub latest_version: VersionNumber,
    /// When the first version was published.
    pub created_at: DateTime<Utc>,
    /// When the newest version was published.
    pub updated_at: DateTime<Utc>,
}

impl From<DatasetSummary> for DatasetView {
    fn from(summary: DatasetSummary) -> Self {
        Self {
            id: summary.id,
            publisher: summary.publisher,
            metadata: summary.metadata,
            latest_version: summary.latest_version,
            created_at: summary.created_at,
            updated_at: summary.updated_at,
        }
    }
}

/// A version in a dataset's history.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionEntry {
    /// Its number.
    #[schema(value_type = u32)]
    pub version: VersionNumber,
    /// Who may download it.
    pub access: AccessClass,
    /// SHA-256 of its signed manifest, `sha256:<hex>`.
    pub manifest_digest: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Where its manifest stands in the node's transparency log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
}

impl From<VersionSummary> for VersionEntry {
    fn from(summary: VersionSummary) -> Self {
        Self {
            version: summary.version,
            access: summary.access,
            manifest_digest: summary.manifest_digest.prefixed(),
            published_at: summary.published_at,
            log_index: summary.log_index,
        }
    }
}

/// A dataset with its version history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatasetDetail {
    /// The dataset.
    #[serde(flatten)]
    pub dataset: DatasetView,
    /// Its versions, newest first.
    pub versions: Vec<VersionEntry>,
}

/// A version with its files and signed manifest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionDetail {
    /// The dataset.
    #[schema(value_type = String)]
    pub dataset: DatasetId,
    /// The version.
    #[serde(flatten)]
    pub entry: VersionEntry,
    /// Its files, ordered by name.
    pub files: Vec<FileEntry>,
    /// The node-signed manifest (eddsa-jcs-2022).
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
}

/// Most changes one page of the change feed holds.
pub const MAX_CHANGES_PAGE: u32 = 1_000;

/// Changes a page holds when the reader names no limit.
const DEFAULT_CHANGES_PAGE: u32 = 100;

/// One published version in the catalog's change feed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEntry {
    /// Its place in the feed: its manifest's index in the node's transparency log.
    pub sequence: u64,
    /// The dataset.
    #[schema(value_type = String)]
    pub dataset: DatasetId,
    /// Its publisher.
    #[schema(value_type = String)]
    pub publisher: PublisherId,
    /// The version.
    #[serde(flatten)]
    pub entry: VersionEntry,
}

/// A page of the change feed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangesPage {
    /// Versions published after the position asked for, in log order.
    pub changes: Vec<ChangeEntry>,
    /// Where to continue: the last change's sequence, or the position asked for when the
    /// page is empty (absent when the feed is empty and none was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<u64>,
    /// The next page, when this one is full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The versions published after `after` (a sequence an earlier page returned), in the order
/// the log holds their manifests: what a harvester, a peer or a search index follows to
/// stay current, reading each change once. Bounded pages, each one indexed seek.
pub async fn changes(ctx: &Context, after: Option<u64>, limit: Option<u32>) -> Result<ChangesPage, AppError> {
    let limit = match limit {
        None => DEFAULT_CHANGES_PAGE,
        Some(limit) if (1..=MAX_CHANGES_PAGE).contains(&limit) => limit,
        Some(limit) => {
            return Err(AppError::InvalidRequest(format!(
                "limit: {limit} is not between 1 and {MAX_CHANGES_PAGE}"
            )));
        }
    };
    let changes: Vec<ChangeEntry> = ctx
        .store
        .catalog_changes(after, limit)
        .await?
        .into_iter()
        .filter_map(|change| {
            Some(ChangeEntry {
                sequence: change.version.log_index?,
                dataset: change.dataset,
                publisher: change.publisher,
                entry: change.version.into(),
            })
        })
        .collect();
    let last = changes.last().map(|change| change.sequence).or(after);
    let next = match last {
        Some(last) if changes.len() == limit as usize => Some(format!(
            "{}/api/v1/changes?after={last}&limit={limit}",
            ctx.node.public_url
        )),
        _ => None,
    };
    Ok(ChangesPage { changes, last, next })
}

/// Every publisher by id: for documents listing many datasets, read once rather than per dataset.
pub async fn publishers_by_id(ctx: &Context) -> Result<BTreeMap<PublisherId, Publisher>, AppError> {
    Ok(ctx
        .store
        .publishers()
        .await?
        .into_iter()
        .map(|publisher| (publisher.id.clone(), publisher))
        .collect())
}

/// A dataset and its publisher, for documents describing one dataset.
pub async fn dataset_and_publisher(ctx: &Context, dataset: &DatasetId) -> Result<(DatasetView, Publisher), AppError> {
    let view = get_dataset(ctx, dataset).await?.dataset;
    let publisher = ctx.store.publisher(&view.publisher).await?;
    Ok((view, publisher))
}

/// The version a dataset view describes (its newest when read), with its files.
pub async fn described_version(ctx: &Context, view: &DatasetView) -> Result<VersionRecord, AppError> {
    ctx.store
        .get_version(&view.id, Some(view.latest_version))
        .await
        .map_err(|e| not_found(e, &view.id))
}

/// One dataset with its versions.
pub async fn get_dataset(ctx: &Context, dataset: &DatasetId) -> Result<DatasetDetail, AppError> {
    let (summary, versions) = ctx
        .store
        .get_dataset(dataset)
        .await
        .map_err(|e| not_found(e, dataset))?;
    Ok(DatasetDetail {
        dataset: summary.into(),
        versions: versions.into_iter().map(VersionEntry::from).collect(),
    })
}

/// One version (the newest when `version` is `None`) with files and manifest.
pub async fn get_version(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
) -> Result<VersionDetail, AppError> {
    let record = ctx
        .store
        .get_version(dataset, version)
        .await
        .map_err(|e| not_found(e, dataset))?;
    let manifest = canonical::parse_strict(record.manifest.as_bytes()).map_err(anyhow::Error::from)?;
    Ok(VersionDetail {
        dataset: dataset.clone(),
        entry: record.summary.into(),
        files: record.files,
        manifest,
    })
}

/// The public download URL of a file, each path segment percent-encoded.
pub fn file_url(
    public_url: &str,
    dataset: &DatasetId,
    version: VersionNumber,
    name: &crate::domain::FileName,
) -> String {
    let mut url = format!("{public_url}/api/v1/datasets/{dataset}/versions/{version}/files");
    for segment in name.segments() {
        url.push('/');
        url.extend(url::form_urlencoded::byte_serialize(segment.as_bytes()).map(|part| part.replace('+', "%20")));
    }
    url
}

/// The metadata a version's signed manifest holds.
pub(super) fn manifest_metadata(record: &VersionRecord) -> Result<DatasetMetadata, AppError> {
    let manifest = canonical::parse_strict(record.manifest.as_bytes()).map_err(anyhow::Error::from)?;
    Ok(serde_json::from_value(manifest["metadata"].clone()).map_err(anyhow::Error::from)?)
}

/// Turns a store miss into a 404 that names what was missing.
pub(super) fn not_found(error: StoreError, dataset: &DatasetId) -> AppError {
    match error {
        StoreError::NotFound => AppError::NotFound(format!("no dataset {dataset}, or not that version or file")),
        other => other.into(),
    }
}

/// A version's signed manifest, as the exact text that was signed.
pub async fn get_manifest(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
) -> Result<String, AppError> {
    let record = ctx
        .store
        .get_version(dataset, version)
        .await
        .map_err(|e| not_found(e, dataset))?;
    Ok(record.manifest)
}
