//! Publishing a version: check the files, sign the manifest, commit.
//!
//! Order of a publish: blobs are already durable (uploaded and recorded), the
//! manifest is signed, then rows are committed in one transaction. An
//! unchanged re-publish returns the existing version instead of a new one.

use std::collections::HashSet;

use chrono::Utc;
use serde::Serialize;

use super::{Context, search, tables, uploads};
use crate::crypto::{canonical, document_digest, sign_document};
use crate::domain::manifest::{ManifestFacts, content_document};
use crate::domain::{DatasetId, DatasetMetadata, FileEntry, PublishRequest, PublisherId, Sha256Digest, VersionNumber};
use crate::error::AppError;
use crate::ledger::merkle;
use crate::search::SearchDocument;
use crate::store::{DatasetHead, NewVersion};

/// Most files one version may hold.
pub const MAX_FILES_PER_VERSION: usize = 10_000;

/// The result of a publish.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishOutcome {
    /// The dataset.
    #[schema(value_type = String)]
    pub dataset: DatasetId,
    /// The version now current.
    #[schema(value_type = u32)]
    pub version: VersionNumber,
    /// False when the submission equalled the newest version, which is returned instead.
    pub created: bool,
    /// The publication's place in the search feed: a search naming it as `indexed` answers
    /// only once this replica's index includes it. Absent when nothing was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_sequence: Option<u64>,
}

/// How often a publish that lost a race to a concurrent one is retried with the next number.
const PUBLISH_ATTEMPTS: usize = 5;

/// Publishes `request` as the next version of `dataset` on behalf of `publisher`.
pub async fn publish_version(
    ctx: &Context,
    publisher: &PublisherId,
    dataset: &DatasetId,
    request: PublishRequest,
) -> Result<PublishOutcome, AppError> {
    let PublishRequest { metadata, mut files } = request;
    metadata.check_for_publication()?;
    // Whose dataset it is comes first: another publisher learns nothing about the files.
    if let Some(head) = ctx.store.dataset_head(dataset).await? {
        ensure_owner(&head, publisher, dataset)?;
    }
    check_files(ctx, publisher, &mut files).await?;
    tables::inspect_tables(ctx, &mut files).await?;
    let search = search::document_for(ctx, dataset, publisher, &metadata, &files).await?;
    let content =
        Sha256Digest::from_bytes(document_digest(&content_document(&metadata, &files)).map_err(anyhow::Error::from)?);
    for _ in 0..PUBLISH_ATTEMPTS {
        match attempt_publish(ctx, publisher, dataset, &metadata, &files, content, &search).await {
            Err(AppError::Conflict(_)) => continue,
            other => return other,
        }
    }
    Err(AppError::Conflict(format!(
        "dataset {dataset} is being published concurrently; publish again"
    )))
}

/// One try: read the dataset's head, sign the next version, commit; `Conflict` when another publish won.
async fn attempt_publish(
    ctx: &Context,
    publisher: &PublisherId,
    dataset: &DatasetId,
    metadata: &DatasetMetadata,
    files: &[FileEntry],
    content: Sha256Digest,
    search: &SearchDocument,
) -> Result<PublishOutcome, AppError> {
    let head = ctx.store.dataset_head(dataset).await?;
    if let Some(head) = &head {
        ensure_owner(head, publisher, dataset)?;
    }
    let version = match &head {
        Some(head) if head.latest_content == content => {
            return Ok(PublishOutcome {
                dataset: dataset.clone(),
                version: head.latest,
                created: false,
                search_sequence: None,
            });
        }
        Some(head) => head
            .latest
            .next()
            .ok_or_else(|| AppError::InvalidRequest(format!("dataset {dataset} has no version numbers left")))?,
        None => VersionNumber::FIRST,
    };
    let published_at = Utc::now();
    let node_did = ctx.node.key.did();
    let facts = ManifestFacts {
        node: node_did.as_str(),
        dataset,
        publisher,
        version,
        metadata,
        files,
        published_at,
    };
    let signed = sign_document(facts.document(), &ctx.node.key, published_at).map_err(anyhow::Error::from)?;
    let manifest = canonical::canonicalize(&signed).map_err(anyhow::Error::from)?;
    let manifest_digest = Sha256Digest::from_bytes(document_digest(&signed).map_err(anyhow::Error::from)?);
    let new_version = NewVersion {
        dataset: dataset.clone(),
        publisher: publisher.clone(),
        version,
        metadata: metadata.clone(),
        content,
        manifest_digest,
        files: files.to_vec(),
        published_at,
        log_leaf: Sha256Digest::from_bytes(merkle::leaf_hash(manifest.as_bytes())),
        search: search.clone(),
        manifest,
    };
    // A `Conflict` here means another publish won the race; the caller retries with a fresh head.
    let (log_index, search_sequence) = ctx.sequencer.publish(new_version).await?;
    search::await_indexed(ctx, search_sequence).await;
    tracing::info!(dataset = %dataset, version = version.get(), publisher = %publisher, log_index, "version published");
    Ok(PublishOutcome {
        dataset: dataset.clone(),
        version,
        created: true,
        search_sequence: Some(search_sequence),
    })
}

/// `Forbidden` unless `publisher` owns the dataset whose head this is.
fn ensure_owner(head: &DatasetHead, publisher: &PublisherId, dataset: &DatasetId) -> Result<(), AppError> {
    if head.publisher == *publisher {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "dataset {dataset} belongs to another publisher"
        )))
    }
}

/// Sorts the files and checks each is unique, durable, of the stated size and
/// uploaded by `publisher` itself.
async fn check_files(ctx: &Context, publisher: &PublisherId, files: &mut [FileEntry]) -> Result<(), AppError> {
    if files.is_empty() || files.len() > MAX_FILES_PER_VERSION {
        return Err(AppError::InvalidRequest(format!(
            "a version has 1 to {MAX_FILES_PER_VERSION} files"
        )));
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut names = HashSet::new();
    let mut resources = HashSet::new();
    for file in files.iter() {
        if file.derived_from.is_some() {
            return Err(AppError::InvalidRequest(format!(
                "file {}: derivedFrom is set by the node, not the publisher",
                file.name
            )));
        }
        if !names.insert(file.name.as_str()) {
            return Err(AppError::InvalidRequest(format!("file {} is listed twice", file.name)));
        }
        if let Some(resource) = &file.resource
            && !resources.insert(resource.as_str())
        {
            return Err(AppError::InvalidRequest(format!(
                "file {}: resource name {resource} is given to another file too",
                file.name
            )));
        }
        match uploads::held_blob_size(ctx, publisher, &file.sha256).await? {
            Some(size) if size == file.size => {}
            Some(size) => {
                return Err(AppError::InvalidRequest(format!(
                    "file {} has {size} bytes, not the {} stated",
                    file.name, file.size
                )));
            }
            None => return Err(AppError::MissingBlob(file.sha256)),
        }
    }
    Ok(())
}
