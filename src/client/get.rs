//! `shulian get DATASET[@VERSION]`: download a version's files, resuming and verifying.
//!
//! The version's manifest is checked against the node's published key
//! first, and its entry in the node's transparency log against a signed
//! checkpoint, so the digests the files are verified against are the node's
//! own, public word. Each file downloads to `<name>.part`; a rerun resumes a partial
//! file with a `Range` request guarded by `If-Range`, and a file whose bytes
//! do not hash to the manifest's digest is discarded, never kept.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use super::resolve::Holder;
use super::{NodeClient, RemoteNode, byte_progress, evidence, expect_success, hash_file};
use crate::crypto::proof;
use crate::domain::{DatasetId, FileEntry, FileName, VersionNumber};

/// What a download did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetReport {
    /// The dataset.
    pub dataset: String,
    /// The version downloaded.
    pub version: u32,
    /// The node whose signature on the manifest was checked.
    pub node: String,
    /// Where the manifest stands in the node's transparency log, proven against a signed checkpoint.
    pub log_index: u64,
    /// Size of the checkpoint the inclusion was proven against.
    pub checkpoint_size: u64,
    /// Where the files are.
    pub out: PathBuf,
    /// One line per file.
    pub files: Vec<FileReport>,
}

/// What happened to one file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    /// Its name.
    pub name: String,
    /// Its verified SHA-256.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// Bytes reused from a partial download.
    pub resumed_bytes: u64,
    /// True when a complete, verified copy was already there.
    pub already_present: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionReply {
    version: u32,
    files: Vec<FileEntry>,
    manifest: serde_json::Value,
    log_index: u64,
}

/// Parses `DATASET[@VERSION]`.
pub fn parse_target(text: &str) -> anyhow::Result<(DatasetId, Option<VersionNumber>)> {
    match text.split_once('@') {
        Some((dataset, "latest")) => Ok((dataset.parse()?, None)),
        Some((dataset, version)) => Ok((dataset.parse()?, Some(version.parse()?))),
        None => Ok((text.parse()?, None)),
    }
}

/// Downloads every file of a version into `out`; a version found by identifier only
/// from the node its resolver named, once it proves to be that node (see [`super::resolve`]).
pub async fn get_version(
    client: &NodeClient,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    holder: Option<&Holder>,
    out: &Path,
    progress: bool,
) -> anyhow::Result<GetReport> {
    let node = client.remote_node().await?;
    if let Some(holder) = holder {
        holder.ensure_node(&node.did)?;
    }
    let version_path = version.map_or_else(|| "latest".to_owned(), |v| v.to_string());
    let reply: VersionReply = client
        .get_json(&format!("/api/v1/datasets/{dataset}/versions/{version_path}"))
        .await?;
    proof::verify_document_with_key(&reply.manifest, &node.did.public_key())
        .context("the version manifest is not signed by this node's key")?;
    if let Some(holder) = holder {
        holder.ensure_manifest(dataset, &reply.manifest)?;
    }
    let checkpoint_size = prove_logged(client, &node, &reply).await?;
    let signed_files: Vec<FileEntry> = serde_json::from_value(reply.manifest["files"].clone())?;
    if signed_files != reply.files {
        anyhow::bail!("the file list differs from the signed manifest");
    }
    tokio::fs::create_dir_all(out).await?;
    let bars = indicatif::MultiProgress::new();
    let mut files = Vec::with_capacity(signed_files.len());
    for entry in &signed_files {
        let url = format!(
            "/api/v1/datasets/{dataset}/versions/{}/files/{}",
            reply.version,
            encode_name(&entry.name)
        );
        files.push(fetch_file(client, &url, entry, out, &bars, progress).await?);
    }
    save_datapackage(client, dataset, reply.version, out).await?;
    Ok(GetReport {
        dataset: dataset.to_string(),
        version: reply.version,
        node: node.did.to_string(),
        log_index: reply.log_index,
        checkpoint_size,
        out: out.to_owned(),
        files,
    })
}

/// Saves the version's Data Package descriptor beside its files, paths made local,
/// so the folder can be published to another node as it is.
async fn save_datapackage(client: &NodeClient, dataset: &DatasetId, version: u32, out: &Path) -> anyhow::Result<()> {
    let mut descriptor: serde_json::Value = client
        .get_json(&format!(
            "/api/v1/datasets/{dataset}/versions/{version}/datapackage.json"
        ))
        .await?;
    for resource in descriptor["resources"].as_array_mut().into_iter().flatten() {
        if let Some(object) = resource.as_object_mut()
            && let Some(local) = object.remove("filename")
        {
            object.insert("path".into(), local);
        }
    }
    let text = serde_json::to_vec_pretty(&descriptor)?;
    tokio::fs::write(out.join(crate::datapackage::DESCRIPTOR), text).await?;
    Ok(())
}

/// Checks that the manifest is in the node's log under a checkpoint the node signed; returns the checkpoint's size.
async fn prove_logged(client: &NodeClient, node: &RemoteNode, reply: &VersionReply) -> anyhow::Result<u64> {
    let (checkpoint, _) = evidence::current_checkpoint(client, &node.log_origin, &node.did).await?;
    let proof = evidence::inclusion_proof(client, reply.log_index, checkpoint.size).await?;
    evidence::check_inclusion(&reply.manifest, reply.log_index, &proof, &checkpoint)
        .context("the manifest is not in the node's transparency log")?;
    Ok(checkpoint.size)
}

pub(super) async fn fetch_file(
    client: &NodeClient,
    url: &str,
    entry: &FileEntry,
    out: &Path,
    bars: &indicatif::MultiProgress,
    progress: bool,
) -> anyhow::Result<FileReport> {
    let target = entry
        .name
        .segments()
        .fold(out.to_path_buf(), |dir, segment| dir.join(segment));
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let report = |resumed_bytes, already_present| FileReport {
        name: entry.name.to_string(),
        sha256: entry.sha256.to_string(),
        size: entry.size,
        resumed_bytes,
        already_present,
    };
    let bar = byte_progress(bars, entry.size, entry.name.as_str(), progress);
    if tokio::fs::metadata(&target).await.is_ok_and(|m| m.len() == entry.size)
        && hash_file(&target, &indicatif::ProgressBar::hidden()).await? == entry.sha256
    {
        bar.finish_and_clear();
        return Ok(report(0, true));
    }
    let partial = PathBuf::from(format!("{}.part", target.display()));
    let have = tokio::fs::metadata(&partial).await.map(|m| m.len()).unwrap_or(0);
    let resumed = download_to(client, url, entry, &partial, have.min(entry.size), &bar).await?;
    bar.finish_and_clear();
    let digest = hash_file(&partial, &indicatif::ProgressBar::hidden()).await?;
    if digest != entry.sha256 {
        tokio::fs::remove_file(&partial).await?;
        anyhow::bail!(
            "{}: downloaded bytes hash to {digest}, not {}; the partial file was removed, run again",
            entry.name,
            entry.sha256
        );
    }
    tokio::fs::rename(&partial, &target).await?;
    Ok(report(resumed, false))
}

/// Completes `partial`, resuming from `have` bytes when the node agrees; returns the bytes reused.
async fn download_to(
    client: &NodeClient,
    url: &str,
    entry: &FileEntry,
    partial: &Path,
    have: u64,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<u64> {
    let mut request = client.request(reqwest::Method::GET, url);
    if let Some(session) = client.read_session(&entry.sha256) {
        request = request.header("shulian-read-session", session);
    }
    if have > 0 && have < entry.size {
        request = request
            .header(reqwest::header::RANGE, format!("bytes={have}-"))
            .header(reqwest::header::IF_RANGE, format!("\"{}\"", entry.sha256));
    }
    let response = expect_success(request.send().await?).await?;
    let resumed = if response.status() == reqwest::StatusCode::PARTIAL_CONTENT {
        have
    } else {
        0
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed > 0)
        .truncate(resumed == 0)
        .open(partial)
        .await?;
    bar.set_position(resumed);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        file.write_all(&chunk).await?;
        bar.inc(chunk.len() as u64);
    }
    file.sync_all().await?;
    Ok(resumed)
}

/// Percent-encodes each segment of a file name for a URL path.
pub(super) fn encode_name(name: &FileName) -> String {
    name.segments()
        .map(|segment| {
            url::form_urlencoded::byte_serialize(segment.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/")
}
