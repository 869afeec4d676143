//! Catalog federation: reading a peer's change feed and keeping what it published,
//! each version believed only once its manifest verifies under the peer's pinned key,
//! its digest is the one the feed names, and it is included in the peer's log under
//! a checkpoint signed by the peer's log key. The peer's demand board is read the same
//! way ([`harvest_demands`]): each demand kept only once its poster's signature
//! verifies and it names that peer.
//!
//! The feed is read a bounded page at a time and each page is kept before the next is
//! read, so memory does not grow with the peer's catalog and an interrupted harvest
//! resumes after the last page kept. A harvest with nothing new reads one page. Every
//! answer of the peer is bounded in size and time.

use anyhow::{Context as _, ensure};
use chrono::Utc;

use super::catalog::{ChangeEntry, ChangesPage};
use super::demands::{DemandPage, DemandView};
use crate::client::{NodeClient, evidence};
use crate::crypto::canonical::{canonicalize, parse_strict};
use crate::crypto::{Did, document_digest, verify_document};
use crate::domain::demand::{DemandDocument, DemandKind};
use crate::domain::node::{NodeDescription, Peer, RemoteDemand, RemoteVersion};
use crate::domain::{DatasetMetadata, FileEntry, Sha256Digest};
use crate::ledger::Checkpoint;
use crate::search::peer_dataset_document;
use crate::store::{HarvestedVersion, Store};

/// Changes read per page of a peer's feed.
const HARVEST_PAGE: u32 = 200;

/// Largest answer read from a peer: a page of the feed, a manifest (up to 10,000 files
/// listed), a proof, a checkpoint.
const MAX_PEER_ANSWER: usize = 16 * 1024 * 1024;

/// How long one request to a peer may take.
const PEER_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads `peer`'s change feed after what was harvested before and keeps every version
/// it lists, verified; returns how many versions were new to this harvest.
pub async fn harvest(store: &dyn Store, peer: &Peer, description: &NodeDescription) -> anyhow::Result<usize> {
    let client = NodeClient::for_peer(&peer.url, PEER_REQUEST_TIMEOUT, MAX_PEER_ANSWER)?;
    let did: Did = peer.did.parse()?;
    let mut checkpoint: Option<Checkpoint> = None;
    let mut through = peer.harvested_through;
    let mut harvested = 0;
    loop {
        let path = match through {
            Some(after) => format!("/api/v1/changes?after={after}&limit={HARVEST_PAGE}"),
            None => format!("/api/v1/changes?limit={HARVEST_PAGE}"),
        };
        let page: ChangesPage = client.get_json(&path).await?;
        let mut versions = Vec::with_capacity(page.changes.len());
        for change in &page.changes {
            if checkpoint.as_ref().is_none_or(|known| change.sequence >= known.size) {
                let (latest, _) = evidence::current_checkpoint(&client, &description.log.origin, &did).await?;
                checkpoint = Some(latest);
            }
            let under = checkpoint.as_ref().context("no checkpoint")?;
            ensure!(
                change.sequence < under.size,
                "the feed lists log entry {} beyond the peer's checkpoint of {}",
                change.sequence,
                under.size
            );
            versions.push(verified(&client, peer, &did, change, under).await?);
        }
        harvested += versions.len();
        let full = page.next.is_some();
        through = page.last.or(through);
        store.record_harvest(&peer.url, &versions, through, Utc::now()).await?;
        if !full {
            return Ok(harvested);
        }
    }
}

/// Demands read per page of a peer's board (the most its board gives).
const BOARD_PAGE: u32 = 50;

/// Pages of a peer's board one harvest reads at most: a harvest of a busy board is
/// bounded, and the next one goes on from the newest demand kept.
const BOARD_PAGES: usize = 20;

/// Reads `peer`'s demand board, newest first, back to the newest demand kept before (the
/// first page again, for the states shown on it), and keeps every demand it lists,
/// verified; returns how many it read.
pub async fn harvest_demands(store: &dyn Store, peer: &Peer) -> anyhow::Result<usize> {
    let client = NodeClient::for_peer(&peer.url, PEER_REQUEST_TIMEOUT, MAX_PEER_ANSWER)?;
    let did: Did = peer.did.parse()?;
    let since = store.newest_remote_demand(&peer.url).await?;
    let mut cursor: Option<String> = None;
    let mut read = 0;
    for _ in 0..BOARD_PAGES {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/demands?limit={BOARD_PAGE}&cursor={cursor}"),
            None => format!("/api/v1/demands?limit={BOARD_PAGE}"),
        };
        let page: DemandPage = client.get_json(&path).await?;
        let demands = page
            .items
            .iter()
            .map(|demand| verified_demand(&did, demand))
            .collect::<anyhow::Result<Vec<_>>>()?;
        read += demands.len();
        store.record_remote_demands(&peer.url, &demands, Utc::now()).await?;
        let reached_known = since.is_some_and(|since| demands.iter().any(|demand| demand.created_at < since));
        match page.next_cursor {
            Some(next) if !reached_known => cursor = Some(next),
            _ => break,
        }
    }
    Ok(read)
}

/// A listed demand, once its poster's signature verifies and it names the peer (a
/// challenge, signed by the peer's own key).
fn verified_demand(did: &Did, listed: &DemandView) -> anyhow::Result<RemoteDemand> {
    let id = &listed.id;
    // The id becomes part of a link to the peer's page: the peer's ids are UUIDs.
    ensure!(
        uuid::Uuid::parse_str(id).is_ok(),
        "the board lists a demand id that is not a UUID: {id:?}"
    );
    let signer = verify_document(&listed.document).with_context(|| format!("demand {id}"))?;
    let demand: DemandDocument =
        serde_json::from_value(listed.document.clone()).with_context(|| format!("demand {id}"))?;
    ensure!(
        demand.poster == signer.as_str(),
        "demand {id} names the poster {} but is signed by {signer}",
        demand.poster
    );
    ensure!(
        demand.node == did.as_str(),
        "demand {id} is addressed to another node than the peer"
    );
    ensure!(
        demand.kind == listed.kind,
        "demand {id} is listed as another kind than it is"
    );
    ensure!(
        demand.kind == DemandKind::Demand || signer == *did,
        "challenge {id} is not signed by the peer's key"
    );
    Ok(RemoteDemand {
        id: id.clone(),
        kind: demand.kind,
        state: listed.state,
        document: canonicalize(&listed.document)?,
        created_at: listed.created_at,
    })
}

/// A listed version, once its manifest verifies and is included in the peer's log, with
/// what it is found by.
async fn verified(
    client: &NodeClient,
    peer: &Peer,
    did: &Did,
    change: &ChangeEntry,
    checkpoint: &Checkpoint,
) -> anyhow::Result<HarvestedVersion> {
    let (dataset, version) = (&change.dataset, change.entry.version);
    let path = format!("/api/v1/datasets/{dataset}/versions/{version}/manifest");
    let manifest = parse_strict(&client.get_bytes(&client.url(&path)).await?)?;
    let signer = verify_document(&manifest).with_context(|| format!("the manifest of {dataset} version {version}"))?;
    ensure!(
        signer == *did,
        "the manifest of {dataset} version {version} is signed by {signer}, not by the pinned {did}"
    );
    let digest = Sha256Digest::from_bytes(document_digest(&manifest)?);
    ensure!(
        digest.prefixed() == change.entry.manifest_digest,
        "the manifest of {dataset} version {version} is not the one the feed names"
    );
    ensure!(
        manifest["dataset"] == dataset.as_str() && manifest["version"] == version.get(),
        "the manifest served for {dataset} version {version} is another version's"
    );
    let proof = evidence::inclusion_proof(client, change.sequence, checkpoint.size).await?;
    evidence::check_inclusion(&manifest, change.sequence, &proof, checkpoint)?;
    let metadata: DatasetMetadata =
        serde_json::from_value(manifest["metadata"].clone()).context("the manifest's metadata")?;
    let published = manifest["published"]
        .as_str()
        .context("the manifest has no publication time")?;
    let formats = serde_json::from_value::<Vec<FileEntry>>(manifest["files"].clone())
        .context("the manifest's files")?
        .iter()
        .map(|file| file.media_type.format_name())
        .collect();
    let prefix = peer.identifier_prefix.as_deref().unwrap_or(&peer.url);
    let search = peer_dataset_document(dataset, &metadata, formats, &peer.name, prefix);
    let described = canonicalize(&manifest["metadata"])?;
    Ok(HarvestedVersion {
        version: RemoteVersion {
            dataset: dataset.clone(),
            version,
            access: metadata.access,
            title: metadata.title,
            manifest_digest: digest,
            log_index: change.sequence,
            published_at: chrono::DateTime::parse_from_rfc3339(published)?.with_timezone(&Utc),
        },
        search,
        metadata: described,
    })
}
