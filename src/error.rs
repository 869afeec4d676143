//! The one error type of the HTTP layer and its RFC 9457 problem+json rendering.
//!
//! Each variant has a stable `type` URI that clients may branch on. Internal
//! failures are logged here, once, and answered with an opaque body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::blobs::BlobError;
use crate::domain::demand::DemandRefusal;
use crate::domain::order::OrderRefusal;
use crate::domain::{DigestError, IdError, MetadataError, Sha256Digest, UnknownOrder};
use crate::ledger::witness::WitnessRefusal;
use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed: bad JSON, query, header or field.
    #[error("{0}")]
    InvalidRequest(String),
    /// No credentials, or credentials the node does not accept.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// Valid credentials that do not cover this resource.
    #[error("{0}")]
    Forbidden(String),
    /// The file belongs to a licensed dataset and needs an order.
    #[error("dataset {dataset} is licensed: order it to download its files")]
    Licensed {
        /// The dataset to order.
        dataset: String,
    },
    /// Nothing at this address.
    #[error("{0}")]
    NotFound(String),
    /// The endpoint exists but not with this method.
    #[error("this endpoint does not answer that method")]
    MethodNotAllowed,
    /// The request collides with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A version lists bytes its publisher has not uploaded (whether or not the node holds them).
    #[error("blob {0} has not been uploaded by this publisher: PUT its bytes to /api/v1/blobs/{0} first")]
    MissingBlob(Sha256Digest),
    /// The body exceeds the configured limit.
    #[error("the body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Uploaded bytes do not match the digest they were sent under.
    #[error("the uploaded bytes hash to {actual}, not {expected}")]
    DigestMismatch {
        /// The digest in the request.
        expected: Sha256Digest,
        /// The digest of the bytes received.
        actual: Sha256Digest,
    },
    /// The upload's body broke off before its end.
    #[error("the upload was interrupted: {0}")]
    UploadInterrupted(String),
    /// An `If-Match` names another representation than the current one.
    #[error("the file's ETag is {etag}, not one If-Match names")]
    PreconditionFailed {
        /// The file's current ETag.
        etag: String,
    },
    /// The `Range` lies outside the file.
    #[error("the range is outside the file's {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// A signed document's proof is missing, malformed or wrong.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// A well-signed order that the node refuses.
    #[error(transparent)]
    OrderRefused(#[from] OrderRefusal),
    /// A well-signed demand, answer or decision that the board refuses.
    #[error(transparent)]
    DemandRefused(#[from] DemandRefusal),
    /// The buyer used this nonce before: the order is a replay.
    #[error("this buyer already used the order's nonce: a replayed order is refused")]
    ReplayedNonce,
    /// The order exists but does not allow access now.
    #[error("{0}")]
    OrderInactive(String),
    /// The file cannot be read as a table, or not within the node's limits.
    #[error("{0}")]
    NotTabular(String),
    /// The caller made more writes than its rate allows.
    #[error("too many writes from this client or credential: retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until one more write is allowed.
        retry_after_secs: u64,
    },
    /// The request ran past the node's time limit.
    #[error("the request took longer than the node's limit of {0} s")]
    Timeout(u64),
    /// A dependency (database, blob store) is not answering.
    #[error("{0}")]
    Unavailable(String),
    /// As a witness, this node does not cosign the checkpoint a log submitted.
    #[error(transparent)]
    WitnessRefused(#[from] WitnessRefusal),
    /// A failure of the node itself; details are logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) | Self::UploadInterrupted(_) | Self::InvalidSignature(_) => StatusCode::BAD_REQUEST,
            Self::OrderRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::DemandRefused(DemandRefusal::Closed(_)) => StatusCode::CONFLICT,
            Self::DemandRefused(DemandRefusal::NotYours(_)) => StatusCode::FORBIDDEN,
            Self::DemandRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ReplayedNonce => StatusCode::CONFLICT,
            Self::WitnessRefused(WitnessRefusal::Malformed(_) | WitnessRefusal::OldTooLarge { .. }) => {
                StatusCode::BAD_REQUEST
            }
            Self::WitnessRefused(WitnessRefusal::UnknownLog(_)) => StatusCode::NOT_FOUND,
            Self::WitnessRefused(WitnessRefusal::NotSigned(_)) => StatusCode::FORBIDDEN,
            Self::WitnessRefused(WitnessRefusal::OldSizeDiffers { .. } | WitnessRefusal::Fork(_)) => {
                StatusCode::CONFLICT
            }
            Self::WitnessRefused(WitnessRefusal::Inconsistent(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::OrderInactive(_) => StatusCode::FORBIDDEN,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Licensed { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::MissingBlob(_) | Self::DigestMismatch { .. } | Self::NotTabular(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable kind, the last part of the problem `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid-request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Licensed { .. } => "licensed-data",
            Self::NotFound(_) => "not-found",
            Self::NotTabular(_) => "not-tabular",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict(_) => "conflict",
            Self::MissingBlob(_) => "missing-blob",
            Self::TooLarge { .. } => "payload-too-large",
            Self::DigestMismatch { .. } => "digest-mismatch",
            Self::UploadInterrupted(_) => "upload-interrupted",
            Self::RangeNotSatisfiable { .. } => "range-not-satisfiable",
            Self::PreconditionFailed { .. } => "precondition-failed",
            Self::RateLimited { .. } => "rate-limited",
            Self::Unavailable(_) => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::InvalidSignature(_) => "invalid-signature",
            Self::OrderRefused(OrderRefusal::Malformed(_)) => "order-malformed",
            Self::OrderRefused(OrderRefusal::WrongTarget(_)) => "order-wrong-target",
            Self::OrderRefused(OrderRefusal::OutsideOffer(_)) => "order-outside-offer",
            Self::OrderRefused(OrderRefusal::Stale) => "order-stale",
            Self::DemandRefused(DemandRefusal::Malformed(_)) => "demand-malformed",
            Self::DemandRefused(DemandRefusal::WrongTarget(_)) => "demand-wrong-target",
            Self::DemandRefused(DemandRefusal::Stale) => "demand-stale",
            Self::DemandRefused(DemandRefusal::Closed(_)) => "demand-closed",
            Self::DemandRefused(DemandRefusal::NotYours(_)) => "demand-not-yours",
            Self::ReplayedNonce => "replayed-nonce",
            Self::OrderInactive(_) => "order-inactive",
            Self::WitnessRefused(WitnessRefusal::Malformed(_) | WitnessRefusal::OldTooLarge { .. }) => {
                "witness-malformed"
            }
            Self::WitnessRefused(WitnessRefusal::UnknownLog(_)) => "witness-unknown-log",
            Self::WitnessRefused(WitnessRefusal::NotSigned(_)) => "witness-not-signed",
            Self::WitnessRefused(WitnessRefusal::OldSizeDiffers { .. }) => "witness-old-size",
            Self::WitnessRefused(WitnessRefusal::Fork(_)) => "witness-fork",
            Self::WitnessRefused(WitnessRefusal::Inconsistent(_)) => "witness-inconsistent",
            Self::Internal(_) => "internal",
        }
    }

    fn extensions(&self) -> Map<String, Value> {
        let mut members = Map::new();
        match self {
            Self::Licensed { dataset } => {
                members.insert("dataset".into(), json!(dataset));
                members.insert(
                    "howToOrder".into(),
                    json!(format!(
                        "Licensed data is delivered under a signed order: run `shulian order {dataset} --key KEY --purpose PURPOSE --node URL`, then download with the order's token."
                    )),
                );
            }
            Self::DigestMismatch { expected, actual } => {
                members.insert("expected".into(), json!(expected.to_string()));
                members.insert("actual".into(), json!(actual.to_string()));
            }
            Self::TooLarge { limit } => {
                members.insert("limitBytes".into(), json!(limit));
            }
            _ => {}
        }
        members
    }
}

/// The `type` URI of a problem kind.
pub fn problem_type(kind: &str) -> String {
    format!("urn:shulian:problem:{kind}")
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                "the node failed to handle this request; the failure is logged".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = self.extensions();
        body.insert("type".into(), json!(problem_type(self.kind())));
        body.insert("title".into(), json!(status.canonical_reason().unwrap_or("Error")));
        body.insert("status".into(), json!(status.as_u16()));
        body.insert("detail".into(), json!(detail));
        let mut response = (status, axum::Json(Value::Object(body))).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            // The unread rest of the body makes the connection unusable: say so, so clients do not reuse it.
            Self::TooLarge { .. } => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Self::RangeNotSatisfiable { size } => {
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("no such resource".into()),
            StoreError::Conflict(detail) => Self::Conflict(detail),
            StoreError::Other(error) => Self::Internal(error),
        }
    }
}

impl From<BlobError> for AppError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::NotFound => Self::Internal(anyhow::anyhow!("a catalogued blob is missing from the blob store")),
            BlobError::TooLarge { limit } => Self::TooLarge { limit },
            BlobError::DigestMismatch { expected, actual } => Self::DigestMismatch { expected, actual },
            BlobError::Interrupted(reason) => Self::UploadInterrupted(reason),
            BlobError::Store(error) => Self::Internal(error.into()),
            BlobError::Io(error) => Self::Internal(error.into()),
        }
    }
}

impl From<IdError> for AppError {
    fn from(error: IdError) -> Self {
        Self::InvalidRequest(error.to_string())
    }
}

impl From<MetadataError> for AppError {
    fn from(error: MetadataError) -> Self {
        Self::InvalidRequest(error.to_string())
    }
}

impl From<UnknownOrder> for AppError {
    fn from(error: UnknownOrder) -> Self {
        Self::InvalidRequest(error.to_string())
    }
}

impl From<DigestError> for AppError {
    fn from(error: DigestError) -> Self {
        Self::InvalidRequest(error.to_string())
    }
}
