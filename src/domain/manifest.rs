//! The version manifest: the document the node signs when a version is published.
//!
//! Its shape is part of the protocol (buyers pin its digest in orders), so
//! it is built in exactly one place. It carries no floats: sizes are integer
//! bytes, times RFC 3339 UTC strings.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{DatasetId, DatasetMetadata, FileEntry, PublisherId, VersionNumber};

/// The `type` of every manifest.
pub const MANIFEST_TYPE: &str = "ShulianDatasetVersionManifest";

/// What a manifest states about a version.
pub struct ManifestFacts<'a> {
    /// The signing node's DID.
    pub node: &'a str,
    /// The dataset.
    pub dataset: &'a DatasetId,
    /// Its publisher.
    pub publisher: &'a PublisherId,
    /// The version number.
    pub version: VersionNumber,
    /// Metadata of the version.
    pub metadata: &'a DatasetMetadata,
    /// Files of the version, ordered by name.
    pub files: &'a [FileEntry],
    /// Publication time.
    pub published_at: DateTime<Utc>,
}

impl ManifestFacts<'_> {
    /// The unsigned manifest document.
    pub fn document(&self) -> Value {
        json!({
            "type": MANIFEST_TYPE,
            "node": self.node,
            "dataset": self.dataset,
            "publisher": self.publisher,
            "version": self.version,
            "metadata": self.metadata,
            "files": self.files,
            "published": self.published_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
    }
}

/// The part of a version that decides whether a re-publish changes anything.
pub fn content_document(metadata: &DatasetMetadata, files: &[FileEntry]) -> Value {
    json!({ "metadata": metadata, "files": files })
}
