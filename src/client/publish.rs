//! `shulian publish DIR`: upload a package folder's files and publish them as a version.
//!
//! Files the node already holds are skipped (checked by digest), so a rerun
//! after an interruption resumes where it stopped; a file cut off mid-upload
//! is restarted from its beginning, and the node keeps nothing of the broken
//! attempt. An unchanged folder publishes as a no-op.

use std::path::Path;

use serde::Serialize;

use super::{NodeClient, byte_progress, expect_success, hash_file};
use crate::datapackage::read_package;
use crate::domain::PublishRequest;

/// Attempts per file before giving up on a flaky connection.
const UPLOAD_ATTEMPTS: u32 = 3;

/// What a publish did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishReport {
    /// The dataset.
    pub dataset: String,
    /// The version now current.
    pub version: u32,
    /// False when the folder equalled the newest version.
    pub created: bool,
    /// Files whose bytes were sent.
    pub uploaded_files: usize,
    /// Files the node already held.
    pub skipped_files: usize,
}

/// Publishes the package in `dir` to the node.
pub async fn publish_folder(client: &NodeClient, dir: &Path, progress: bool) -> anyhow::Result<PublishReport> {
    let package = read_package(dir)?;
    let bars = indicatif::MultiProgress::new();
    let mut files = Vec::with_capacity(package.resources.len());
    let (mut uploaded_files, mut skipped_files) = (0, 0);
    for resource in &package.resources {
        let size = tokio::fs::metadata(&resource.path).await?.len();
        let hashing = byte_progress(&bars, size, &format!("hash {}", resource.name), progress);
        let digest = hash_file(&resource.path, &hashing).await?;
        hashing.finish_and_clear();
        if let Some(declared) = resource.declared_sha256.filter(|declared| *declared != digest) {
            anyhow::bail!(
                "{} hashes to {digest}, but datapackage.json declares {declared}",
                resource.name
            );
        }
        if node_holds(client, &digest.to_string()).await? {
            skipped_files += 1;
        } else {
            upload_with_retries(client, &resource.path, &digest.to_string(), size, &bars, progress).await?;
            uploaded_files += 1;
        }
        files.push(resource.entry(size, digest));
    }
    let request = PublishRequest {
        metadata: package.metadata,
        files,
    };
    let response = client
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/datasets/{}/versions", package.dataset),
        )
        .json(&request)
        .send()
        .await?;
    let outcome: serde_json::Value = expect_success(response).await?.json().await?;
    Ok(PublishReport {
        dataset: package.dataset.to_string(),
        version: outcome["version"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or_default(),
        created: outcome["created"].as_bool().unwrap_or_default(),
        uploaded_files,
        skipped_files,
    })
}

async fn node_holds(client: &NodeClient, digest: &str) -> anyhow::Result<bool> {
    let response = client
        .request(reqwest::Method::HEAD, &format!("/api/v1/blobs/{digest}"))
        .send()
        .await?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(true),
        reqwest::StatusCode::NOT_FOUND => Ok(false),
        // A HEAD answer has no problem body to explain itself.
        reqwest::StatusCode::UNAUTHORIZED => {
            anyhow::bail!("401 unauthorized: the node does not accept this publisher token")
        }
        _ => expect_success(response).await.map(|_| false),
    }
}

async fn upload_with_retries(
    client: &NodeClient,
    path: &Path,
    digest: &str,
    size: u64,
    bars: &indicatif::MultiProgress,
    progress: bool,
) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 1;
    loop {
        let bar = byte_progress(bars, size, &format!("upload {name}"), progress);
        let result = upload_once(client, path, digest, size, &bar).await;
        bar.finish_and_clear();
        match result {
            Ok(()) => return Ok(()),
            Err(UploadFailure::Refused(error)) => return Err(error),
            Err(UploadFailure::Transient(error)) if attempt >= UPLOAD_ATTEMPTS => return Err(error),
            Err(UploadFailure::Transient(error)) => {
                tracing::warn!(file = %name, attempt, error = %error, "upload failed; restarting the file");
                attempt += 1;
            }
        }
    }
}

enum UploadFailure {
    /// The node refused the file; retrying cannot help.
    Refused(anyhow::Error),
    /// The connection or the node failed; the file may be sent again.
    Transient(anyhow::Error),
}

async fn upload_once(
    client: &NodeClient,
    path: &Path,
    digest: &str,
    size: u64,
    bar: &indicatif::ProgressBar,
) -> Result<(), UploadFailure> {
    use futures::TryStreamExt as _;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|error| UploadFailure::Refused(error.into()))?;
    let counter = bar.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
        .inspect_ok(move |chunk| counter.inc(chunk.len() as u64));
    let response = client
        .request(reqwest::Method::PUT, &format!("/api/v1/blobs/{digest}"))
        .header(reqwest::header::CONTENT_LENGTH, size)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(|error| UploadFailure::Transient(error.into()))?;
    let status = response.status();
    match expect_success(response).await {
        Ok(_) => Ok(()),
        Err(error) if status.is_server_error() => Err(UploadFailure::Transient(error)),
        Err(error) => Err(UploadFailure::Refused(error)),
    }
}
