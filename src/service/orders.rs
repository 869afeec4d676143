//! Ordering licensed data: verify a buyer's signed order, agree to it, issue an order-scoped token.
//!
//! Nothing is recorded for a refused order. An accepted one is stored with
//! its documents appended to the transparency log in the same transaction:
//! the order as the buyer signed it and, when the offer accepts orders at
//! once, the node's countersigned agreement.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::Context;
use super::accounts::{self, BearerToken};
use super::catalog::manifest_metadata;
use super::demands;
use super::grants::{ORDER_TOKEN_PREFIX, grant_of};
use super::sharing::{self, SharingProfile};
use super::transparency::{logged, sign_for_log};
use crate::crypto::canonical;
use crate::domain::EntryKind;
use crate::domain::order::{
    ACKNOWLEDGEMENT_TYPE, AGREEMENT_TYPE, OrderContext, OrderDocument, OrderRefusal, OrderState, REJECTION_TYPE,
    REVOCATION_TYPE,
};
use crate::domain::{DatasetId, PublisherId, Sha256Digest, VersionNumber};
use crate::error::AppError;
use crate::store::{
    Acknowledgement, DEMAND_TAKEN, LoggedDocument, NewOrder, OrderSummary, OrderTransition, StoreError,
};

/// What the buyer gets back for an accepted order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    /// The order's id.
    pub order_id: String,
    /// `AGREED`, or `REQUESTED` while the publisher decides.
    pub state: OrderState,
    /// SHA-256 of the order's canonical form, `sha256:<hex>`.
    pub order_digest: String,
    /// The node's countersigned agreement, when agreed.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Value>,
    /// The order-scoped bearer token; shown only here, stored only hashed.
    pub access_token: String,
    /// When the agreement and its token end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// A Delta Sharing profile for the ordered tables, holding the same token; save it as a `.share` file.
    pub delta_sharing_profile: SharingProfile,
}

/// Verifies and records a signed order.
pub async fn place_order(ctx: &Context, body: &[u8]) -> Result<OrderPlaced, AppError> {
    let (document, signer) = super::signed_document(body, "order")?;
    let order: OrderDocument = serde_json::from_value(document.clone())
        .map_err(|error| AppError::OrderRefused(OrderRefusal::Malformed(error.to_string())))?;
    if order.buyer != signer.as_str() {
        return Err(AppError::InvalidSignature(
            "the order is not signed by the buyer it names".into(),
        ));
    }
    let version = ctx
        .store
        .get_version(&order.dataset, Some(order.version))
        .await
        .map_err(|error| match error {
            StoreError::NotFound => {
                AppError::NotFound(format!("no version {} of dataset {}", order.version, order.dataset))
            }
            other => other.into(),
        })?;
    let offer = manifest_metadata(&version)?.offer.ok_or_else(|| {
        AppError::InvalidRequest(format!(
            "dataset {} is open: download it, no order needed",
            order.dataset
        ))
    })?;
    let license_sha256 = Sha256Digest::from_bytes(Sha256::digest(offer.license_text.as_bytes()).into());
    let now = Utc::now();
    let node_did = ctx.node.key.did();
    // An order taking up a demand's accepted answer pays the answer's price.
    let price_fen = match &order.demand {
        Some(demand) => demands::awarded_price(ctx, demand, &order.buyer, &order.dataset, order.version).await?,
        None => offer.price_fen,
    };
    order
        .check(&OrderContext {
            node: node_did.as_str(),
            manifest_digest: &version.summary.manifest_digest,
            offer: &offer,
            price_fen,
            license_sha256: &license_sha256,
            now,
        })
        .map_err(AppError::OrderRefused)?;

    let order_text = canonical::canonicalize(&document).map_err(anyhow::Error::from)?;
    let order_digest = Sha256Digest::from_bytes(Sha256::digest(order_text.as_bytes()).into());
    // The provider agreed to a demand's order by answering, so it is agreed at once.
    let (state, agreement, valid_until) = if offer.auto_accept || order.demand.is_some() {
        let until = order.valid_until(now);
        let agreement = agreement_document(ctx, &order, &document, &order_digest, now, until)?;
        (OrderState::Agreed, Some(agreement), Some(until))
    } else {
        (OrderState::Requested, None, None)
    };
    let token = BearerToken::generate(ORDER_TOKEN_PREFIX);
    let new_order = NewOrder {
        id: uuid::Uuid::new_v4().to_string(),
        buyer: order.buyer.clone(),
        nonce: order.nonce.clone(),
        dataset: order.dataset.clone(),
        version: order.version,
        order: logged(EntryKind::Order, order_text),
        order_digest,
        state,
        agreement: agreement.as_ref().map(|(_, logged)| logged.clone()),
        valid_until,
        max_downloads: order.max_downloads,
        demand: order.demand.clone(),
        token_id: token.id.clone(),
        token_secret_sha256: token.secret_sha256,
        created_at: now,
    };
    let order_id = new_order.id.clone();
    match ctx.sequencer.order(new_order).await {
        Err(StoreError::Conflict(why)) if why == DEMAND_TAKEN => return Err(AppError::Conflict(why)),
        Err(StoreError::Conflict(_)) => return Err(AppError::ReplayedNonce),
        other => other?,
    }
    tracing::info!(order = %order_id, dataset = %order.dataset, version = order.version.get(), state = state.as_str(), "order recorded");
    Ok(OrderPlaced {
        order_id,
        state,
        order_digest: order_digest.prefixed(),
        agreement: agreement.map(|(document, _)| document),
        delta_sharing_profile: sharing::profile(ctx, &token.text, valid_until),
        access_token: token.text,
        valid_until,
    })
}

/// The node's countersignature on an order, and its canonical text.
fn agreement_document(
    ctx: &Context,
    order: &OrderDocument,
    order_document: &Value,
    order_digest: &Sha256Digest,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(Value, LoggedDocument), AppError> {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let unsigned = json!({
        "type": AGREEMENT_TYPE,
        "node": ctx.node.key.did(),
        "state": OrderState::Agreed,
        "orderDigest": order_digest.prefixed(),
        "order": order_document,
        "dataset": order.dataset,
        "version": order.version,
        "manifestDigest": order.manifest_digest.prefixed(),
        "buyer": order.buyer,
        "purpose": order.purpose,
        "maxDownloads": order.max_downloads,
        "validFrom": time(start),
        "validUntil": time(until),
    });
    sign_for_log(ctx, EntryKind::Agreement, unsigned, start)
}

/// A logged delivery receipt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// Its index in the transparency log.
    pub log_index: u64,
    /// The node-signed receipt.
    #[schema(value_type = Object)]
    pub receipt: Value,
}

/// The receipts of an order, for the holder of its token (also after the agreement ended)
/// or for the publisher of the ordered dataset.
pub async fn receipts(ctx: &Context, order_id: &str, token: &str) -> Result<Vec<ReceiptView>, AppError> {
    authorize_reader(ctx, order_id, token).await?;
    ctx.store
        .order_receipts(order_id)
        .await?
        .into_iter()
        .map(|(log_index, text)| {
            Ok(ReceiptView {
                log_index,
                receipt: canonical::parse_strict(text.as_bytes()).map_err(anyhow::Error::from)?,
            })
        })
        .collect()
}

/// Checks that `token` may read the order: its own order token (whatever the order's
/// state, so a buyer can follow a request and keep its receipts), or the token of the
/// ordered dataset's publisher.
async fn authorize_reader(ctx: &Context, order_id: &str, token: &str) -> Result<(), AppError> {
    if accounts::is_publisher_token(token) {
        let publisher = accounts::authenticate_publisher(ctx.store.as_ref(), token).await?;
        own_order(ctx, &publisher, order_id).await?;
    } else if grant_of(ctx, token, None).await?.order_id != order_id {
        return Err(AppError::Forbidden("this token belongs to another order".into()));
    }
    Ok(())
}

/// An order as its buyer follows it: where it stands, and its signed documents so far.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    /// State, validity and counts, as its publisher sees them.
    #[serde(flatten)]
    pub summary: OrderView,
    /// The buyer-signed order.
    #[schema(value_type = Object)]
    pub order: Value,
    /// The node's signed agreement, once agreed (kept after a revocation).
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Value>,
}

/// Where an order stands, for the holder of its token or the ordered dataset's publisher:
/// a buyer whose order awaited a decision learns of it here and gets the agreement.
pub async fn order_status(ctx: &Context, order_id: &str, token: &str) -> Result<OrderStatus, AppError> {
    authorize_reader(ctx, order_id, token).await?;
    let order = stored_order(ctx, order_id).await?;
    let parse = |text: &str| canonical::parse_strict(text.as_bytes()).map_err(anyhow::Error::from);
    Ok(OrderStatus {
        order: parse(&order.order)?,
        agreement: order.agreement.as_deref().map(parse).transpose()?,
        summary: order.into(),
    })
}

/// The stored order of that id.
async fn stored_order(ctx: &Context, order_id: &str) -> Result<OrderSummary, AppError> {
    ctx.store.get_order(order_id).await.map_err(|error| match error {
        StoreError::NotFound => AppError::NotFound(format!("no order {order_id}")),
        other => other.into(),
    })
}

/// A publisher's answer to a `REQUESTED` order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Agree (`true`) or refuse (`false`).
    pub accept: bool,
    /// Why, for a refusal (shown to the buyer and logged).
    #[serde(default)]
    pub reason: Option<String>,
}

/// An order as its publisher sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// The order's id.
    pub id: String,
    /// The dataset ordered.
    #[schema(value_type = String)]
    pub dataset: DatasetId,
    /// The version ordered.
    #[schema(value_type = u32)]
    pub version: VersionNumber,
    /// The buyer's DID.
    pub buyer: String,
    /// Its state.
    pub state: OrderState,
    /// SHA-256 of the signed order, `sha256:<hex>`.
    pub order_digest: String,
    /// When the agreement ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Completed downloads allowed per file.
    pub max_downloads: u32,
    /// Completed deliveries (each with a receipt), all files together.
    pub completed_deliveries: u64,
    /// Downloads refused under this order.
    pub refusals: u64,
    /// The demand whose accepted answer the order takes up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demand: Option<String>,
    /// When the order was received.
    pub created_at: DateTime<Utc>,
}

impl From<OrderSummary> for OrderView {
    fn from(order: OrderSummary) -> Self {
        Self {
            id: order.id,
            dataset: order.dataset,
            version: order.version,
            buyer: order.buyer,
            state: order.state,
            order_digest: order.order_digest.prefixed(),
            valid_until: order.valid_until,
            max_downloads: order.max_downloads,
            completed_deliveries: order.completed_deliveries,
            refusals: order.refusals,
            demand: order.demand,
            created_at: order.created_at,
        }
    }
}

/// The orders of the publisher's datasets, newest first.
pub async fn publisher_orders(ctx: &Context, publisher: &PublisherId) -> Result<Vec<OrderView>, AppError> {
    Ok(ctx
        .store
        .publisher_orders(publisher)
        .await?
        .into_iter()
        .map(OrderView::from)
        .collect())
}

/// An order of one of `publisher`'s datasets.
async fn own_order(ctx: &Context, publisher: &PublisherId, order_id: &str) -> Result<OrderSummary, AppError> {
    let order = stored_order(ctx, order_id).await?;
    if order.publisher != *publisher {
        return Err(AppError::Forbidden(
            "the order is for another publisher's dataset".into(),
        ));
    }
    Ok(order)
}

/// Agrees to or refuses a `REQUESTED` order; the signed agreement or rejection is logged.
pub async fn decide(
    ctx: &Context,
    publisher: &PublisherId,
    order_id: &str,
    decision: Decision,
) -> Result<Value, AppError> {
    let order = own_order(ctx, publisher, order_id).await?;
    let now = Utc::now();
    let (to, document, valid_until) = if decision.accept {
        let document = canonical::parse_strict(order.order.as_bytes()).map_err(anyhow::Error::from)?;
        let parsed: OrderDocument = serde_json::from_value(document.clone()).map_err(anyhow::Error::from)?;
        let until = parsed.valid_until(now);
        let agreement = agreement_document(ctx, &parsed, &document, &order.order_digest, now, until)?;
        (OrderState::Agreed, agreement, Some(until))
    } else {
        let rejection = termination(ctx, &order, REJECTION_TYPE, "decided", decision.reason, now)?;
        (
            OrderState::Terminated,
            sign_for_log(ctx, EntryKind::Rejection, rejection, now)?,
            None,
        )
    };
    transition(ctx, &order, OrderState::Requested, to, document, valid_until, now).await
}

/// Revokes an agreement: its token stops working; receipts already given stay valid.
pub async fn revoke(
    ctx: &Context,
    publisher: &PublisherId,
    order_id: &str,
    reason: Option<String>,
) -> Result<Value, AppError> {
    let order = own_order(ctx, publisher, order_id).await?;
    let now = Utc::now();
    let revocation = termination(ctx, &order, REVOCATION_TYPE, "revoked", reason, now)?;
    let document = sign_for_log(ctx, EntryKind::Revocation, revocation, now)?;
    transition(
        ctx,
        &order,
        OrderState::Agreed,
        OrderState::Terminated,
        document,
        None,
        now,
    )
    .await
}

async fn transition(
    ctx: &Context,
    order: &OrderSummary,
    from: OrderState,
    to: OrderState,
    (signed, document): (Value, LoggedDocument),
    valid_until: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<Value, AppError> {
    let change = OrderTransition {
        order_id: order.id.clone(),
        from,
        to,
        document,
        valid_until,
        at,
    };
    match ctx.sequencer.transition(change).await {
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(format!(
            "order {} is {}, not {}",
            order.id,
            order.state.as_str(),
            from.as_str()
        ))),
        other => other.map_err(AppError::from),
    }?;
    tracing::info!(order = %order.id, from = from.as_str(), to = to.as_str(), "order state changed");
    Ok(signed)
}

/// The unsigned document that ends an order (a rejection or a revocation), with its reason and time.
fn termination(
    ctx: &Context,
    order: &OrderSummary,
    kind: &str,
    time_field: &str,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<Value, AppError> {
    let mut document = json!({
        "type": kind,
        "node": ctx.node.key.did(),
        "order": order.id,
        "orderDigest": order.order_digest.prefixed(),
        "state": OrderState::Terminated,
        "reason": reason_text(reason)?,
    });
    document[time_field] = json!(now.to_rfc3339_opts(SecondsFormat::Secs, true));
    Ok(document)
}

fn reason_text(reason: Option<String>) -> Result<String, AppError> {
    let reason = reason.unwrap_or_default().trim().to_owned();
    if reason.chars().count() > 1000 || reason.chars().any(char::is_control) {
        return Err(AppError::InvalidRequest(
            "a reason has at most 1000 printable characters".into(),
        ));
    }
    Ok(reason)
}

/// Where an acknowledgement stands in the log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Acknowledged {
    /// Its index in the transparency log.
    pub log_index: u64,
    /// Whether this request logged it (`false`: the receipt was acknowledged before).
    #[serde(skip)]
    pub logged_now: bool,
}

/// Logs a buyer's signed acknowledgement of one of the order's receipts, presented with
/// the order's token; a receipt already acknowledged is answered with the earlier entry.
pub async fn acknowledge(ctx: &Context, order_id: &str, token: &str, body: &[u8]) -> Result<Acknowledged, AppError> {
    if grant_of(ctx, token, None).await?.order_id != order_id {
        return Err(AppError::Forbidden("this token belongs to another order".into()));
    }
    let (document, signer) = super::signed_document(body, "acknowledgement")?;
    let order = stored_order(ctx, order_id).await?;
    if signer.as_str() != order.buyer {
        return Err(AppError::InvalidSignature(
            "an acknowledgement must be signed by the order's buyer".into(),
        ));
    }
    let claims = (
        document["type"].as_str(),
        document["order"].as_str(),
        document["recipient"].as_str(),
        document["receiptDigest"].as_str(),
    );
    let (Some(kind), Some(named_order), Some(recipient), Some(receipt_digest)) = claims else {
        return Err(AppError::InvalidRequest(
            "an acknowledgement has type ShulianReceiptAcknowledgement, order, recipient and receiptDigest".into(),
        ));
    };
    if kind != ACKNOWLEDGEMENT_TYPE {
        return Err(AppError::InvalidRequest(
            "the type must be ShulianReceiptAcknowledgement".into(),
        ));
    }
    if named_order != order_id || recipient != order.buyer {
        return Err(AppError::InvalidRequest(
            "the acknowledgement names another order or recipient".into(),
        ));
    }
    let receipt = ctx
        .store
        .order_receipts(order_id)
        .await?
        .into_iter()
        .map(|(_, text)| Sha256Digest::from_bytes(Sha256::digest(text.as_bytes()).into()))
        .find(|digest| digest.prefixed() == receipt_digest)
        .ok_or_else(|| AppError::NotFound("no receipt of this order has that digest".into()))?;
    let text = canonical::canonicalize(&document).map_err(anyhow::Error::from)?;
    let logged = logged(EntryKind::Acknowledgement, text);
    for _ in 0..2 {
        match ctx
            .sequencer
            .acknowledge(order_id.to_owned(), receipt, logged.clone(), Utc::now())
            .await
        {
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
            Ok(Acknowledgement::Logged { log_index }) => {
                return Ok(Acknowledged {
                    log_index,
                    logged_now: true,
                });
            }
            Ok(Acknowledgement::Earlier { log_index }) => {
                return Ok(Acknowledged {
                    log_index,
                    logged_now: false,
                });
            }
        }
    }
    Err(AppError::Conflict(
        "the receipt is being acknowledged concurrently; retry".into(),
    ))
}
