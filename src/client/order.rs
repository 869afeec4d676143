//! `shulian order`: build, sign and place an order for a licensed dataset version.
//!
//! The order's terms default to the most the offer allows; the price and
//! licence digest are copied from the offer in the node-signed manifest,
//! which is verified first. The order, the agreement and the order-scoped
//! token are saved in the order folder with a Delta Sharing profile for the
//! ordered tables; the token and the profile are readable by their owner only.
//!
//! A version found through another node (a peer's dataset, by its identifier) is
//! ordered where it is held: the resolver's record names the holding node, the DID
//! it knows that node by and the manifest it verified, and the order is placed only
//! when the holding node signs as that DID and serves that manifest. The resolver
//! never sees the order's token.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::{NodeClient, expect_success};
use crate::crypto::{KeyPair, proof, sign_document};
use crate::domain::order::ORDER_TYPE;
use crate::domain::{DatasetId, DatasetMetadata, VersionNumber};

/// What the buyer wants.
pub struct OrderRequest {
    /// The dataset.
    pub dataset: DatasetId,
    /// The version (the newest when `None`).
    pub version: Option<VersionNumber>,
    /// The purpose, one of the offer's.
    pub purpose: String,
    /// Days of validity (default: the offer's maximum).
    pub validity_days: Option<u32>,
    /// Downloads per file (default: the offer's maximum).
    pub max_downloads: Option<u32>,
    /// What a resolver said of the version, when it was found by identifier: the node
    /// ordered at must prove to be what it said.
    pub holder: Option<super::resolve::Holder>,
}

/// What an order did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderReport {
    /// The order's id.
    pub order_id: String,
    /// Its state.
    pub state: String,
    /// The dataset ordered.
    pub dataset: String,
    /// The version ordered.
    pub version: u32,
    /// The node the order was placed at.
    pub node: String,
    /// When the agreement ends, if agreed.
    pub valid_until: Option<DateTime<Utc>>,
    /// The folder holding order.json, agreement.json and the token.
    pub out: PathBuf,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionReply {
    version: u32,
    manifest_digest: String,
    manifest: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Placed {
    order_id: String,
    state: String,
    agreement: Option<Value>,
    access_token: String,
    valid_until: Option<DateTime<Utc>>,
    delta_sharing_profile: Value,
}

/// Files in an order folder.
pub const ORDER_FILE: &str = "order.json";
/// The agreement's file in an order folder.
pub const AGREEMENT_FILE: &str = "agreement.json";
/// The token's file in an order folder.
pub const TOKEN_FILE: &str = "token";
/// The Delta Sharing profile in an order folder: `delta_sharing.load_as_pandas("<dir>/profile.share#share.schema.table")`.
pub const PROFILE_FILE: &str = "profile.share";
/// The order id's file in an order folder.
pub const ID_FILE: &str = "id";
/// The order folder's file naming the node the order was placed at (and is fetched from).
pub const NODE_FILE: &str = "node";

/// Signs and places an order; saves its documents under `out` (default `./order-<id>`).
pub async fn place_order(
    client: &NodeClient,
    key: &KeyPair,
    request: &OrderRequest,
    out: Option<&Path>,
) -> anyhow::Result<OrderReport> {
    let node_did = client.remote_node().await?.did;
    if let Some(holder) = &request.holder {
        holder.ensure_node(&node_did)?;
    }
    let version_path = request.version.map_or_else(|| "latest".to_owned(), |v| v.to_string());
    let version: VersionReply = client
        .get_json(&format!("/api/v1/datasets/{}/versions/{version_path}", request.dataset))
        .await?;
    proof::verify_document_with_key(&version.manifest, &node_did.public_key())
        .context("the version manifest is not signed by this node's key")?;
    if let Some(holder) = &request.holder {
        holder.ensure_manifest(&request.dataset, &version.manifest)?;
    }
    let metadata: DatasetMetadata = serde_json::from_value(version.manifest["metadata"].clone())?;
    let offer = metadata
        .offer
        .with_context(|| format!("{} is open data: download it with `shulian get`", request.dataset))?;
    let license_sha256 = hex::encode(sha2::Sha256::digest(offer.license_text.as_bytes()));
    let now = Utc::now();
    let unsigned = json!({
        "type": ORDER_TYPE,
        "node": node_did,
        "dataset": request.dataset,
        "version": version.version,
        "manifestDigest": version.manifest_digest,
        "purpose": request.purpose,
        "validityDays": request.validity_days.unwrap_or(offer.max_validity_days),
        "maxDownloads": request.max_downloads.unwrap_or(offer.max_downloads),
        "priceFen": offer.price_fen,
        "licenseSha256": format!("sha256:{license_sha256}"),
        "buyer": key.did(),
        "nonce": uuid::Uuid::new_v4().simple().to_string(),
        "created": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let order = sign_document(unsigned, key, now)?;
    let response = client
        .request(reqwest::Method::POST, "/api/v1/orders")
        .json(&order)
        .send()
        .await?;
    let placed: Placed = expect_success(response).await?.json().await?;
    if let Some(agreement) = &placed.agreement {
        proof::verify_document_with_key(agreement, &node_did.public_key())
            .context("the agreement is not signed by this node's key")?;
    }
    let out = out.map_or_else(
        || PathBuf::from(format!("order-{}", placed.order_id)),
        Path::to_path_buf,
    );
    let node = client.url("");
    save_order(&out, &node, &placed, &order)?;
    Ok(OrderReport {
        order_id: placed.order_id,
        state: placed.state,
        dataset: request.dataset.to_string(),
        version: version.version,
        node,
        valid_until: placed.valid_until,
        out,
    })
}

fn save_order(out: &Path, node: &str, placed: &Placed, order: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join(ID_FILE), &placed.order_id)?;
    std::fs::write(out.join(NODE_FILE), node)?;
    std::fs::write(out.join(ORDER_FILE), serde_json::to_vec_pretty(order)?)?;
    if let Some(agreement) = &placed.agreement {
        std::fs::write(out.join(AGREEMENT_FILE), serde_json::to_vec_pretty(agreement)?)?;
    }
    // The token and the profile holding it are readable by their owner only.
    write_private(&out.join(TOKEN_FILE), placed.access_token.as_bytes())?;
    write_private(
        &out.join(PROFILE_FILE),
        &serde_json::to_vec_pretty(&placed.delta_sharing_profile)?,
    )
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)?;
    Ok(())
}
