//! Delivering licensed files under an order: download limits, recorded refusals, signed receipts.
//!
//! The bytes of a response are recorded as delivered when the last chunk is
//! handed to the connection; a request cut off earlier records nothing. When
//! the delivered ranges of a file cover it — or, for a read session (a Delta
//! Sharing file URL), with the session's first response — the node signs a
//! receipt naming the order, the file's sha256, the recipient and the
//! receipt's own log index, and logs it in the same transaction.

use std::ops::Range;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::json;

use super::{Context, orders};
use crate::blobs::BlobError;
use crate::domain::FileEntry;
use crate::domain::delivery::RECEIPT_TYPE;
use crate::error::AppError;
use crate::store::{DeliveredRange, DeliveryProgress, LoggedDocument, OrderGrant, ReceiptFacts, StoreError};

/// Attempts at recording a delivery that raced with another request of the same order.
const RECORD_ATTEMPTS: usize = 5;

/// Refuses (and records the refusal) when the order's downloads of this file are used up;
/// a read session that already delivered the file may read it again.
pub async fn ensure_downloads_left(
    ctx: &Context,
    grant: &OrderGrant,
    entry: &FileEntry,
    session: Option<&str>,
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
    if let Err(error) = ctx
        .store
        .record_refusal(&grant.order_id, &entry.name, &reason, Utc::now())
        .await
    {
        return error.into();
    }
    AppError::OrderInactive(reason)
}

/// A licensed file's byte stream on its way to the buyer.
struct Delivery {
    ctx: Context,
    grant: OrderGrant,
    session: Option<String>,
    entry: FileEntry,
    range: Range<u64>,
    remaining: u64,
    bytes: BoxStream<'static, Result<Bytes, BlobError>>,
}

/// Records the bytes of a licensed file's stream as delivered when its last chunk is handed on.
///
/// Recording before the last chunk leaves means the buyer, once it holds the
/// whole body, finds the receipt already logged. A stream that breaks off
/// or is dropped earlier records nothing. When completing the file would go
/// past the order's download limit (reads racing past the admission check),
/// the last chunk is withheld and the body breaks off.
pub fn record_when_sent(
    ctx: &Context,
    grant: OrderGrant,
    session: Option<String>,
    entry: FileEntry,
    range: Range<u64>,
    bytes: BoxStream<'static, Result<Bytes, BlobError>>,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let delivery = Delivery {
        ctx: ctx.clone(),
        grant,
        session,
        entry,
        remaining: range.end - range.start,
        range,
        bytes,
    };
    futures::stream::unfold(Some(delivery), |state| async move {
        let mut delivery = state?;
        match delivery.bytes.next().await? {
            Err(error) => Some((Err(std::io::Error::other(error)), None)),
            Ok(chunk) => {
                let before = delivery.remaining;
                delivery.remaining = before.saturating_sub(chunk.len() as u64);
                if before > 0 && delivery.remaining == 0 {
                    // The write transaction runs in its own task: this stream is polled only as
                    // the connection allows, and a transaction parked with it would hold the
                    // database's write lock for as long as a stalled client pleases.
                    let (ctx, grant, session, entry, range) = (
                        delivery.ctx.clone(),
                        delivery.grant.clone(),
                        delivery.session.clone(),
                        delivery.entry.clone(),
                        delivery.range.clone(),
                    );
                    let recorded =
                        tokio::spawn(async move { record(&ctx, &grant, session, &entry, range).await }).await;
                    let failure = match recorded {
                        Ok(Ok(())) => None,
                        Ok(Err(AppError::OrderInactive(reason))) => {
                            return Some((Err(std::io::Error::other(reason)), None));
                        }
                        Ok(Err(error)) => Some(error.to_string()),
                        Err(join) => Some(join.to_string()),
                    };
                    if let Some(error) = failure {
                        let (order, file) = (&delivery.grant.order_id, &delivery.entry.name);
                        tracing::error!(%order, %file, %error, "delivery not recorded");
                    }
                }
                Some((Ok(chunk), Some(delivery)))
            }
        }
    })
    .boxed()
}

async fn record(
    ctx: &Context,
    grant: &OrderGrant,
    session: Option<String>,
    entry: &FileEntry,
    range: Range<u64>,
) -> Result<(), AppError> {
    let delivered = DeliveredRange {
        order_id: grant.order_id.clone(),
        file: entry.name.clone(),
        size: entry.size,
        range,
        at: Utc::now(),
        session,
        max_downloads: grant.max_downloads,
    };
    let builder = |facts: ReceiptFacts| receipt(ctx, grant, entry, facts);
    for _ in 0..RECORD_ATTEMPTS {
        match ctx.store.record_delivery(&delivered, &builder).await {
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
            Ok(DeliveryProgress::Partial | DeliveryProgress::Repeated) => {
                tracing::debug!(order = %grant.order_id, file = %entry.name, range = ?delivered.range, "bytes delivered");
                return Ok(());
            }
            Ok(DeliveryProgress::Completed { log_index, .. }) => {
                tracing::info!(order = %grant.order_id, file = %entry.name, log_index, "delivery complete; receipt logged");
                return Ok(());
            }
            Ok(DeliveryProgress::OverLimit) => return Err(refuse_over_limit(ctx, grant, entry).await),
        }
    }
    Err(AppError::Conflict("the delivery kept changing concurrently".into()))
}

/// The signed receipt of a completed delivery.
fn receipt(
    ctx: &Context,
    grant: &OrderGrant,
    entry: &FileEntry,
    facts: ReceiptFacts,
) -> Result<LoggedDocument, StoreError> {
    let now = Utc::now();
    let unsigned = json!({
        "type": RECEIPT_TYPE,
        "node": ctx.node.key.public().did(),
        "order": grant.order_id,
        "orderDigest": grant.order_digest.prefixed(),
        "dataset": grant.dataset,
        "version": grant.version,
        "file": entry.name,
        "sha256": entry.sha256,
        "bytes": entry.size,
        "recipient": grant.buyer,
        "delivery": facts.sequence,
        "logIndex": facts.log_index,
        "delivered": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    orders::sign_for_log(ctx, "receipt", unsigned, now)
        .map(|(_, logged)| logged)
        .map_err(|error| StoreError::Other(anyhow::anyhow!("signing a receipt: {error}")))
}
