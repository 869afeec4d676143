//! `shulian publish DIR`: upload a package folder's files and publish them as a version.
//!
//! Files the node already holds are skipped (checked by digest), so a rerun
//! after an interruption resumes where it stopped. A file larger than a part
//! goes in parts, each its own upload probed by digest and then joined by the
//! node, so a rerun resumes inside it too; a part cut off mid-upload is sent
//! again from its beginning, and the node keeps nothing of the broken attempt.
//! An unchanged folder publishes as a no-op.

use std::ops::Range;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use sha2::Digest as _;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use super::{NodeClient, byte_progress, expect_success, hash_file};
use crate::datapackage::read_package;
use crate::domain::PublishRequest;

/// Attempts per upload (a file, or a part of one) before giving up on a flaky connection.
const UPLOAD_ATTEMPTS: u32 = 3;

/// The default size of the parts a large file is sent in.
pub const DEFAULT_PART_BYTES: u64 = 64 << 20;

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
    /// Parts of large files sent.
    pub uploaded_parts: usize,
    /// Parts of large files the node already held (sent before an interruption).
    pub skipped_parts: usize,
}

/// What was sent of a file, and what the node held already.
#[derive(Default)]
struct PartTally {
    sent: usize,
    held: usize,
}

/// Publishes the package in `dir` to the node, sending files over `part_bytes` in parts.
pub async fn publish_folder(
    client: &NodeClient,
    dir: &Path,
    part_bytes: u64,
    progress: bool,
) -> anyhow::Result<PublishReport> {
    anyhow::ensure!(part_bytes > 0, "a part holds at least one byte");
    let package = read_package(dir)?;
    let bars = indicatif::MultiProgress::new();
    let mut files = Vec::with_capacity(package.resources.len());
    let (mut uploaded_files, mut skipped_files) = (0, 0);
    let mut parts = PartTally::default();
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
        let sending = Sending {
            client,
            path: &resource.path,
            bars: &bars,
            progress,
        };
        if node_holds(client, &digest.to_string()).await? {
            skipped_files += 1;
        } else if size > part_bytes {
            sending
                .in_parts(&digest.to_string(), size, part_bytes, &mut parts)
                .await?;
            uploaded_files += 1;
        } else {
            sending.with_retries(&digest.to_string(), 0..size).await?;
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
        uploaded_parts: parts.sent,
        skipped_parts: parts.held,
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

/// A file being sent, whole or in parts.
struct Sending<'a> {
    client: &'a NodeClient,
    path: &'a Path,
    bars: &'a indicatif::MultiProgress,
    progress: bool,
}

impl Sending<'_> {
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Sends the file in parts of `part_bytes`, each probed by its digest and sent only
    /// when the node lacks it, then asks the node to join them into the blob `digest`.
    async fn in_parts(&self, digest: &str, size: u64, part_bytes: u64, tally: &mut PartTally) -> anyhow::Result<()> {
        let mut parts = Vec::new();
        let mut start = 0;
        while start < size {
            let range = start..size.min(start + part_bytes);
            let part = self.part_digest(range.clone()).await?;
            if node_holds(self.client, &part).await? {
                tally.held += 1;
            } else {
                self.with_retries(&part, range.clone()).await?;
                tally.sent += 1;
            }
            parts.push(part);
            start = range.end;
        }
        let response = self
            .client
            .request(reqwest::Method::POST, &format!("/api/v1/blobs/{digest}/composition"))
            .json(&serde_json::json!({ "parts": parts }))
            .send()
            .await?;
        expect_success(response)
            .await
            .with_context(|| format!("joining the parts of {}", self.name()))?;
        Ok(())
    }

    /// SHA-256 of the bytes of the file in `range`, hex.
    async fn part_digest(&self, range: Range<u64>) -> anyhow::Result<String> {
        let mut file = tokio::fs::File::open(self.path).await?;
        file.seek(std::io::SeekFrom::Start(range.start)).await?;
        let mut reader = file.take(range.end - range.start);
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let read = reader.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// Uploads the bytes in `range` as the blob `digest`, again from their start after a
    /// transient failure.
    async fn with_retries(&self, digest: &str, range: Range<u64>) -> anyhow::Result<()> {
        let name = self.name();
        let mut attempt = 1;
        loop {
            let bar = byte_progress(
                self.bars,
                range.end - range.start,
                &format!("upload {name}"),
                self.progress,
            );
            let result = upload_once(self.client, self.path, digest, range.clone(), &bar).await;
            bar.finish_and_clear();
            match result {
                Ok(()) => return Ok(()),
                Err(UploadFailure::Refused(error)) => return Err(error),
                Err(UploadFailure::Transient(error)) if attempt >= UPLOAD_ATTEMPTS => return Err(error),
                Err(UploadFailure::Transient(error)) => {
                    tracing::warn!(file = %name, attempt, error = %error, "upload failed; sending it again");
                    attempt += 1;
                }
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
    range: Range<u64>,
    bar: &indicatif::ProgressBar,
) -> Result<(), UploadFailure> {
    use futures::TryStreamExt as _;
    let refused = |error: std::io::Error| UploadFailure::Refused(error.into());
    let mut file = tokio::fs::File::open(path).await.map_err(refused)?;
    file.seek(std::io::SeekFrom::Start(range.start))
        .await
        .map_err(refused)?;
    let length = range.end - range.start;
    let counter = bar.clone();
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(length), 256 * 1024)
        .inspect_ok(move |chunk| counter.inc(chunk.len() as u64));
    let response = client
        .request(reqwest::Method::PUT, &format!("/api/v1/blobs/{digest}"))
        .header(reqwest::header::CONTENT_LENGTH, length)
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
