//! How nodes of the network describe themselves, and what a node keeps about its peers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AccessClass, DatasetId, LocalizedText, Sha256Digest, VersionNumber};

/// The `type` of a node's signed description.
pub const NODE_DESCRIPTION_TYPE: &str = "ShulianNode";

/// What `/.well-known/shulian-node` says about a node, signed by the node's key
/// (eddsa-jcs-2022), so a peer that pinned the node's DID can check the rest.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeDescription {
    /// Always `ShulianNode`: what the signature is over.
    #[serde(rename = "type")]
    pub kind: String,
    /// The node's `did:key`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Software name and version.
    pub software: Software,
    /// The node's Ed25519 public key, multibase.
    pub public_key_multibase: String,
    /// The verification method its proofs name.
    pub verification_method: String,
    /// Base URLs of the node's APIs.
    pub endpoints: Endpoints,
    /// The transparency log: its origin and the note verifier key that signs its checkpoints.
    pub log: LogDescription,
    /// The prefix of the handles of its datasets (`<prefix>/<dataset>[@<version>]`).
    pub identifier_prefix: String,
    /// The node as a witness of its peers' logs (C2SP `tlog-witness`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<WitnessDescription>,
    /// The node's Data Integrity proof over the rest (eddsa-jcs-2022).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub proof: Option<serde_json::Value>,
}

/// A node's transparency log as its description names it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogDescription {
    /// The checkpoint origin line.
    pub origin: String,
    /// The signed-note verifier key of its checkpoints.
    pub verifier_key: String,
    /// Where its latest checkpoint is served.
    pub checkpoint: String,
}

/// A node as a witness: the name and key of its cosignatures and where logs submit
/// their checkpoints.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WitnessDescription {
    /// The key name its cosignature lines carry.
    pub name: String,
    /// Its cosigner verifier key (`<name>+<hex id>+<base64(0x04 ‖ key)>`), as
    /// `shulian verify --witness` takes it.
    pub verifier_key: String,
    /// Its submission prefix: logs POST to `<prefix>/add-checkpoint`.
    pub submission_prefix: String,
}

/// The software a node runs.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Software {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
}

/// Base URLs of a node's APIs.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// The REST API.
    pub api: String,
    /// Its OpenAPI document.
    pub openapi: String,
    /// The dataset listing.
    pub datasets: String,
    /// The Delta Sharing server.
    pub delta_sharing: String,
    /// The public Delta Sharing profile that reads every open dataset.
    pub open_data_profile: String,
    /// The catalog's change feed.
    pub changes: String,
    /// The Handle.net-style REST resolver of identifiers (`{handles}/<prefix>/<suffix>`).
    pub handles: String,
}

/// A peer node as this node knows it: the key it pinned and how the last contact went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    /// The peer's base URL, as the operator added it.
    pub url: String,
    /// The DID pinned for it: its description must be signed by this key.
    pub did: String,
    /// Its display name, as its description last said.
    pub name: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// When its description last verified against the pinned key.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When its catalog was last harvested (none yet).
    pub last_harvested_at: Option<DateTime<Utc>>,
    /// What went wrong at the last contact, if it failed.
    pub last_error: Option<String>,
    /// When the last contact failed.
    pub last_error_at: Option<DateTime<Utc>>,
    /// The prefix of its handles, as its description last said.
    pub identifier_prefix: Option<String>,
    /// The last sequence of its change feed harvested.
    pub harvested_through: Option<u64>,
    /// Whether it is asked to witness this node's log (to cosign its checkpoints).
    pub witnesses_us: bool,
}

impl Peer {
    /// The identifier of one of its datasets (`<prefix>/<dataset>[@<version>]`), when the
    /// peer has a prefix.
    pub fn identifier(&self, dataset: &DatasetId, version: Option<VersionNumber>) -> Option<String> {
        let prefix = self.identifier_prefix.as_ref()?;
        Some(match version {
            Some(version) => format!("{prefix}/{dataset}@{version}"),
            None => format!("{prefix}/{dataset}"),
        })
    }

    /// The page of one of its datasets at the peer: where it is downloaded or ordered.
    pub fn dataset_page(&self, dataset: &DatasetId) -> String {
        format!("{}/datasets/{dataset}", self.url)
    }
}

/// A demand a peer's board lists, as this node keeps it: its poster's signature verified
/// and naming that peer.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteDemand {
    /// The peer's id for it.
    pub id: String,
    /// A demand or a challenge.
    pub kind: super::demand::DemandKind,
    /// Where it stood when last harvested.
    pub state: super::demand::DemandState,
    /// The poster-signed demand, canonical.
    pub document: String,
    /// When the peer received it.
    pub created_at: DateTime<Utc>,
}

/// A version published at a peer, as harvested from its change feed and verified:
/// its manifest signed by the peer's pinned key and included in the peer's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteVersion {
    /// The dataset, as the peer names it.
    pub dataset: DatasetId,
    /// The version.
    pub version: VersionNumber,
    /// Who may download it at the peer.
    pub access: AccessClass,
    /// Its title.
    pub title: LocalizedText,
    /// SHA-256 of its signed manifest.
    pub manifest_digest: Sha256Digest,
    /// Where the manifest stands in the peer's log.
    pub log_index: u64,
    /// When the peer published it.
    pub published_at: DateTime<Utc>,
}
