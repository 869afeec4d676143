//! Delivering licensed files under an order: read sessions, download limits,
//! recorded refusals, signed receipts.
//!
//! No licensed byte leaves uncounted: every response is admitted in a read
//! session before its first byte is sent (see [`crate::domain::delivery`]).
//! A session's first response spends one download and, in the same
//! transaction, the node signs and logs a receipt naming the order, the
//! file's sha256, the recipient, the session and what it covers (the whole
//! file, at most the session's byte limit), and the receipt's own log index.
//! A response cut off later has still been counted: resuming it in the same
//! session costs nothing more.

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use super::{Context, transparency};
use crate::domain::EntryKind;
use crate::domain::delivery::{RECEIPT_TYPE, session_byte_limit};
use crate::domain::{FileEntry, ReadSessionId};
use crate::error::AppError;
use crate::store::{LoggedDocument, OrderGrant, ReceiptFacts, SessionAdmission, SessionRead, StoreError};

/// Attempts at admitting a read that raced with another request of the same order.
const RECORD_ATTEMPTS: usize = 5;

/// Refuses (and records the refusal) when the order's downloads of this file are used up
/// and `session` is not one of them; what a `HEAD` learns before a read is admitted.
pub async fn ensure_downloads_left(
    ctx: &Context,
    grant: &OrderGrant,
    entry: &FileEntry,
    session: &ReadSessionId,
) -> Result<(), AppError> {
    let tally = ctx.store.delivery_tally(&grant.order_id, &entry.name, session).await?;
    if tally.in_session {
        return Ok(());
    }
    if tally.completed >= grant.max_downloads {
        return Err(refuse_over_limit(ctx, grant, entry).await);
    }
    Ok(())
}

/// Records that the order's downloads of a file are used up; the refusal to answer with.
async fn refuse_over_limit(ctx: &Context, grant: &OrderGrant, entry: &FileEntry) -> AppError {
    let reason = format!(
        "all {} downloads of {} under this order are used",
        grant.max_downloads, entry.name
    );
    refuse(ctx, grant, entry, reason).await
}

/// Records a refusal under the order; the error to answer with.
async fn refuse(ctx: &Context, grant: &OrderGrant, entry: &FileEntry, reason: String) -> AppError {
    if let Err(error) = ctx
        .store
        .record_refusal(&grant.order_id, &entry.name, &reason, Utc::now())
        .await
    {
        return error.into();
    }
    AppError::OrderInactive(reason)
}

/// Admits a response carrying `length` bytes of a licensed file in a read
/// session, before any of them leaves: the session's first response spends
/// one of the order's downloads of the file and logs its signed receipt;
/// later ones spend nothing until the session's byte limit. A refusal is
/// recorded under the order.
pub async fn admit_read(
    ctx: &Context,
    grant: &OrderGrant,
    entry: &FileEntry,
    session: &ReadSessionId,
    length: u64,
) -> Result<(), AppError> {
    let read = SessionRead {
        order_id: grant.order_id.clone(),
        file: entry.name.clone(),
        session: session.clone(),
        length,
        session_byte_limit: session_byte_limit(entry.size),
        max_downloads: grant.max_downloads,
        at: Utc::now(),
    };
    for _ in 0..RECORD_ATTEMPTS {
        let signer = (ctx.clone(), grant.clone(), entry.clone(), session.clone());
        let builder = Box::new(move |facts: ReceiptFacts| receipt(&signer.0, &signer.1, &signer.2, &signer.3, facts));
        match ctx.sequencer.read(read.clone(), builder).await {
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
            Ok(SessionAdmission::Continued) => {
                tracing::debug!(order = %grant.order_id, file = %entry.name, %session, length_bytes = length, "session read");
                return Ok(());
            }
            Ok(SessionAdmission::Opened { log_index }) => {
                tracing::info!(order = %grant.order_id, file = %entry.name, %session, log_index, "read session opened; receipt logged");
                return Ok(());
            }
            Ok(SessionAdmission::OverLimit) => return Err(refuse_over_limit(ctx, grant, entry).await),
            Ok(SessionAdmission::SessionSpent) => {
                let reason = format!(
                    "read session {session} has carried the {} bytes one download of {} may; \
                     read in a new session (one more download)",
                    read.session_byte_limit, entry.name
                );
                return Err(refuse(ctx, grant, entry, reason).await);
            }
            Ok(SessionAdmission::OrderInactive) => {
                ctx.agreed_grants.forget(&grant.order_id);
                let reason = "the order was revoked, or its agreement expired, before this read".to_owned();
                return Err(refuse(ctx, grant, entry, reason).await);
            }
        }
    }
    Err(AppError::Conflict(
        "the delivery kept changing concurrently; retry".into(),
    ))
}

/// The signed receipt of a read session: the whole file, at most the session's byte limit.
fn receipt(
    ctx: &Context,
    grant: &OrderGrant,
    entry: &FileEntry,
    session: &ReadSessionId,
    facts: ReceiptFacts,
) -> Result<LoggedDocument, StoreError> {
    let now = Utc::now();
    let mut unsigned = json!({
        "type": RECEIPT_TYPE,
        "node": ctx.node.key.did(),
        "order": grant.order_id,
        "orderDigest": grant.order_digest.prefixed(),
        "dataset": grant.dataset,
        "version": grant.version,
        "file": entry.name,
        "sha256": entry.sha256,
        "bytes": entry.size,
        "recipient": grant.buyer,
        "delivery": facts.sequence,
        "covers": {
            "session": session,
            "ranges": [[0, entry.size]],
            "maxBytes": session_byte_limit(entry.size),
        },
        "logIndex": facts.log_index,
        "delivered": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    if let Some(demand) = &grant.demand {
        // An order taking up a demand's accepted answer: its deliveries name the demand.
        unsigned["demand"] = json!(demand);
    }
    transparency::sign_for_log(ctx, EntryKind::Receipt, unsigned, now)
        .map(|(_, logged)| logged)
        .map_err(|error| StoreError::Other(anyhow::anyhow!("signing a receipt: {error}")))
}
