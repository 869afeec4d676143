//! Witnessing logs (C2SP `tlog-witness`, cosignatures per `tlog-cosignature`).
//!
//! As a witness, a node follows the logs of its peers (their pinned keys name the logs
//! it knows): a checkpoint is cosigned only when it extends the latest one the witness
//! verified of that log, by a consistency proof. A log that shows a second tree of a
//! size already verified, or a tree that does not extend it, is refused and both signed
//! checkpoints are kept as evidence of a split view ([`conflicts`]). Checkpoints reach
//! the witness two ways, judged by one function: the log submits them
//! (`POST /witness/add-checkpoint`), and the witness reads each peer's public checkpoint
//! when it checks its peers, so a log cannot show the witness one tree and everyone
//! else another.
//!
//! As a log, a node asks the peers the operator marked as its witnesses to cosign its
//! current checkpoint and serves their cosignatures with it; a verifier who trusts a
//! quorum of witnesses (`shulian verify --witness`) then knows the tree it was shown is
//! the one the witnesses saw.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;

use super::Context;
use super::transparency;
use crate::client::{NodeClient, evidence};
use crate::crypto::note::{self, Cosigner};
use crate::crypto::{Did, PublicKey};
use crate::domain::node::Peer;
use crate::error::AppError;
use crate::ledger::witness::{AddCheckpoint, Conflict, WitnessRefusal, WitnessedCheckpoint};
use crate::ledger::{Checkpoint, merkle, origin_for};
use crate::store::Store;

/// The witness's submission prefix below a node's base URL.
pub const WITNESS_PATH: &str = "/witness";

/// How long a witness or a witnessed log may take to answer.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read from a witness (cosignature lines) or a log (a checkpoint, a proof).
const MAX_WITNESS_ANSWER: usize = 64 * 1024;

/// How long a replica waits before asking its witnesses again about a tree size they
/// did not all cosign (a witness that is down is not asked on every request).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Conflicts listed at most.
const CONFLICTS_LISTED: u32 = 100;

/// The name a node's cosignatures carry: its log origin, as a witness.
pub fn name(key: &PublicKey) -> String {
    format!("{}/witness", origin_for(key))
}

/// The cosigner verifier key of the node with this key, as `--witness` takes it.
pub fn cosigner_key(key: &PublicKey) -> String {
    note::cosigner_verifier_key(&name(key), key)
}

/// As a witness: judges a log's `add-checkpoint` request and, when it extends what was
/// verified of that log, records it and answers this node's cosignature line.
pub async fn add_checkpoint(ctx: &Context, body: &str) -> Result<String, AppError> {
    let request = AddCheckpoint::parse(body)?;
    judge(ctx.store.as_ref(), &request).await?;
    let timestamp = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    let line = note::cosign(
        &request.checkpoint,
        &name(&ctx.node.key.public()),
        &ctx.node.key,
        timestamp,
    )
    .map_err(|error| WitnessRefusal::Malformed(malformed_note(&error)))?;
    Ok(line)
}

fn malformed_note(error: &note::NoteError) -> &'static str {
    match error {
        note::NoteError::Malformed(why) => why,
        note::NoteError::NotSigned(_) => "the checkpoint is not signed",
    }
}

/// The evidence this node kept, as a witness, of logs that showed two trees.
pub async fn conflicts(ctx: &Context) -> Result<Vec<Conflict>, AppError> {
    Ok(ctx.store.witness_conflicts(CONFLICTS_LISTED).await?)
}

/// The peer whose log has `origin`, with its key.
async fn log_of(store: &dyn Store, origin: &str) -> Result<(Peer, PublicKey), AppError> {
    for peer in store.peers().await? {
        let Ok(did) = peer.did.parse::<Did>() else { continue };
        let key = did.public_key();
        if origin_for(&key) == origin {
            return Ok((peer, key));
        }
    }
    Err(WitnessRefusal::UnknownLog(origin.to_owned()).into())
}

/// Checks a submitted checkpoint against the latest one verified of its log and makes it
/// the latest; refusals say why, and a fork or an inconsistent tree is kept as evidence.
async fn judge(store: &dyn Store, request: &AddCheckpoint) -> Result<Checkpoint, AppError> {
    let origin = request.origin();
    let (_, key) = log_of(store, origin).await?;
    let checkpoint = Checkpoint::verify(&request.checkpoint, origin, &key).map_err(|error| match error {
        crate::ledger::CheckpointError::Note(note::NoteError::NotSigned(_)) => {
            WitnessRefusal::NotSigned(origin.to_owned())
        }
        crate::ledger::CheckpointError::Note(note::NoteError::Malformed(why))
        | crate::ledger::CheckpointError::Malformed(why) => WitnessRefusal::Malformed(why),
    })?;
    if request.old_size > checkpoint.size {
        return Err(WitnessRefusal::OldTooLarge {
            old: request.old_size,
            size: checkpoint.size,
        }
        .into());
    }
    let recorded = store.witnessed_checkpoint(origin).await?;
    let latest = recorded.as_ref().map_or(0, |recorded| recorded.size);
    if request.old_size != latest {
        return Err(WitnessRefusal::OldSizeDiffers { latest }.into());
    }
    // Every tree extends the empty one: only a recorded tree with leaves can be contradicted.
    if let Some(recorded) = recorded.as_ref().filter(|recorded| recorded.size > 0) {
        let refusal = if checkpoint.size == recorded.size {
            (checkpoint.root != recorded.root).then_some(WitnessRefusal::Fork(checkpoint.size))
        } else {
            let proof: Vec<Vec<u8>> = request.proof.iter().map(|hash| hash.to_vec()).collect();
            merkle::verify_consistency(recorded.size, checkpoint.size, &recorded.root, &checkpoint.root, &proof)
                .err()
                .map(|_| WitnessRefusal::Inconsistent(recorded.size))
        };
        if let Some(refusal) = refusal {
            tracing::warn!(log = origin, %refusal, "a witnessed log showed two trees");
            store
                .record_witness_conflict(&Conflict {
                    origin: origin.to_owned(),
                    size: checkpoint.size,
                    accepted: recorded.note.clone(),
                    conflicting: request.checkpoint.clone(),
                    reason: refusal.to_string(),
                    recorded_at: Utc::now(),
                })
                .await?;
            return Err(refusal.into());
        }
    }
    let verified = WitnessedCheckpoint {
        size: checkpoint.size,
        root: checkpoint.root,
        note: request.checkpoint.clone(),
    };
    if !store
        .advance_witnessed_checkpoint(origin, latest, &verified, Utc::now())
        .await?
    {
        // Another submission advanced it between the read and the write.
        let latest = store
            .witnessed_checkpoint(origin)
            .await?
            .map_or(0, |recorded| recorded.size);
        return Err(WitnessRefusal::OldSizeDiffers { latest }.into());
    }
    Ok(checkpoint)
}

/// As a witness: reads a peer's public checkpoint and judges it like a submitted one
/// (with a consistency proof from the peer's log), so a tree the peer shows everyone
/// is checked against the one it submitted.
pub async fn follow(store: &dyn Store, peer: &Peer) -> anyhow::Result<()> {
    let client = NodeClient::for_peer(&peer.url, WITNESS_TIMEOUT, MAX_WITNESS_ANSWER)?;
    let did: Did = peer.did.parse()?;
    let origin = origin_for(&did.public_key());
    let (checkpoint, shown) = evidence::current_checkpoint(&client, &origin, &did).await?;
    let recorded = store.witnessed_checkpoint(&origin).await?;
    let old_size = recorded.as_ref().map_or(0, |recorded| recorded.size);
    if checkpoint.size < old_size {
        // An older view (a cache, a lagging replica) proves nothing either way.
        return Ok(());
    }
    let proof = if old_size == 0 || old_size == checkpoint.size {
        Vec::new()
    } else {
        let reply: transparency::ConsistencyView = client
            .get_json(&format!(
                "/api/v1/log/proof/consistency?from={old_size}&to={}",
                checkpoint.size
            ))
            .await?;
        decode_hashes(&reply.proof).context("the peer's consistency proof is malformed")?
    };
    let request = AddCheckpoint {
        old_size,
        proof,
        checkpoint: shown,
    };
    match judge(store, &request).await {
        Ok(_) | Err(AppError::WitnessRefused(WitnessRefusal::OldSizeDiffers { .. })) => Ok(()),
        Err(error) => Err(anyhow::anyhow!("witnessing its log: {error}")),
    }
}

/// When this replica last asked its witnesses, and about which tree size.
#[derive(Debug, Default)]
pub struct CosigningState {
    last_round: tokio::sync::Mutex<Option<(u64, Instant)>>,
}

/// As a log: the current checkpoint with every cosignature its witnesses gave, asking the
/// witnesses that have not cosigned it yet (one round at a time per replica; a size asked
/// about in the last 30 s is not asked about again).
pub async fn cosigned_checkpoint(ctx: &Context) -> Result<String, AppError> {
    let (size, signed) = transparency::signed_checkpoint(ctx).await?;
    {
        let mut last_round = ctx.cosigning.last_round.lock().await;
        let asked_lately = last_round
            .as_ref()
            .is_some_and(|(asked, at)| *asked == size && at.elapsed() < RETRY_AFTER);
        if !asked_lately {
            let witnesses: Vec<Peer> = ctx
                .store
                .peers()
                .await?
                .into_iter()
                .filter(|peer| peer.witnesses_us)
                .collect();
            let cosigned: Vec<String> = ctx
                .store
                .cosignatures(size)
                .await?
                .into_iter()
                .map(|(witness, _)| witness)
                .collect();
            for peer in witnesses.iter().filter(|peer| !cosigned.contains(&peer.did)) {
                if let Err(error) = ask_to_cosign(ctx, peer, size, &signed).await {
                    tracing::warn!(witness = %peer.url, error = format!("{error:#}"), "checkpoint not cosigned");
                }
            }
            *last_round = Some((size, Instant::now()));
        }
    }
    transparency::with_cosignatures(ctx, size, signed).await
}

/// Submits this node's checkpoint of `size` to one witness and keeps its cosignature.
async fn ask_to_cosign(ctx: &Context, peer: &Peer, size: u64, signed: &str) -> anyhow::Result<()> {
    let did: Did = peer.did.parse()?;
    let cosigner = Cosigner {
        name: name(&did.public_key()),
        key: did.public_key(),
    };
    let client = NodeClient::for_peer(&peer.url, WITNESS_TIMEOUT, MAX_WITNESS_ANSWER)?;
    let mut old_size = ctx.store.cosigned_size(&peer.did).await?.unwrap_or(0);
    // Twice at most: the witness may know a later size than this node kept (it followed
    // the log, or another replica asked), and says which.
    for _ in 0..2 {
        anyhow::ensure!(old_size <= size, "the witness has cosigned a larger tree ({old_size})");
        let proof = if old_size == 0 || old_size == size {
            Vec::new()
        } else {
            transparency::consistency_hashes(ctx, old_size, size).await?
        };
        let request = AddCheckpoint {
            old_size,
            proof,
            checkpoint: signed.to_owned(),
        };
        let (status, content_type, body) = client
            .post_text(&format!("{WITNESS_PATH}/add-checkpoint"), request.body())
            .await?;
        let text = String::from_utf8_lossy(&body);
        if status == reqwest::StatusCode::CONFLICT && content_type.starts_with("text/x.tlog.size") {
            old_size = text.trim_end().parse().context("the witness's size is not a number")?;
            continue;
        }
        anyhow::ensure!(status.is_success(), "the witness answered {status}: {text}");
        let line = text
            .lines()
            .map(|line| format!("{line}\n"))
            .find(|line| note::cosigned_at(&format!("{signed}{line}"), &cosigner).is_ok())
            .context("the witness answered no valid cosignature by its key")?;
        ctx.store.record_cosignature(size, &peer.did, &line, Utc::now()).await?;
        return Ok(());
    }
    anyhow::bail!("the witness's size kept changing")
}

/// Base64 hashes of a consistency proof as the JSON API serves them, decoded.
fn decode_hashes(encoded: &[String]) -> Option<Vec<merkle::Hash>> {
    encoded
        .iter()
        .map(|hash| STANDARD.decode(hash).ok().and_then(|bytes| bytes.try_into().ok()))
        .collect()
}
