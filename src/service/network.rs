//! The node among its peers: the signed description it shows them, and the peers
//! it knows, each pinned to the key that signed its description at first contact
//! (or to the DID the operator gave).
//!
//! A peer's description is untrusted input from the network: it is read with a
//! size bound and a timeout, parsed strictly, and believed only when its proof
//! verifies under the key its `id` names and that key is the pinned one. A peer
//! that shows another key is refused and the refusal is recorded, not adopted:
//! re-pinning is the operator's decision (remove and add the peer again).

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt as _;
use serde_json::Value;

use super::Context;
use super::federation;
use super::search::{self, SearchRequest};
use super::sharing::SHARING_PATH;
use super::transparency;
use super::witness::{self, WITNESS_PATH};
use crate::client::NodeClient;
use crate::crypto::canonical::parse_strict;
use crate::crypto::{Did, sign_document, verify_document};
use crate::domain::handle::HANDLES_PATH;
use crate::domain::node::{
    Endpoints, LogDescription, NODE_DESCRIPTION_TYPE, NodeDescription, Peer, RemoteVersion, Software,
    WitnessDescription,
};
use crate::error::AppError;
use crate::store::{PeerContact, Store};

/// Where a node serves its signed description, below its base URL.
pub const DESCRIPTION_PATH: &str = "/.well-known/shulian-node";

/// Largest description read from a peer; a real one is about 2 KiB.
const DESCRIPTION_MAX_BYTES: usize = 64 * 1024;

/// How long a peer may take to answer.
const CONTACT_TIMEOUT: Duration = Duration::from_secs(10);

/// This node's signed description, signed once: it changes only with the configuration.
pub fn description(ctx: &Context) -> Result<&Value, AppError> {
    if let Some(signed) = ctx.node.description.get() {
        return Ok(signed);
    }
    let signed = sign_description(ctx)?;
    Ok(ctx.node.description.get_or_init(|| signed))
}

fn sign_description(ctx: &Context) -> Result<Value, AppError> {
    let public = ctx.node.key.public();
    let api = format!("{}/api/v1", ctx.node.public_url);
    let sharing = format!("{}{SHARING_PATH}", ctx.node.public_url);
    let description = NodeDescription {
        kind: NODE_DESCRIPTION_TYPE.to_owned(),
        id: ctx.node.key.did().to_string(),
        name: ctx.node.name.clone(),
        software: Software {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        public_key_multibase: public.multibase(),
        verification_method: ctx.node.key.verification_method().to_owned(),
        log: LogDescription {
            verifier_key: transparency::verifier_key(ctx),
            origin: transparency::origin(ctx),
            checkpoint: format!("{api}/log/checkpoint"),
        },
        endpoints: Endpoints {
            openapi: format!("{api}/openapi.json"),
            datasets: format!("{api}/datasets"),
            delta_sharing: sharing.clone(),
            open_data_profile: format!("{sharing}/open.share"),
            changes: format!("{api}/changes"),
            handles: format!("{}{HANDLES_PATH}", ctx.node.public_url),
            api,
        },
        identifier_prefix: ctx.node.handle_prefix.to_string(),
        witness: Some(WitnessDescription {
            name: witness::name(&public),
            verifier_key: witness::cosigner_key(&public),
            submission_prefix: format!("{}{WITNESS_PATH}", ctx.node.public_url),
        }),
        proof: None,
    };
    let unsigned = serde_json::to_value(description).map_err(anyhow::Error::from)?;
    Ok(sign_document(unsigned, &ctx.node.key, Utc::now()).map_err(anyhow::Error::from)?)
}

/// Why a peer's description was not believed.
#[derive(Debug, thiserror::Error)]
pub enum PeerRefusal {
    /// The peer could not be reached, or did not answer with a description (in time,
    /// within the size a description may have).
    #[error("{url} did not answer with a node description: {reason}")]
    Unreachable {
        /// The peer's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The answer is not a description whose proof verifies under the key its `id` names.
    #[error("{url} answered a description that does not verify: {reason}")]
    Unverified {
        /// The peer's URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The description verifies, but under another key than the pinned one.
    #[error(
        "{url} is pinned to {pinned}, but its description is signed by {presented}: refused. \
         If the peer really changed its key, remove it and add it again with --did {presented}"
    )]
    KeyChanged {
        /// The peer's URL.
        url: String,
        /// The DID pinned for it.
        pinned: String,
        /// The DID that signed what it answered.
        presented: String,
    },
}

impl From<PeerRefusal> for AppError {
    fn from(refusal: PeerRefusal) -> Self {
        match refusal {
            PeerRefusal::KeyChanged { .. } => AppError::Conflict(refusal.to_string()),
            other => AppError::Unavailable(other.to_string()),
        }
    }
}

/// Adds a peer by its base URL (or contacts a known one again): its description must
/// verify, under `pinned` when the operator gave a DID, and under the key pinned at
/// the first contact for a known peer. A refusal of a known peer is recorded with it.
/// With `witness`, the peer is also asked from now on to witness this node's log.
pub async fn add_peer(store: &dyn Store, url: &str, pinned: Option<&Did>, witness: bool) -> Result<Peer, AppError> {
    let (peer, description) = contact_peer(store, url, pinned).await?;
    if !witness || peer.witnesses_us {
        return Ok(peer);
    }
    if description.witness.is_none() {
        return Err(AppError::Conflict(format!(
            "{} does not say it witnesses logs",
            peer.url
        )));
    }
    store.set_peer_witnesses_us(&peer.url, true).await?;
    Ok(Peer {
        witnesses_us: true,
        ..peer
    })
}

/// Forgets a peer: its pin and what was harvested from it (to pin a new key, add it again).
pub async fn remove_peer(store: &dyn Store, url: &str) -> Result<(), AppError> {
    let url = peer_url(url)?;
    if store.remove_peer(&url).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no peer {url}")))
    }
}

/// [`add_peer`], also answering the description the peer showed.
async fn contact_peer(store: &dyn Store, url: &str, pinned: Option<&Did>) -> Result<(Peer, NodeDescription), AppError> {
    let url = peer_url(url)?;
    let known = store.peer(&url).await?;
    let pinned = match (&known, pinned) {
        (Some(known), Some(given)) if known.did != given.as_str() => {
            return Err(AppError::Conflict(format!(
                "{url} is already pinned to {}; remove it before pinning {given}",
                known.did
            )));
        }
        (Some(known), _) => Some(known.did.clone()),
        (None, given) => given.map(ToString::to_string),
    };
    let now = Utc::now();
    let description = match contact(&url, pinned.as_deref()).await {
        Ok(description) => description,
        Err(refusal) if known.is_some() => {
            store
                .record_peer_contact(&url, &PeerContact::Refused(refusal.to_string()), now)
                .await?;
            tracing::warn!(peer = %url, %refusal, "peer refused");
            return Err(refusal.into());
        }
        Err(refusal) => return Err(refusal.into()),
    };
    let contact = PeerContact::Seen {
        did: description.id.clone(),
        name: description.name.clone(),
        identifier_prefix: description.identifier_prefix.clone(),
    };
    store.record_peer_contact(&url, &contact, now).await?;
    let peer = store
        .peer(&url)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the peer {url} was not kept")))?;
    Ok((peer, description))
}

/// How often a serving node contacts its peers again.
pub const PEER_CHECK_INTERVAL: Duration = Duration::from_secs(300);

/// Peers contacted at once by a check.
const CONCURRENT_CONTACTS: usize = 4;

/// Contacts every known peer again, harvests its catalog and board and witnesses its log,
/// recording how each went (a peer that does not answer, answers under another key, lists
/// what does not verify or shows a tree that does not extend the one witnessed keeps its
/// pin and what was harvested before, and shows the error).
pub async fn check_peers(store: &dyn Store) -> Result<Vec<Peer>, AppError> {
    let peers = store.peers().await?;
    futures::stream::iter(peers)
        .for_each_concurrent(CONCURRENT_CONTACTS, |peer| async move {
            match contact_peer(store, &peer.url, None).await {
                Ok((peer, description)) => {
                    let harvested = match federation::harvest(store, &peer, &description).await {
                        Ok(_) => match federation::harvest_demands(store, &peer).await {
                            Ok(_) => witness::follow(store, &peer).await,
                            Err(error) => Err(error),
                        },
                        Err(error) => Err(error),
                    };
                    if let Err(error) = harvested {
                        tracing::warn!(peer = %peer.url, error = format!("{error:#}"), "harvest failed");
                        let refusal = PeerContact::Refused(format!("harvest: {error:#}"));
                        if let Err(error) = store.record_peer_contact(&peer.url, &refusal, Utc::now()).await {
                            tracing::warn!(peer = %peer.url, %error, "harvest failure not recorded");
                        }
                    }
                }
                Err(error) => tracing::warn!(peer = %peer.url, %error, "peer check failed"),
            }
        })
        .await;
    Ok(store.peers().await?)
}

/// Checks the peers, and asks the witnesses among them to cosign the current checkpoint,
/// now and every [`PEER_CHECK_INTERVAL`] while the node serves.
pub fn spawn_peer_checks(ctx: Context) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PEER_CHECK_INTERVAL);
        loop {
            ticks.tick().await;
            if let Err(error) = check_peers(ctx.store.as_ref()).await {
                tracing::warn!(%error, "peers not checked");
            }
            if let Err(error) = witness::cosigned_checkpoint(&ctx).await {
                tracing::warn!(%error, "checkpoint not cosigned");
            }
        }
    })
}

/// Every peer this node knows, by URL.
pub async fn peers(ctx: &Context) -> Result<Vec<Peer>, AppError> {
    Ok(ctx.store.peers().await?)
}

/// A dataset a peer holds, as this node harvested it (its manifest verified under the
/// peer's key and included in the peer's log): downloaded and ordered at the peer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerDatasetView {
    /// The peer's name.
    pub node_name: String,
    /// The peer's base URL.
    pub node_url: String,
    /// The peer's DID, pinned.
    pub node_did: String,
    /// Its global identifier (`<peer prefix>/<dataset>@<version>`), when the peer has a prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The dataset, as the peer names it.
    #[schema(value_type = String)]
    pub dataset: crate::domain::DatasetId,
    /// Its newest version harvested.
    #[schema(value_type = u32)]
    pub version: crate::domain::VersionNumber,
    /// Open, or licensed (ordered at the peer).
    pub access: crate::domain::AccessClass,
    /// Its title.
    pub title: crate::domain::LocalizedText,
    /// The digest of its signed manifest, as verified: `sha256:<hex>`.
    pub manifest_digest: String,
    /// Where its manifest stands in the peer's log.
    pub log_index: u64,
    /// When the peer published it.
    pub published_at: chrono::DateTime<Utc>,
    /// Its page at the peer: where its files are downloaded or it is ordered.
    pub url: String,
}

/// Datasets listed from peers, at most.
const PEER_DATASETS: u32 = 50;

/// The newest datasets harvested from this node's peers, each at its newest version.
pub async fn peer_datasets(ctx: &Context) -> Result<Vec<PeerDatasetView>, AppError> {
    let held = ctx.store.newest_remote_versions(PEER_DATASETS).await?;
    views_of(ctx, held).await
}

/// A page of the peers' datasets a search found.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerSearchPage {
    /// The datasets found, best first, each at its newest version harvested.
    pub items: Vec<PeerDatasetView>,
    /// How many match in all.
    pub total: u64,
    /// Counts of each facet's values among the matches; `node` names the peers by prefix.
    #[schema(value_type = Object)]
    pub facets: std::collections::BTreeMap<String, Vec<Value>>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Searches the datasets harvested from peers, as the catalog is searched (the same index,
/// analysis and ranking), with a `node` facet naming each holder by its identifier prefix.
pub async fn search_peer_datasets(ctx: &Context, request: SearchRequest) -> Result<PeerSearchPage, AppError> {
    let found = search::find_peer_datasets(ctx, request).await?;
    let held = search::datasets_of(ctx, found.keys)
        .await?
        .into_iter()
        .filter_map(|found| match found {
            search::FoundDataset::Peer(entry) => Some((entry.peer_url, entry.version)),
            search::FoundDataset::Local(_) => None,
        })
        .collect();
    Ok(PeerSearchPage {
        items: views_of(ctx, held).await?,
        total: found.total,
        facets: search::facets_but_kind(found.facets),
        next_cursor: found.next_cursor,
    })
}

/// Every peer this node knows, by its URL.
pub async fn peers_by_url(ctx: &Context) -> Result<std::collections::HashMap<String, Peer>, AppError> {
    Ok(ctx
        .store
        .peers()
        .await?
        .into_iter()
        .map(|peer| (peer.url.clone(), peer))
        .collect())
}

/// Views of versions held at peers (peer URL, version), in order; a peer since removed is left out.
async fn views_of(ctx: &Context, held: Vec<(String, RemoteVersion)>) -> Result<Vec<PeerDatasetView>, AppError> {
    let peers = peers_by_url(ctx).await?;
    Ok(held
        .into_iter()
        .filter_map(|(url, version)| {
            let peer = peers.get(&url)?;
            Some(PeerDatasetView {
                node_name: peer.name.clone(),
                node_did: peer.did.clone(),
                identifier: peer.identifier(&version.dataset, Some(version.version)),
                url: peer.dataset_page(&version.dataset),
                node_url: url,
                dataset: version.dataset,
                version: version.version,
                access: version.access,
                title: version.title,
                manifest_digest: version.manifest_digest.prefixed(),
                log_index: version.log_index,
                published_at: version.published_at,
            })
        })
        .collect())
}

/// A peer's base URL as kept: `http(s)://host[:port][/path]` without a trailing slash.
fn peer_url(text: &str) -> Result<String, AppError> {
    let parsed = url::Url::parse(text.trim())
        .map_err(|error| AppError::InvalidRequest(format!("peer URL {text:?}: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(AppError::InvalidRequest(format!(
            "a peer is reached by an http(s) URL with a host, not {text:?}"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(AppError::InvalidRequest(format!(
            "a peer URL carries no query, fragment or credentials: {text:?}"
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Reads a peer's description and checks its proof, its `id` and, if given, the pinned DID.
async fn contact(url: &str, pinned: Option<&str>) -> Result<NodeDescription, PeerRefusal> {
    let unreachable = |reason: String| PeerRefusal::Unreachable {
        url: url.to_owned(),
        reason,
    };
    let unverified = |reason: String| PeerRefusal::Unverified {
        url: url.to_owned(),
        reason,
    };
    let client = NodeClient::for_peer(url, CONTACT_TIMEOUT, DESCRIPTION_MAX_BYTES)
        .map_err(|error| unreachable(format!("{error:#}")))?;
    let body = client
        .get_bytes(&client.url(DESCRIPTION_PATH))
        .await
        .map_err(|error| unreachable(format!("{error:#}")))?;
    let document = parse_strict(&body).map_err(|error| unverified(error.to_string()))?;
    let signer = verify_document(&document).map_err(|error| unverified(error.to_string()))?;
    let description: NodeDescription =
        serde_json::from_value(document).map_err(|error| unverified(error.to_string()))?;
    if description.kind != NODE_DESCRIPTION_TYPE {
        return Err(unverified(format!(
            "its type is {:?}, not {NODE_DESCRIPTION_TYPE}",
            description.kind
        )));
    }
    if description.id != signer.as_str() {
        return Err(unverified(format!(
            "it names itself {} but is signed by {signer}",
            description.id
        )));
    }
    match pinned {
        Some(pinned) if pinned != signer.as_str() => Err(PeerRefusal::KeyChanged {
            url: url.to_owned(),
            pinned: pinned.to_owned(),
            presented: signer.to_string(),
        }),
        _ => Ok(description),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_are_http_bases_without_extras() {
        assert_eq!(peer_url("http://127.0.0.1:8080/").expect("ok"), "http://127.0.0.1:8080");
        assert_eq!(
            peer_url(" https://node.example/sub/ ").expect("ok"),
            "https://node.example/sub"
        );
        for bad in [
            "ftp://x",
            "not a url",
            "http://u:p@host",
            "http://host/?q=1",
            "http://host/#f",
            "file:///etc",
        ] {
            assert!(peer_url(bad).is_err(), "{bad}");
        }
    }
}
