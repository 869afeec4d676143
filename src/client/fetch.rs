//! `shulian fetch ORDER`: download an order's files, acknowledge the receipts, save the evidence.
//!
//! Files download like `shulian get` (resuming, verified against the
//! node-signed manifest the agreement binds). Then the node's receipts are
//! checked, each new one is acknowledged with the buyer's signature, and the
//! evidence bundle (`evidence.json`) is written for `shulian verify`. An order placed
//! while the publisher had still to decide gets its agreement from the node here, once
//! agreed, and saved beside the order.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, ensure};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::evidence::{self, Evidence, LoggedReceipt};
use super::get::{FileReport, encode_name, fetch_file};
use super::order::{AGREEMENT_FILE, ID_FILE, ORDER_FILE, TOKEN_FILE};
use super::{NodeClient, RemoteNode, expect_success};
use crate::crypto::{KeyPair, proof, sign_document};
use crate::domain::FileEntry;
use crate::domain::order::ACKNOWLEDGEMENT_TYPE;

/// The evidence bundle's file name in the output folder.
pub const EVIDENCE_FILE: &str = "evidence.json";

/// What a fetch did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchReport {
    /// The order.
    pub order_id: String,
    /// The files, verified.
    pub files: Vec<FileReport>,
    /// Receipts the node has given for this order.
    pub receipts: usize,
    /// Receipts acknowledged by this run (earlier runs' acknowledgements are kept, not repeated).
    pub acknowledged: usize,
    /// The evidence bundle.
    pub evidence: PathBuf,
}

/// Resolves ORDER: an order folder, or an id whose folder is `./order-<id>`.
pub fn order_folder(order: &str) -> PathBuf {
    let path = PathBuf::from(order);
    if path.is_dir() {
        path
    } else {
        PathBuf::from(format!("order-{order}"))
    }
}

/// The node an order folder says its order was placed at.
pub fn order_node(folder: &Path) -> anyhow::Result<String> {
    let path = folder.join(super::order::NODE_FILE);
    let node = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} does not say where the order was placed: give --node",
            folder.display()
        )
    })?;
    Ok(node.trim().to_owned())
}

/// Fetches everything an agreed order covers into `out`; proofs come from the log's tiles
/// at `log_tiles` when given.
pub async fn fetch(
    node: &str,
    log_tiles: Option<&str>,
    folder: &Path,
    key: &KeyPair,
    out: &Path,
    progress: bool,
) -> anyhow::Result<FetchReport> {
    let read = |name: &str| {
        std::fs::read_to_string(folder.join(name)).with_context(|| format!("{}", folder.join(name).display()))
    };
    let order_id = read(ID_FILE)?.trim().to_owned();
    let token = read(TOKEN_FILE)?.trim().to_owned();
    let order: Value = serde_json::from_str(&read(ORDER_FILE)?)?;
    let buyer = key.did();
    ensure!(order["buyer"] == buyer.as_str(), "this key is not the order's buyer");

    let client = NodeClient::new(node, Some(token))?.with_log_tiles(log_tiles)?;
    let RemoteNode {
        did: node_did,
        log_origin: origin,
    } = client.remote_node().await?;
    let saved = folder.join(AGREEMENT_FILE);
    let (agreement, decided_since): (Value, bool) = match std::fs::read_to_string(&saved) {
        Ok(text) => (serde_json::from_str(&text)?, false),
        // An order that awaited the publisher's decision: ask where it stands now.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let status: Value = client.get_json(&format!("/api/v1/orders/{order_id}")).await?;
            let agreement = status.get("agreement").cloned().with_context(|| {
                format!(
                    "order {order_id} is {}: there is no agreement to fetch under",
                    status["state"].as_str().unwrap_or("in an unknown state")
                )
            })?;
            (agreement, true)
        }
        Err(error) => return Err(error).with_context(|| saved.display().to_string()),
    };
    proof::verify_document_with_key(&agreement, &node_did.public_key()).context("the agreement is not this node's")?;
    ensure!(
        agreement["order"] == order,
        "the agreement binds another order than the one saved"
    );
    if decided_since {
        std::fs::write(&saved, serde_json::to_vec_pretty(&agreement)?)?;
    }

    let (dataset, version) = (&agreement["dataset"], &agreement["version"]);
    let version_reply: Value = client
        .get_json(&format!(
            "/api/v1/datasets/{}/versions/{version}",
            dataset.as_str().unwrap_or_default()
        ))
        .await?;
    let manifest = &version_reply["manifest"];
    proof::verify_document_with_key(manifest, &node_did.public_key()).context("the manifest is not this node's")?;
    ensure!(
        evidence::digest_of(manifest)? == agreement["manifestDigest"].as_str().unwrap_or_default(),
        "the manifest is not the one the agreement binds"
    );
    let entries: Vec<FileEntry> = serde_json::from_value(manifest["files"].clone())?;
    let bars = indicatif::MultiProgress::new();
    let mut files = Vec::with_capacity(entries.len());
    for entry in &entries {
        let url = format!(
            "/api/v1/datasets/{}/versions/{version}/files/{}",
            dataset.as_str().unwrap_or_default(),
            encode_name(&entry.name)
        );
        files.push(fetch_file(&client, &url, entry, out, &bars, progress).await?);
    }

    let receipts: Vec<Value> = client.get_json(&format!("/api/v1/orders/{order_id}/receipts")).await?;
    let (checkpoint, note) = evidence::witnessed_checkpoint(&client, &origin, &node_did).await?;
    let mut logged = Vec::with_capacity(receipts.len());
    let path = out.join(EVIDENCE_FILE);
    let mut acknowledgements = earlier_acknowledgements(&path);
    let mut acknowledged = 0;
    for item in receipts {
        let log_index = item["logIndex"].as_u64().context("receipt without a log index")?;
        let receipt = item["receipt"].clone();
        proof::verify_document_with_key(&receipt, &node_did.public_key()).context("a receipt is not this node's")?;
        let inclusion_proof = evidence::inclusion_proof(&client, log_index, checkpoint.size).await?;
        evidence::check_inclusion(&receipt, log_index, &inclusion_proof, &checkpoint)?;
        let digest = evidence::digest_of(&receipt)?;
        if !acknowledgements
            .iter()
            .any(|ack| ack["receiptDigest"] == digest.as_str())
        {
            acknowledgements.push(acknowledge(&client, key, &order_id, &digest, log_index).await?);
            acknowledged += 1;
        }
        logged.push(LoggedReceipt {
            log_index,
            receipt,
            inclusion_proof,
        });
    }
    let bundle = Evidence {
        node: node_did.to_string(),
        log_origin: origin,
        order,
        agreement,
        receipts: logged,
        acknowledgements,
        checkpoint: note,
    };
    std::fs::write(&path, serde_json::to_vec_pretty(&bundle)?)?;
    Ok(FetchReport {
        order_id,
        files,
        receipts: bundle.receipts.len(),
        acknowledged,
        evidence: path,
    })
}

/// Acknowledgements saved by an earlier fetch into the same folder.
fn earlier_acknowledgements(path: &Path) -> Vec<Value> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Evidence>(&bytes).ok())
        .map(|earlier| earlier.acknowledgements)
        .unwrap_or_default()
}

async fn acknowledge(
    client: &NodeClient,
    key: &KeyPair,
    order_id: &str,
    receipt_digest: &str,
    log_index: u64,
) -> anyhow::Result<Value> {
    let now = Utc::now();
    let unsigned = json!({
        "type": ACKNOWLEDGEMENT_TYPE,
        "order": order_id,
        "receiptDigest": receipt_digest,
        "receiptLogIndex": log_index,
        "recipient": key.did(),
        "acknowledged": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let signed = sign_document(unsigned, key, now)?;
    let response = client
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/orders/{order_id}/acknowledgements"),
        )
        .json(&signed)
        .send()
        .await?;
    expect_success(response).await?;
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_folder_names_its_node_or_asks_for_one() {
        let folder = tempfile::tempdir().expect("dir");
        let missing = order_node(folder.path()).expect_err("no node file");
        assert!(missing.to_string().contains("give --node"), "{missing}");
        std::fs::write(folder.path().join(super::super::order::NODE_FILE), "http://a.example\n").expect("write");
        assert_eq!(order_node(folder.path()).expect("named"), "http://a.example");
    }
}
