//! Orders of licensed data and the rules an order must satisfy.
//!
//! A buyer signs an [`OrderDocument`]; the node accepts it only if it names
//! this node, a published version by its manifest digest, terms inside the
//! version's [`Offer`], the offer's exact price and licence, a fresh time and
//! a nonce never used before by that buyer. Order states follow the
//! Dataspace Protocol's contract negotiation where they fit.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{DatasetId, Offer, Sha256Digest, VersionNumber};

/// The `type` of an order document.
pub const ORDER_TYPE: &str = "ShulianOrder";
/// The `type` of an agreement document.
pub const AGREEMENT_TYPE: &str = "ShulianAgreement";
/// The `type` of a publisher's signed refusal of an order.
pub const REJECTION_TYPE: &str = "ShulianOrderRejection";
/// The `type` of a publisher's signed revocation of an agreement.
pub const REVOCATION_TYPE: &str = "ShulianAgreementRevocation";
/// The `type` of a buyer's signed acknowledgement of a receipt.
pub const ACKNOWLEDGEMENT_TYPE: &str = "ShulianReceiptAcknowledgement";
/// How far an order's `created` time may be from the node's clock.
pub const ORDER_FRESHNESS: Duration = Duration::minutes(5);

/// Where an order stands (Dataspace Protocol contract negotiation states).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderState {
    /// Received and valid, waiting for the publisher's decision.
    Requested,
    /// Agreed: the node countersigned and the token works until the agreement ends.
    Agreed,
    /// Refused by the publisher, or revoked after agreement.
    Terminated,
}

impl OrderState {
    /// The state's name as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Agreed => "AGREED",
            Self::Terminated => "TERMINATED",
        }
    }
}

impl std::str::FromStr for OrderState {
    type Err = OrderRefusal;

    fn from_str(text: &str) -> Result<Self, OrderRefusal> {
        match text {
            "REQUESTED" => Ok(Self::Requested),
            "AGREED" => Ok(Self::Agreed),
            "TERMINATED" => Ok(Self::Terminated),
            _ => Err(OrderRefusal::Malformed(format!("unknown order state {text:?}"))),
        }
    }
}

/// An order as the buyer signed it (the `proof` is checked separately).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderDocument {
    /// Always [`ORDER_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The DID of the node the order is addressed to.
    pub node: String,
    /// The dataset ordered.
    pub dataset: DatasetId,
    /// The version ordered.
    pub version: VersionNumber,
    /// Digest of that version's signed manifest, `sha256:<hex>`.
    pub manifest_digest: Sha256Digest,
    /// The purpose, one of the offer's.
    pub purpose: String,
    /// How many days the agreement should last.
    pub validity_days: u32,
    /// How many completed downloads of each file are wanted.
    pub max_downloads: u32,
    /// The price, which must equal the offer's.
    pub price_fen: u64,
    /// SHA-256 of the licence text the buyer accepts, `sha256:<hex>`.
    pub license_sha256: Sha256Digest,
    /// The buyer's `did:key`; the order must be signed by this key.
    pub buyer: String,
    /// A value the buyer never used before, 16 to 64 characters of `[A-Za-z0-9_-]`.
    pub nonce: String,
    /// When the buyer made the order.
    pub created: DateTime<Utc>,
    /// The demand whose accepted answer this order takes up: its terms set the price.
    #[serde(default)]
    pub demand: Option<String>,
    /// The buyer's Data Integrity proof.
    pub proof: serde_json::Value,
}

/// Why an order was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefusal {
    /// The document is not a well-formed order.
    #[error("malformed order: {0}")]
    Malformed(String),
    /// The order is for another node, version or manifest.
    #[error("the order does not match this node's catalog: {0}")]
    WrongTarget(String),
    /// The terms are outside the offer.
    #[error("the order is outside the offer: {0}")]
    OutsideOffer(String),
    /// The order's time is too far from now.
    #[error("the order was created too long ago or in the future; sign a fresh one")]
    Stale,
}

/// What the node checks an order against.
pub struct OrderContext<'a> {
    /// This node's DID.
    pub node: &'a str,
    /// The digest of the ordered version's signed manifest.
    pub manifest_digest: &'a Sha256Digest,
    /// The version's offer.
    pub offer: &'a Offer,
    /// The price that applies: the offer's, or the accepted answer's for a demand's order.
    pub price_fen: u64,
    /// SHA-256 of the offer's licence text.
    pub license_sha256: &'a Sha256Digest,
    /// The node's clock.
    pub now: DateTime<Utc>,
}

/// Whether a nonce is 16 to 64 characters of `[A-Za-z0-9_-]`.
pub(crate) fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl OrderDocument {
    /// Checks the order against this node and the version's offer.
    pub fn check(&self, context: &OrderContext<'_>) -> Result<(), OrderRefusal> {
        let malformed = |why: &str| Err(OrderRefusal::Malformed(why.to_owned()));
        let outside = |why: String| Err(OrderRefusal::OutsideOffer(why));
        if self.kind != ORDER_TYPE {
            return malformed("type must be ShulianOrder");
        }
        if !valid_nonce(&self.nonce) {
            return malformed("nonce must be 16 to 64 characters of A-Z a-z 0-9 - _");
        }
        if self.node != context.node {
            return Err(OrderRefusal::WrongTarget("it is addressed to another node".into()));
        }
        if self.manifest_digest != *context.manifest_digest {
            return Err(OrderRefusal::WrongTarget(
                "the manifest digest is not this version's".into(),
            ));
        }
        if (self.created - context.now).abs() > ORDER_FRESHNESS {
            return Err(OrderRefusal::Stale);
        }
        let offer = context.offer;
        if !offer.purposes.contains(&self.purpose) {
            return outside(format!("purpose {:?} is not one of {:?}", self.purpose, offer.purposes));
        }
        if self.validity_days == 0 || self.validity_days > offer.max_validity_days {
            return outside(format!("validity must be 1 to {} days", offer.max_validity_days));
        }
        if self.max_downloads == 0 || self.max_downloads > offer.max_downloads {
            return outside(format!("downloads must be 1 to {}", offer.max_downloads));
        }
        if self.price_fen != context.price_fen {
            return outside(format!("the price is {} fen", context.price_fen));
        }
        if self.license_sha256 != *context.license_sha256 {
            return outside("the licence digest is not the offer's licence".into());
        }
        Ok(())
    }

    /// When an agreement made at `start` ends.
    pub fn valid_until(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        start + Duration::days(i64::from(self.validity_days))
    }
}
