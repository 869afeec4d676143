//! Content-addressed blob storage over `object_store`.
//!
//! Invariants:
//! - [`BlobKey`] is the only place object paths are built; no user input
//!   ever becomes part of one (content lives under `sha256/ab/cd/<hex>`).
//! - Bytes are hashed while they stream in, written under a staging key and
//!   moved to their content key only once the digest is known and checked.
//! - On the local file system a committed blob is fsynced, file and
//!   directory, before it is reported durable (`object_store` does not).
//! - A failed upload is aborted and its staging object deleted.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, GetOptions, GetRange, GetResultPayload, ObjectStore, RetryConfig, WriteMultipart};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::domain::Sha256Digest;

/// Where a blob lives in the object store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobKey {
    /// Committed content, named by its digest.
    Content(Sha256Digest),
    /// An upload in progress, named by a random id.
    Staging(uuid::Uuid),
}

const CONTENT_PREFIX: &str = "sha256";
const STAGING_PREFIX: &str = "staging";

impl BlobKey {
    /// The object path; fans content out over two directory levels.
    pub fn path(&self) -> Path {
        match self {
            Self::Content(digest) => {
                let hex = digest.to_string();
                Path::from(format!("{CONTENT_PREFIX}/{}/{}/{hex}", &hex[..2], &hex[2..4]))
            }
            Self::Staging(id) => Path::from(format!("{STAGING_PREFIX}/{id}")),
        }
    }

    /// Recognises a path this module built; anything else is not ours.
    fn from_path(path: &Path) -> Option<Self> {
        let mut parts = path.parts();
        match parts.next()?.as_ref() {
            CONTENT_PREFIX => {
                let digest: Sha256Digest = parts.nth(2)?.as_ref().parse().ok()?;
                (Self::Content(digest).path() == *path).then_some(Self::Content(digest))
            }
            STAGING_PREFIX => parts.next()?.as_ref().parse().ok().map(Self::Staging),
            _ => None,
        }
    }
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No blob has that digest.
    #[error("blob not found")]
    NotFound,
    /// The upload exceeded the size limit.
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The bytes did not hash to the digest the uploader promised.
    #[error("uploaded bytes hash to {actual}, not the expected {expected}")]
    DigestMismatch {
        /// What the uploader promised.
        expected: Sha256Digest,
        /// What the bytes hash to.
        actual: Sha256Digest,
    },
    /// The uploader's stream broke off.
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] object_store::Error),
    /// Reading or syncing a local file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A blob committed to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

impl StoredBlob {
    /// `DigestMismatch` unless these bytes hash to `expected` (when given).
    fn check(&self, expected: Option<Sha256Digest>) -> Result<(), BlobError> {
        match expected {
            Some(expected) if expected != self.digest => Err(BlobError::DigestMismatch {
                expected,
                actual: self.digest,
            }),
            _ => Ok(()),
        }
    }
}

/// SHA-256 and length of a body as it streams past, refusing more than a limit.
struct BoundedHasher {
    hasher: Sha256,
    size: u64,
    max_bytes: u64,
}

impl BoundedHasher {
    fn new(max_bytes: u64) -> Self {
        Self {
            hasher: Sha256::new(),
            size: 0,
            max_bytes,
        }
    }

    /// Hashes the next chunk of a body and hands it back.
    fn take<E: std::fmt::Display>(&mut self, chunk: Result<Bytes, E>) -> Result<Bytes, BlobError> {
        let chunk = chunk.map_err(|error| BlobError::Interrupted(error.to_string()))?;
        self.size += chunk.len() as u64;
        if self.size > self.max_bytes {
            return Err(BlobError::TooLarge { limit: self.max_bytes });
        }
        self.hasher.update(&chunk);
        Ok(chunk)
    }

    fn finish(self) -> StoredBlob {
        StoredBlob {
            digest: Sha256Digest::from_bytes(self.hasher.finalize().into()),
            size: self.size,
        }
    }
}

/// An object found by listing, for garbage collection.
#[derive(Clone, Debug)]
pub struct ListedBlob {
    /// What the object is.
    pub key: BlobKey,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
}

/// Chunk size of multipart uploads and of local reads.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;
const LOCAL_READ_BUFFER_BYTES: usize = 256 * 1024;

/// The node's blob store.
#[derive(Clone)]
pub struct BlobStore {
    objects: Arc<dyn ObjectStore>,
    /// Set for the local file system, which needs explicit fsync.
    local_root: Option<PathBuf>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "BlobStore({})", self.objects)
    }
}

impl BlobStore {
    /// Opens the store a URL names: `file:///dir`, `memory://` or `s3://bucket[/prefix]`.
    ///
    /// S3 credentials, region and endpoint come from the usual `AWS_*`
    /// environment variables (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP` for a local server).
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url)?;
        match parsed.scheme() {
            "file" => {
                let root = parsed
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("{url} is not a local path"))?;
                Self::local(&root)
            }
            "memory" => Ok(Self {
                objects: Arc::new(InMemory::new()),
                local_root: None,
            }),
            "s3" | "s3a" => {
                // Timeouts go in as config keys: `with_client_options` would drop the
                // client settings (such as AWS_ALLOW_HTTP) that `from_env` read.
                let s3 = AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "10s")
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "300s")
                    .with_retry(RetryConfig::default())
                    .build()?;
                // The builder takes only the bucket from the URL; a path below it becomes a key prefix.
                let objects: Arc<dyn ObjectStore> = match parsed.path().trim_matches('/') {
                    "" => Arc::new(s3),
                    prefix => Arc::new(PrefixStore::new(s3, prefix)),
                };
                Ok(Self {
                    objects,
                    local_root: None,
                })
            }
            other => anyhow::bail!("unsupported blob store scheme {other:?} (use file, memory or s3)"),
        }
    }

    /// A store in a local directory, created if missing.
    pub fn local(root: &FsPath) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        Ok(Self {
            objects: Arc::new(LocalFileSystem::new_with_prefix(&root)?),
            local_root: Some(root),
        })
    }

    /// Checks that the store answers (a missing object is an answer).
    pub async fn ping(&self) -> Result<(), BlobError> {
        match self.objects.head(&Path::from("readiness-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Whether committed content with this digest exists.
    pub async fn contains(&self, digest: &Sha256Digest) -> Result<bool, BlobError> {
        match self.objects.head(&BlobKey::Content(*digest).path()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Streams bytes into the store, hashing as they pass; commits them under
    /// their digest only if they fit `max_bytes` and match `expected`.
    pub async fn put_stream<S, E>(
        &self,
        mut body: S,
        expected: Option<Sha256Digest>,
        max_bytes: u64,
    ) -> Result<StoredBlob, BlobError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let staging = BlobKey::Staging(uuid::Uuid::new_v4());
        let upload = self.objects.put_multipart(&staging.path()).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK_BYTES);
        let mut hasher = BoundedHasher::new(max_bytes);
        let outcome: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = hasher.take(chunk)?;
                // Bound memory: at most a few chunks in flight to the store.
                writer.wait_for_capacity(2).await?;
                writer.write(&chunk);
            }
            Ok(())
        }
        .await;
        if let Err(error) = outcome {
            // Dropping the writer does not clean up multipart parts: abort explicitly.
            let _ = writer.abort().await;
            return Err(error);
        }
        writer.finish().await?;
        let stored = hasher.finish();
        if let Err(mismatch) = stored.check(expected) {
            self.delete(&staging).await?;
            return Err(mismatch);
        }
        self.commit(&staging, &stored.digest).await?;
        Ok(stored)
    }

    /// Reads a whole body only to hash it, storing nothing: how an uploader of
    /// bytes the store already holds proves it has them. Same limits and
    /// errors as [`put_stream`](Self::put_stream).
    pub async fn hash_stream<S, E>(
        &self,
        mut body: S,
        expected: Sha256Digest,
        max_bytes: u64,
    ) -> Result<StoredBlob, BlobError>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let mut hasher = BoundedHasher::new(max_bytes);
        while let Some(chunk) = body.next().await {
            hasher.take(chunk)?;
        }
        let hashed = hasher.finish();
        hashed.check(Some(expected))?;
        Ok(hashed)
    }

    /// Moves a checked staging object to its content key, durably.
    async fn commit(&self, staging: &BlobKey, digest: &Sha256Digest) -> Result<(), BlobError> {
        let target = BlobKey::Content(*digest);
        if self.contains(digest).await? {
            return self.delete(staging).await;
        }
        if let Some(root) = &self.local_root {
            sync_file(&root.join(staging.path().as_ref())).await?;
        }
        self.objects.rename(&staging.path(), &target.path()).await?;
        if let Some(root) = &self.local_root {
            let file = root.join(target.path().as_ref());
            let mut directory = file.parent();
            // The fan-out directories may be new: sync each up to the root.
            while let Some(dir) = directory.filter(|d| d.starts_with(root)) {
                sync_file(dir).await?;
                directory = dir.parent();
            }
        }
        Ok(())
    }

    /// Reads several byte ranges of committed content at once (the store may coalesce them).
    pub async fn read_ranges(&self, digest: &Sha256Digest, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, BlobError> {
        match self.objects.get_ranges(&BlobKey::Content(*digest).path(), ranges).await {
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            other => Ok(other?),
        }
    }

    /// Reads `range` (or everything) of committed content as a stream of chunks.
    pub async fn read(
        &self,
        digest: &Sha256Digest,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let options = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = match self.objects.get_opts(&BlobKey::Content(*digest).path(), options).await {
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::NotFound),
            other => other?,
        };
        let span = result.range.clone();
        match result.payload {
            // object_store reads local files in small chunks; a larger buffer is several times faster.
            GetResultPayload::File(file, _) => {
                let mut file = tokio::fs::File::from_std(file);
                file.seek(std::io::SeekFrom::Start(span.start)).await?;
                let limited = file.take(span.end - span.start);
                let stream = tokio_util::io::ReaderStream::with_capacity(limited, LOCAL_READ_BUFFER_BYTES);
                Ok(stream.map_err(BlobError::from).boxed())
            }
            GetResultPayload::Stream(stream) => Ok(stream.map_err(BlobError::from).boxed()),
        }
    }

    /// Deletes an object; deleting a missing one succeeds, so collection is idempotent.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.objects.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Lists committed content and staging objects.
    pub async fn list(&self) -> Result<Vec<ListedBlob>, BlobError> {
        let mut listed = Vec::new();
        for prefix in [CONTENT_PREFIX, STAGING_PREFIX] {
            let mut objects = self.objects.list(Some(&Path::from(prefix)));
            while let Some(meta) = objects.try_next().await? {
                if let Some(key) = BlobKey::from_path(&meta.location) {
                    listed.push(ListedBlob {
                        key,
                        last_modified: meta.last_modified,
                    });
                }
            }
        }
        Ok(listed)
    }

    /// Removes partial files a crashed local write left behind (`name#n`), older than `cutoff`.
    ///
    /// `object_store` writes local files under such names and never lists them.
    pub async fn sweep_local_partials(&self, cutoff: DateTime<Utc>) -> Result<u64, BlobError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || sweep_partials(&root, cutoff))
            .await
            .map_err(|error| BlobError::Io(std::io::Error::other(error)))?
    }
}

fn sweep_partials(dir: &FsPath, cutoff: DateTime<Utc>) -> Result<u64, BlobError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            removed += sweep_partials(&entry.path(), cutoff)?;
        } else if file_type.is_file() && entry.file_name().to_string_lossy().contains('#') {
            let modified: DateTime<Utc> = entry.metadata()?.modified()?.into();
            if modified < cutoff {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

async fn sync_file(path: &FsPath) -> Result<(), BlobError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&path)?.sync_all())
        .await
        .map_err(|error| BlobError::Io(std::io::Error::other(error)))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_foreign_paths_are_ignored() {
        let digest: Sha256Digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .expect("digest");
        let key = BlobKey::Content(digest);
        assert_eq!(key.path().as_ref(), format!("sha256/e3/b0/{digest}"));
        assert_eq!(BlobKey::from_path(&key.path()), Some(key));
        assert_eq!(BlobKey::from_path(&Path::from(format!("sha256/00/00/{digest}"))), None);
        assert_eq!(BlobKey::from_path(&Path::from("other/file")), None);
        let staging = BlobKey::Staging(uuid::Uuid::new_v4());
        assert_eq!(BlobKey::from_path(&staging.path()), Some(staging));
    }
}
