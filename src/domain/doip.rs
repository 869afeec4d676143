//! The Digital Object Interface Protocol (DOIP v2.0), as the node speaks it: the basic
//! operations it answers, the statuses it answers with, and the request and response
//! messages' first segments.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `0.DOIP/Op.Hello`: what the service is.
pub const HELLO: &str = "0.DOIP/Op.Hello";
/// `0.DOIP/Op.ListOperations`: what may be done to a target.
pub const LIST_OPERATIONS: &str = "0.DOIP/Op.ListOperations";
/// `0.DOIP/Op.Retrieve`: a digital object, or one of its elements.
pub const RETRIEVE: &str = "0.DOIP/Op.Retrieve";
/// `0.DOIP/Op.Search`: digital objects matching a query.
pub const SEARCH: &str = "0.DOIP/Op.Search";

/// The type of the service's own digital object.
pub const SERVICE_TYPE: &str = "0.TYPE/DOIPServiceInfo";
/// The type of a dataset version's digital object.
pub const DATASET_TYPE: &str = "shulian/DatasetVersion";

/// How an operation went (DOIP v2.0 section 7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoipStatus {
    /// Done.
    #[serde(rename = "0.DOIP/Status.001")]
    Success,
    /// The request is invalid.
    #[serde(rename = "0.DOIP/Status.101")]
    Invalid,
    /// The client is not authorized to do this (licensed bytes are ordered, not retrieved).
    #[serde(rename = "0.DOIP/Status.103")]
    Unauthorized,
    /// No such digital object.
    #[serde(rename = "0.DOIP/Status.104")]
    UnknownObject,
    /// The operation is not one the target supports.
    #[serde(rename = "0.DOIP/Status.200")]
    UnknownOperation,
    /// The service failed.
    #[serde(rename = "0.DOIP/Status.500")]
    Error,
}

/// A request's first segment: who asks what of which object.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoipRequest {
    /// The client's name for the request, echoed in the response.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The client's identifier (the node's operations need none).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The digital object (or the service) the operation is on.
    pub target_id: String,
    /// The operation.
    pub operation_id: String,
    /// The operation's parameters (`element` for Retrieve; `query`, `pageNum`, `pageSize` for Search).
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// A response's first segment.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoipResponse {
    /// The request's id, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// How it went.
    pub status: DoipStatus,
    /// About the response (a retrieved element's `filename`, a failure's `message`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    /// The operation's output.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub output: Value,
}

impl DoipResponse {
    /// A successful response with `output`.
    pub fn success(request_id: Option<String>, output: Value) -> Self {
        Self {
            request_id,
            status: DoipStatus::Success,
            attributes: Map::new(),
            output,
        }
    }

    /// A refusal or failure saying why.
    pub fn failure(request_id: Option<String>, status: DoipStatus, message: &str) -> Self {
        let mut attributes = Map::new();
        attributes.insert("message".into(), Value::from(message));
        Self {
            request_id,
            status,
            attributes,
            output: Value::Null,
        }
    }
}
