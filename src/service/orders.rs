//! Ordering licensed data: verify a buyer's signed order, agree to it, issue an order-scoped token.
//!
//! Nothing is recorded for a refused order. An accepted one is stored with
//! its documents appended to the transparency log in the same transaction:
//! the order as the buyer signed it and, when the offer accepts orders at
//! once, the node's countersigned agreement.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::Context;
use super::accounts::{self, BearerToken};
use crate::crypto::{canonical, proof, sign_document};
use crate::domain::order::{AGREEMENT_TYPE, OrderContext, OrderDocument, OrderRefusal, OrderState};
use crate::domain::{DatasetId, DatasetMetadata, FileName, Sha256Digest, VersionNumber};
use crate::error::AppError;
use crate::ledger::merkle;
use crate::store::{LoggedDocument, NewOrder, OrderGrant, StoreError};

/// Prefix of order-scoped access tokens.
const ORDER_TOKEN_PREFIX: &str = "sho_";

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
}

/// Verifies and records a signed order.
pub async fn place_order(ctx: &Context, body: &[u8]) -> Result<OrderPlaced, AppError> {
    let document =
        canonical::parse_strict(body).map_err(|error| AppError::InvalidRequest(format!("order: {error}")))?;
    let signer = proof::verify_document(&document).map_err(|error| AppError::InvalidSignature(error.to_string()))?;
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
    let manifest = canonical::parse_strict(version.manifest.as_bytes()).map_err(anyhow::Error::from)?;
    let metadata: DatasetMetadata =
        serde_json::from_value(manifest["metadata"].clone()).map_err(anyhow::Error::from)?;
    let offer = metadata.offer.ok_or_else(|| {
        AppError::InvalidRequest(format!(
            "dataset {} is open: download it, no order needed",
            order.dataset
        ))
    })?;
    let license_sha256 = Sha256Digest::from_bytes(Sha256::digest(offer.license_text.as_bytes()).into());
    let now = Utc::now();
    let node_did = ctx.node.key.public().did();
    order
        .check(&OrderContext {
            node: node_did.as_str(),
            manifest_digest: &version.summary.manifest_digest,
            offer: &offer,
            license_sha256: &license_sha256,
            now,
        })
        .map_err(AppError::OrderRefused)?;

    let order_text = canonical::canonicalize(&document).map_err(anyhow::Error::from)?;
    let order_digest = Sha256Digest::from_bytes(Sha256::digest(order_text.as_bytes()).into());
    let (state, agreement, valid_until) = if offer.auto_accept {
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
        order: logged("order", order_text),
        order_digest,
        state,
        agreement: agreement.as_ref().map(|(_, text)| logged("agreement", text.clone())),
        valid_until,
        max_downloads: order.max_downloads,
        token_id: token.id.clone(),
        token_secret_sha256: token.secret_sha256,
        created_at: now,
    };
    match ctx.store.create_order(&new_order).await {
        Err(StoreError::Conflict(_)) => return Err(AppError::ReplayedNonce),
        other => other?,
    }
    tracing::info!(order = %new_order.id, dataset = %order.dataset, version = order.version.get(), state = state.as_str(), "order recorded");
    Ok(OrderPlaced {
        order_id: new_order.id,
        state,
        order_digest: order_digest.prefixed(),
        agreement: agreement.map(|(document, _)| document),
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
) -> Result<(Value, String), AppError> {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let unsigned = json!({
        "type": AGREEMENT_TYPE,
        "node": ctx.node.key.public().did(),
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
    let signed = sign_document(unsigned, &ctx.node.key, start).map_err(anyhow::Error::from)?;
    let text = canonical::canonicalize(&signed).map_err(anyhow::Error::from)?;
    Ok((signed, text))
}

fn logged(kind: &'static str, text: String) -> LoggedDocument {
    LoggedDocument {
        kind,
        leaf: Sha256Digest::from_bytes(merkle::leaf_hash(text.as_bytes())),
        text,
    }
}

/// Checks that an order-scoped token may read `file` of `dataset` version `version` now;
/// a refusal under a genuine token is recorded against its order.
pub async fn authorize(
    ctx: &Context,
    token: &str,
    dataset: &DatasetId,
    version: VersionNumber,
    file: &FileName,
) -> Result<OrderGrant, AppError> {
    let (token_id, secret) = accounts::split_token(token, ORDER_TOKEN_PREFIX).ok_or(AppError::Unauthorized)?;
    let grant = ctx
        .store
        .find_order_grant(token_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !accounts::secret_matches(secret, &grant.token_secret_sha256) {
        return Err(AppError::Unauthorized);
    }
    if grant.dataset != *dataset || grant.version != version {
        return Err(AppError::Forbidden(format!(
            "this token is for {} version {}, not {dataset} version {version}",
            grant.dataset, grant.version
        )));
    }
    let now = Utc::now();
    let refusal = match (grant.state, grant.valid_until) {
        (OrderState::Agreed, Some(until)) if now < until => return Ok(grant),
        (OrderState::Agreed, _) => "the agreement has expired",
        (OrderState::Requested, _) => "the order awaits the publisher's decision",
        (OrderState::Terminated, _) => "the order was refused or revoked",
    };
    ctx.store.record_refusal(&grant.order_id, file, refusal, now).await?;
    Err(AppError::OrderInactive(refusal.into()))
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

/// The receipts of an order, for the holder of its token (also after the agreement ended).
pub async fn receipts(ctx: &Context, order_id: &str, token: &str) -> Result<Vec<ReceiptView>, AppError> {
    let (token_id, secret) = accounts::split_token(token, ORDER_TOKEN_PREFIX).ok_or(AppError::Unauthorized)?;
    let grant = ctx
        .store
        .find_order_grant(token_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !accounts::secret_matches(secret, &grant.token_secret_sha256) {
        return Err(AppError::Unauthorized);
    }
    if grant.order_id != order_id {
        return Err(AppError::Forbidden("this token belongs to another order".into()));
    }
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
