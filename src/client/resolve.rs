//! Where a command's target is: a dataset at the node named, or an identifier
//! (`[hdl:]PREFIX/DATASET[@VERSION]`) that node resolves — its own, or a peer's it
//! harvested — to the node holding it.
//!
//! A resolver's record names the holding node's URL, the DID it knows that node by
//! (for a peer, the key it pinned), the version and the manifest digest it verified.
//! The client then talks to the holder directly (nothing is proxied, and an order's
//! token never passes the resolver) and believes it only when it signs as that DID
//! and serves that manifest.

use anyhow::{Context as _, ensure};
use serde::Deserialize;

use super::NodeClient;
use super::get::parse_target;
use crate::crypto::{Did, document_digest};
use crate::domain::handle::{HANDLES_PATH, Handle, value_type};
use crate::domain::{DatasetId, Sha256Digest, VersionNumber};

/// The node a resolver says holds an identified version, and what it says of it.
#[derive(Debug, Clone)]
pub struct Holder {
    /// The holding node's base URL.
    pub url: String,
    /// The DID the resolver knows it by.
    pub did: Did,
    /// The version named.
    pub version: VersionNumber,
    /// That version's signed manifest digest, as the resolver verified it.
    pub manifest_digest: String,
}

impl Holder {
    /// Asks `resolver` who holds the version `handle` names.
    pub async fn resolve(resolver: &NodeClient, handle: &Handle) -> anyhow::Result<Self> {
        #[derive(Deserialize)]
        struct Record {
            values: Vec<RecordValue>,
        }
        #[derive(Deserialize)]
        struct RecordValue {
            #[serde(rename = "type")]
            kind: String,
            data: RecordData,
        }
        #[derive(Deserialize)]
        struct RecordData {
            value: String,
        }
        let record: Record = resolver.get_json(&format!("{HANDLES_PATH}/{handle}")).await?;
        let value = |kind: &str| {
            record
                .values
                .iter()
                .find(|value| value.kind == kind)
                .map(|value| value.data.value.as_str())
                .with_context(|| format!("the resolver's record of {handle} has no {kind} value"))
        };
        Ok(Self {
            url: value(value_type::NODE_URL)?.to_owned(),
            did: value(value_type::NODE)?.parse()?,
            version: value(value_type::VERSION)?.parse()?,
            manifest_digest: value(value_type::CHECKSUM)?.to_owned(),
        })
    }

    /// Fails unless the node reached answers as the DID the resolver named.
    pub fn ensure_node(&self, answered_as: &Did) -> anyhow::Result<()> {
        ensure!(
            *answered_as == self.did,
            "the resolver knows the node at {} as {}, but it answers as {answered_as}: refused",
            self.url,
            self.did
        );
        Ok(())
    }

    /// Fails unless `manifest` (verified under the holder's key) is the one the resolver
    /// verified.
    pub fn ensure_manifest(&self, dataset: &DatasetId, manifest: &serde_json::Value) -> anyhow::Result<()> {
        let served = Sha256Digest::from_bytes(document_digest(manifest)?).prefixed();
        ensure!(
            served == self.manifest_digest,
            "{} serves version {} of {dataset} with manifest {served}, not the {} its resolver verified: refused",
            self.url,
            self.version,
            self.manifest_digest
        );
        Ok(())
    }
}

/// Where a command's target is.
pub struct Located {
    /// A client of the node to talk to: the one named, or the holder an identifier resolved to.
    pub client: NodeClient,
    /// The dataset.
    pub dataset: DatasetId,
    /// The version (the newest when `None`).
    pub version: Option<VersionNumber>,
    /// What the resolver said, for an identifier.
    pub holder: Option<Holder>,
}

/// Locates `target` (`DATASET[@VERSION]` at `node`, or an identifier `node` resolves).
pub async fn locate(target: &str, node: &str) -> anyhow::Result<Located> {
    if !target.contains('/') {
        let (dataset, version) = parse_target(target)?;
        return Ok(Located {
            client: NodeClient::new(node, None)?,
            dataset,
            version,
            holder: None,
        });
    }
    let handle: Handle = target.parse()?;
    let holder = Holder::resolve(&NodeClient::new(node, None)?, &handle).await?;
    Ok(Located {
        client: NodeClient::new(&holder.url, None)?,
        dataset: handle.dataset,
        version: Some(holder.version),
        holder: Some(holder),
    })
}
