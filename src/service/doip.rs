//! The node as a DOIP v2.0 service (the Digital Object Interface Protocol of the 数联网
//! and of Cordra): `Hello`, `ListOperations`, `Retrieve` and `Search` over the catalog,
//! for the native DOIP listener and the `/doip` HTTP form alike.
//!
//! The service's own digital object is `<prefix>/service`; a dataset version's is its
//! handle `<prefix>/<dataset>[@<version>]` (the newest version without `@`). Its
//! attributes are the metadata (`content`) and the node-signed manifest; its elements are
//! the files. Only open files' bytes are retrieved: licensed data is ordered. A peer's
//! version this node harvested is retrieved too, as what this node verified of it (its
//! holder, the holder's DID, its manifest's digest) with no elements: the holder serves
//! its bytes.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::{Map, Value, json};

use super::catalog::{self, DatasetView, file_url};
use super::download::{self, Credential};
use super::search::{self, SearchRequest};
use super::{Context, handles, network};
use crate::domain::doip::{
    DATASET_TYPE, DoipRequest, DoipResponse, DoipStatus, HELLO, LIST_OPERATIONS, RETRIEVE, SEARCH, SERVICE_TYPE,
};
use crate::domain::handle::{Handle, value_type};
use crate::domain::{AccessClass, FileName, MediaType};
use crate::error::AppError;

/// Search results one page holds by default.
const DEFAULT_PAGE_SIZE: u32 = 20;

/// A retrieved element's bytes, and what they are.
pub struct Element {
    /// The file's name in its version.
    pub name: FileName,
    /// Its media type.
    pub media_type: MediaType,
    /// Its size.
    pub size: u64,
    /// Its bytes.
    pub bytes: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// What an operation answers: the response's first segment, and the bytes of an element
/// when one was retrieved.
pub struct DoipAnswer {
    /// The first segment.
    pub response: DoipResponse,
    /// The retrieved element, sent after it.
    pub element: Option<Element>,
}

impl DoipAnswer {
    fn of(response: DoipResponse) -> Self {
        Self {
            response,
            element: None,
        }
    }
}

/// The identifier of the service's own digital object.
pub fn service_id(ctx: &Context) -> String {
    format!("{}/service", ctx.node.handle_prefix)
}

/// Performs a request; `native` is the native listener's address when it came through it.
/// Every failure is a DOIP status in the answer, never an error.
pub async fn perform(ctx: &Context, request: DoipRequest, native: Option<SocketAddr>) -> DoipAnswer {
    let request_id = request.request_id.clone();
    match operate(ctx, &request, native).await {
        Ok(answer) => answer,
        Err(error) => {
            let status = match &error {
                AppError::NotFound(_) => DoipStatus::UnknownObject,
                AppError::Licensed { .. } | AppError::Forbidden(_) | AppError::Unauthorized => DoipStatus::Unauthorized,
                AppError::Internal(_) | AppError::Unavailable(_) | AppError::Timeout(_) => DoipStatus::Error,
                _ => DoipStatus::Invalid,
            };
            let message = if status == DoipStatus::Error {
                tracing::error!(%error, operation = %request.operation_id, "DOIP operation failed");
                "the service failed; try again".to_owned()
            } else {
                error.to_string()
            };
            DoipAnswer::of(DoipResponse::failure(request_id, status, &message))
        }
    }
}

async fn operate(ctx: &Context, request: &DoipRequest, native: Option<SocketAddr>) -> Result<DoipAnswer, AppError> {
    let id = request.request_id.clone();
    let on_service = request.target_id == service_id(ctx);
    let output = match (request.operation_id.as_str(), on_service) {
        (HELLO | RETRIEVE, true) => hello(ctx, native)?,
        (LIST_OPERATIONS, true) => json!([HELLO, LIST_OPERATIONS, RETRIEVE, SEARCH]),
        (SEARCH, true) => search(ctx, &request.attributes).await?,
        (LIST_OPERATIONS, false) => {
            dataset_object(ctx, &request.target_id).await?;
            json!([RETRIEVE, LIST_OPERATIONS])
        }
        (RETRIEVE, false) => match request.attributes.get("element") {
            None => dataset_object(ctx, &request.target_id).await?,
            Some(element) => return retrieve_element(ctx, request, element).await,
        },
        (operation, _) => {
            let message = format!("{operation} is not an operation of {}", request.target_id);
            return Ok(DoipAnswer::of(DoipResponse::failure(
                id,
                DoipStatus::UnknownOperation,
                &message,
            )));
        }
    };
    Ok(DoipAnswer::of(DoipResponse::success(id, output)))
}

/// The service's digital object: its interfaces, its key, and its signed description.
fn hello(ctx: &Context, native: Option<SocketAddr>) -> Result<Value, AppError> {
    let public = ctx.node.key.public();
    let mut attributes = json!({
        "protocol": "TCP",
        "protocolVersion": "2.0",
        "publicKey": {"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public.to_bytes())},
        // The node's description, signed with the same key (eddsa-jcs-2022): the service's word
        // for who it is, which a client checks against the DID it expects.
        "nodeDescription": network::description(ctx)?,
        "baseUri": format!("{}/doip", ctx.node.public_url),
    });
    if let Some(address) = native {
        attributes["ipAddress"] = json!(address.ip().to_string());
        attributes["port"] = json!(address.port());
    }
    Ok(json!({"id": service_id(ctx), "type": SERVICE_TYPE, "attributes": attributes}))
}

/// The handle a target names, which must be one of this node's.
fn own_handle(ctx: &Context, target: &str) -> Result<Handle, AppError> {
    let handle: Handle = target
        .parse()
        .map_err(|error| AppError::NotFound(format!("no digital object {target}: {error}")))?;
    if handle.prefix != ctx.node.handle_prefix {
        return Err(AppError::NotFound(format!(
            "{target} is not an object of this service (prefix {})",
            ctx.node.handle_prefix
        )));
    }
    Ok(handle)
}

/// A dataset version as a digital object: this node's, or a peer's it harvested.
async fn dataset_object(ctx: &Context, target: &str) -> Result<Value, AppError> {
    if let Ok(handle) = target.parse::<Handle>()
        && handle.prefix != ctx.node.handle_prefix
    {
        return peer_object(ctx, target).await;
    }
    let handle = own_handle(ctx, target)?;
    let version = catalog::get_version(ctx, &handle.dataset, handle.version).await?;
    let elements: Vec<Value> = version
        .files
        .iter()
        .map(|file| {
            json!({
                "id": file.name,
                "type": file.media_type.as_str(),
                "length": file.size,
                "attributes": {"filename": file.name.base_name(), "sha256": file.sha256},
            })
        })
        .collect();
    Ok(json!({
        "id": format!("{}/{}@{}", handle.prefix, handle.dataset, version.entry.version),
        "type": DATASET_TYPE,
        "attributes": {
            "content": version.manifest["metadata"],
            "version": version.entry.version,
            "access": version.entry.access,
            "manifestDigest": version.entry.manifest_digest,
            "manifest": version.manifest,
            "publishedAt": version.entry.published_at,
            "landingPage": format!("{}/datasets/{}?version={}", ctx.node.public_url, handle.dataset, version.entry.version),
        },
        "elements": elements,
    }))
}

/// A peer's dataset version, as this node resolves its identifier from what it harvested
/// (the manifest verified under the peer's pinned key and included in the peer's log).
async fn peer_object(ctx: &Context, target: &str) -> Result<Value, AppError> {
    let record = handles::resolve(ctx, target)
        .await?
        .map_err(|_| AppError::NotFound(format!("no digital object {target} here or harvested from a peer")))?;
    let value = |kind: &str| {
        record
            .values
            .iter()
            .find(|value| value.kind == kind)
            .map(|value| value.data.value.clone())
            .unwrap_or_default()
    };
    let version = value(value_type::VERSION);
    let holder = value(value_type::NODE_URL);
    let id = format!("{}@{version}", record.handle.split('@').next().unwrap_or_default());
    Ok(json!({
        "id": id,
        "type": DATASET_TYPE,
        "attributes": {
            "version": version.parse::<u64>().ok(),
            "manifestDigest": value(value_type::CHECKSUM),
            "manifestUrl": value(value_type::MANIFEST),
            "landingPage": value(value_type::URL),
            "heldBy": {"node": value(value_type::NODE), "url": holder, "doip": format!("{holder}/doip")},
        },
        "elements": [],
    }))
}

/// One element (file) of a dataset version: its bytes, when the version is open.
async fn retrieve_element(ctx: &Context, request: &DoipRequest, element: &Value) -> Result<DoipAnswer, AppError> {
    let handle = own_handle(ctx, &request.target_id)?;
    let name: FileName = element
        .as_str()
        .ok_or_else(|| AppError::InvalidRequest("attributes.element: a file name".into()))?
        .parse()
        .map_err(|_| AppError::InvalidRequest("attributes.element: not a file name".into()))?;
    let file = download::find_file(ctx, &handle.dataset, handle.version, &name, Credential::Anonymous).await?;
    let bytes = download::read_file(ctx, &file, None).await?;
    let mut response = DoipResponse::success(request.request_id.clone(), Value::Null);
    response
        .attributes
        .insert("filename".into(), Value::from(name.base_name()));
    response.attributes.insert(
        "url".into(),
        Value::from(file_url(&ctx.node.public_url, &file.dataset, file.version, &name)),
    );
    Ok(DoipAnswer {
        response,
        element: Some(Element {
            size: file.entry.size,
            media_type: file.entry.media_type.clone(),
            name,
            bytes,
        }),
    })
}

/// The catalog's search: `query` (words, as the search box takes them), `pageNum` (from
/// 0) and `pageSize`; results are the datasets' newest versions as digital objects.
async fn search(ctx: &Context, attributes: &Map<String, Value>) -> Result<Value, AppError> {
    let number = |name: &str| -> Result<Option<u32>, AppError> {
        attributes
            .get(name)
            .map(|value| {
                value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| AppError::InvalidRequest(format!("attributes.{name}: a whole number")))
            })
            .transpose()
    };
    let query = attributes
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::InvalidRequest("attributes.query: the words to search for".into()))?;
    let size = number("pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if size == 0 || size > search::MAX_PAGE_SIZE {
        return Err(AppError::InvalidRequest(format!(
            "attributes.pageSize: 1 to {}",
            search::MAX_PAGE_SIZE
        )));
    }
    let page = number("pageNum")?.unwrap_or(0);
    let offset = page
        .checked_mul(size)
        .ok_or_else(|| AppError::InvalidRequest("attributes.pageNum: too large".into()))?;
    let found = search::find(
        ctx,
        SearchRequest {
            text: Some(query.to_owned()),
            limit: Some(size),
            offset,
            ..SearchRequest::default()
        },
    )
    .await?;
    let results: Vec<Value> = found.items.iter().map(|item| search_result(ctx, item)).collect();
    Ok(json!({"size": found.total, "results": results}))
}

fn search_result(ctx: &Context, item: &DatasetView) -> Value {
    let metadata = &item.metadata;
    json!({
        "id": format!("{}/{}@{}", ctx.node.handle_prefix, item.id, item.latest_version),
        "type": DATASET_TYPE,
        "attributes": {
            "content": {
                "title": metadata.title,
                "description": metadata.description,
                "keywords": metadata.keywords,
                "access": metadata.access,
                "publisher": item.publisher,
            },
            "open": metadata.access == AccessClass::Open,
        },
    })
}
