//! Evidence of a licensed delivery, and its offline verification.
//!
//! `shulian fetch` saves an [`Evidence`] bundle; `shulian verify` checks it
//! with nothing but the bundle (and, optionally, the files and a later
//! checkpoint from the node): every signature, each receipt's inclusion in
//! the log under the node-signed checkpoint, and the files' sha256.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;

use super::{NodeClient, expect_success, hash_file};
use crate::crypto::note::{self, Cosigner};
use crate::crypto::{Did, canonical, proof};
use crate::ledger::{Checkpoint, merkle, stored, tiles};

/// A delivery's evidence, as saved by `shulian fetch`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// The node's DID.
    pub node: String,
    /// The node's log origin (the checkpoint key's name).
    pub log_origin: String,
    /// The buyer-signed order.
    pub order: Value,
    /// The node-signed agreement.
    pub agreement: Value,
    /// The node-signed receipts with their inclusion proofs.
    pub receipts: Vec<LoggedReceipt>,
    /// The buyer-signed acknowledgements of the receipts.
    pub acknowledgements: Vec<Value>,
    /// The node-signed checkpoint the proofs lead to.
    pub checkpoint: String,
}

/// A receipt and its proof of inclusion under the bundle's checkpoint.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedReceipt {
    /// Its index in the log.
    pub log_index: u64,
    /// The receipt.
    pub receipt: Value,
    /// Base64 audit path to the checkpoint's root.
    pub inclusion_proof: Vec<String>,
}

/// What a verification established.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// Receipts checked.
    pub receipts: usize,
    /// Files whose bytes were checked against their receipts.
    pub files: usize,
    /// The checkpoint size the receipts were proven under.
    pub checkpoint_size: u64,
    /// The newer checkpoint size proven consistent with the bundle's, if asked.
    pub consistent_to: Option<u64>,
    /// The trusted witnesses that cosigned the checkpoint.
    pub witnessed_by: Vec<String>,
}

/// The node's current checkpoint, verified; with its note text (and whatever cosignatures
/// its witnesses gave it).
pub async fn current_checkpoint(client: &NodeClient, origin: &str, node: &Did) -> anyhow::Result<(Checkpoint, String)> {
    read_checkpoint(client, origin, node, "").await
}

/// [`current_checkpoint`], the node first asking its witnesses to cosign it: the checkpoint
/// evidence is kept under (a tiles mirror serves the cosignatures the node has).
pub async fn witnessed_checkpoint(
    client: &NodeClient,
    origin: &str,
    node: &Did,
) -> anyhow::Result<(Checkpoint, String)> {
    read_checkpoint(client, origin, node, "?witnessed=true").await
}

async fn read_checkpoint(
    client: &NodeClient,
    origin: &str,
    node: &Did,
    query: &str,
) -> anyhow::Result<(Checkpoint, String)> {
    let note = match client.log_tiles() {
        Some(log) => String::from_utf8(client.get_bytes(&format!("{log}/checkpoint")).await?.to_vec())
            .context("the checkpoint is not UTF-8")?,
        None => {
            let response = client
                .request(reqwest::Method::GET, &format!("/api/v1/log/checkpoint{query}"))
                .send()
                .await?;
            expect_success(response).await?.text().await?
        }
    };
    let checkpoint = Checkpoint::verify(&note, origin, &node.public_key())
        .context("the log checkpoint is not signed by this node's key")?;
    Ok((checkpoint, note))
}

/// The audit path of entry `index` under a checkpoint, base64 as served.
pub async fn inclusion_proof(client: &NodeClient, index: u64, size: u64) -> anyhow::Result<Vec<String>> {
    if client.log_tiles().is_some() {
        let ranges = merkle::inclusion_ranges(index, size)?;
        let hashes = hashes_from_tiles(client, &ranges, size).await?;
        return Ok(hashes.iter().map(|hash| STANDARD.encode(hash)).collect());
    }
    let reply: Value = client
        .get_json(&format!("/api/v1/log/proof/inclusion?index={index}&size={size}"))
        .await?;
    serde_json::from_value(reply["proof"].clone()).context("malformed inclusion proof")
}

/// The consistency path from tree size `from` to `to`.
async fn consistency_proof(client: &NodeClient, from: u64, to: u64) -> anyhow::Result<Vec<Vec<u8>>> {
    if client.log_tiles().is_some() {
        let ranges = merkle::consistency_ranges(from, to)?;
        let hashes = hashes_from_tiles(client, &ranges, to).await?;
        return Ok(hashes.iter().map(|hash| hash.to_vec()).collect());
    }
    let reply: Value = client
        .get_json(&format!("/api/v1/log/proof/consistency?from={from}&to={to}"))
        .await?;
    let encoded: Vec<String> = serde_json::from_value(reply["proof"].clone()).context("malformed consistency proof")?;
    Ok(encoded
        .iter()
        .map(|hash| STANDARD.decode(hash))
        .collect::<Result<_, _>>()?)
}

/// The tree hashes of leaf ranges of the tree of `size`, computed from the hash tiles
/// that hold them (a proof's ranges need a handful of tiles, whatever the log's size).
async fn hashes_from_tiles(client: &NodeClient, ranges: &[Range<u64>], size: u64) -> anyhow::Result<Vec<merkle::Hash>> {
    let log = client.log_tiles().context("no tile URL")?;
    let wanted = stored::parts_of(ranges);
    let tiles = tiles::tiles_holding(&wanted, size).context("the proof needs a subtree the tree lacks")?;
    let mut fetched = HashMap::with_capacity(tiles.len());
    for tile in tiles {
        let bytes = client.get_bytes(&format!("{log}/tile/{}", tile.path())).await?;
        fetched.insert(tile, bytes.to_vec());
    }
    let found = tiles::hashes_from_tiles(&wanted, size, &fetched).context("a tile is missing or malformed")?;
    stored::range_hashes(ranges, &found).map_err(|range| anyhow::anyhow!("the tiles lack leaves {range:?}"))
}

/// Checks that `document` is entry `index` of the log under `checkpoint`.
pub fn check_inclusion(document: &Value, index: u64, proof: &[String], checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let path = proof
        .iter()
        .map(|hash| STANDARD.decode(hash))
        .collect::<Result<Vec<_>, _>>()?;
    let leaf = merkle::leaf_hash(canonical::canonicalize(document)?.as_bytes());
    merkle::verify_inclusion(index, checkpoint.size, &leaf, &path, &checkpoint.root)
        .with_context(|| format!("log entry {index} is not under the checkpoint"))
}

/// SHA-256 of a document's canonical form, `sha256:<hex>`.
pub fn digest_of(document: &Value) -> anyhow::Result<String> {
    Ok(format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(canonical::canonicalize(document)?.as_bytes()))
    ))
}

/// The witnesses a verifier trusts, and how many of them must have cosigned the
/// bundle's checkpoint (C2SP `tlog-cosignature`) for it to be believed.
#[derive(Debug, Default)]
pub struct WitnessPolicy {
    /// The witnesses trusted, each once.
    pub cosigners: Vec<Cosigner>,
    /// How many of them must have cosigned.
    pub required: usize,
}

impl WitnessPolicy {
    /// Trust these witnesses (verifier keys, repeats counted once); `required` of them
    /// [default: all] must have cosigned.
    pub fn new(keys: &[String], required: Option<usize>) -> anyhow::Result<Self> {
        let mut cosigners: Vec<Cosigner> = Vec::new();
        for key in keys {
            let cosigner: Cosigner = key.parse().with_context(|| format!("witness key {key:?}"))?;
            if !cosigners.contains(&cosigner) {
                cosigners.push(cosigner);
            }
        }
        let required = required.unwrap_or(cosigners.len());
        ensure!(
            required <= cosigners.len(),
            "{required} witnesses required, but only {} given",
            cosigners.len()
        );
        Ok(Self { cosigners, required })
    }

    /// The names of the trusted witnesses whose cosignature of `note` verifies; an error
    /// when fewer than required do.
    pub fn check(&self, note: &str) -> anyhow::Result<Vec<String>> {
        let cosigned: Vec<String> = self
            .cosigners
            .iter()
            .filter(|cosigner| note::cosigned_at(note, cosigner).is_ok())
            .map(|cosigner| cosigner.name.clone())
            .collect();
        ensure!(
            cosigned.len() >= self.required,
            "the checkpoint is cosigned by {} of the witnesses given, {} required: the tree this node showed \
             may not be the one others see",
            cosigned.len(),
            self.required
        );
        Ok(cosigned)
    }
}

/// Where to check that the node's log still holds what it held.
pub struct ConsistencyCheck<'a> {
    /// The node.
    pub node: &'a NodeClient,
    /// An older checkpoint note to prove against (default: the bundle's).
    pub since: Option<String>,
}

/// Verifies a bundle offline; with `files`, also the delivered files; with `consistency`, that
/// the node's current log extends an earlier checkpoint (a consistency proof); and that the
/// checkpoint carries the cosignatures `witnesses` requires.
pub async fn verify(
    evidence: &Evidence,
    files: Option<&Path>,
    consistency: Option<ConsistencyCheck<'_>>,
    witnesses: &WitnessPolicy,
) -> anyhow::Result<Verified> {
    let node_did: Did = evidence.node.parse()?;
    proof::verify_document_with_key(&evidence.agreement, &node_did.public_key()).context("agreement signature")?;
    let buyer = proof::verify_document(&evidence.order).context("order signature")?;
    ensure!(
        evidence.agreement["order"] == evidence.order,
        "the agreement binds another order"
    );
    let order_digest = digest_of(&evidence.order)?;
    ensure!(
        evidence.agreement["orderDigest"] == order_digest.as_str(),
        "the agreement's order digest is wrong"
    );
    let checkpoint = Checkpoint::verify(&evidence.checkpoint, &evidence.log_origin, &node_did.public_key())
        .context("checkpoint signature")?;
    let witnessed_by = witnesses.check(&evidence.checkpoint)?;
    let mut files_checked = 0;
    for logged in &evidence.receipts {
        let receipt = &logged.receipt;
        proof::verify_document_with_key(receipt, &node_did.public_key())
            .with_context(|| format!("receipt {} signature", logged.log_index))?;
        ensure!(
            receipt["orderDigest"] == order_digest.as_str(),
            "receipt {} is for another order",
            logged.log_index
        );
        ensure!(
            receipt["recipient"] == buyer.as_str(),
            "receipt {} names another recipient",
            logged.log_index
        );
        ensure!(
            receipt["logIndex"].as_u64() == Some(logged.log_index),
            "receipt {} claims another index",
            logged.log_index
        );
        check_inclusion(receipt, logged.log_index, &logged.inclusion_proof, &checkpoint)?;
        if let Some(dir) = files {
            let name: crate::domain::FileName = serde_json::from_value(receipt["file"].clone())?;
            let path = name
                .segments()
                .fold(dir.to_path_buf(), |path, segment| path.join(segment));
            let digest = hash_file(&path, &indicatif::ProgressBar::hidden()).await?;
            ensure!(
                receipt["sha256"] == digest.to_string().as_str(),
                "{} does not match its receipt",
                path.display()
            );
            files_checked += 1;
        }
    }
    for acknowledgement in &evidence.acknowledgements {
        let signer = proof::verify_document(acknowledgement).context("acknowledgement signature")?;
        ensure!(signer == buyer, "an acknowledgement is not the buyer's");
    }
    let consistent_to = match consistency {
        None => None,
        Some(check) => {
            let old = match &check.since {
                Some(note) => Checkpoint::verify(note, &evidence.log_origin, &node_did.public_key())
                    .context("the --since checkpoint is not signed by this node's key")?,
                None => checkpoint.clone(),
            };
            Some(check_consistency(check.node, &evidence.log_origin, &node_did, &old).await?)
        }
    };
    Ok(Verified {
        receipts: evidence.receipts.len(),
        files: files_checked,
        checkpoint_size: checkpoint.size,
        consistent_to,
        witnessed_by,
    })
}

/// Proves the node's current log extends `old`; returns the current size.
pub async fn check_consistency(client: &NodeClient, origin: &str, node: &Did, old: &Checkpoint) -> anyhow::Result<u64> {
    let (current, _) = current_checkpoint(client, origin, node).await?;
    if current.size < old.size {
        bail!("the node's log shrank from {} to {} entries", old.size, current.size);
    }
    let proof = if current.size == old.size {
        Vec::new()
    } else {
        consistency_proof(client, old.size, current.size).await?
    };
    merkle::verify_consistency(old.size, current.size, &old.root, &current.root, &proof)
        .context("the node's current log does not extend the earlier checkpoint: history was rewritten")?;
    Ok(current.size)
}
