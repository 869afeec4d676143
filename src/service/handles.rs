//! Resolving the node's global identifiers (`<prefix>/<dataset>[@<version>]`) in the
//! Handle.net REST API's form, so Handle System clients read them unchanged.
//!
//! A record's values ([`value_type`]): `URL` (the dataset's page), `CHECKSUM` (the
//! version's signed manifest digest, `sha256:<hex>`), `SHULIAN_MANIFEST` (where that
//! manifest is served), `SHULIAN_NODE` (the DID of the node that signed it),
//! `SHULIAN_NODE_URL` (that node's base URL, where the version is ordered) and
//! `SHULIAN_VERSION` (the version named).

use serde::Serialize;

use super::Context;
use crate::domain::handle::{Handle, HandleError, value_type};
use crate::error::AppError;
use crate::store::StoreError;

/// How long a resolver may cache a record, in seconds.
const TTL_SECONDS: u32 = 86_400;

/// A handle record as the Handle.net REST API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandleRecord {
    /// `1`: success.
    pub response_code: u32,
    /// The handle, as this node writes it (lowercase).
    pub handle: String,
    /// The record's values.
    pub values: Vec<HandleValue>,
}

/// One value of a handle record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HandleValue {
    /// Its index in the record.
    pub index: u32,
    /// Its type (`URL`, `CHECKSUM`, …).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its data.
    pub data: HandleData,
    /// Seconds a resolver may cache it.
    pub ttl: u32,
    /// When it was last set: the version's publication.
    pub timestamp: String,
}

/// A value's data: always a string here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HandleData {
    /// `string`.
    pub format: &'static str,
    /// The value.
    pub value: String,
}

/// Why a handle resolved to nothing, with the Handle.net response code it is answered with.
#[derive(Debug)]
pub enum Unresolved {
    /// Not a handle of this form (`responseCode` 2, HTTP 400).
    Syntax(HandleError),
    /// Another node's prefix (`responseCode` 301, "That prefix doesn't live here", HTTP 400).
    PrefixElsewhere(Handle),
    /// This node's prefix, but no such dataset or version (`responseCode` 100, HTTP 404).
    NotFound(Handle),
}

impl HandleRecord {
    /// The record's `URL` value.
    pub fn url(&self) -> Option<&str> {
        self.values
            .iter()
            .find(|value| value.kind == value_type::URL)
            .map(|value| value.data.value.as_str())
    }
}

/// Resolves `text` (with or without `hdl:`) to its record: this node's own identifiers
/// from its catalog, a peer's from what was harvested from that peer (pointing there).
pub async fn resolve(ctx: &Context, text: &str) -> Result<Result<HandleRecord, Unresolved>, AppError> {
    let handle: Handle = match text.parse() {
        Ok(handle) => handle,
        Err(error) => return Ok(Err(Unresolved::Syntax(error))),
    };
    if handle.prefix != ctx.node.handle_prefix {
        return resolve_remote(ctx, handle).await;
    }
    let record = match ctx.store.get_version(&handle.dataset, handle.version).await {
        Ok(record) => record,
        Err(StoreError::NotFound) => return Ok(Err(Unresolved::NotFound(handle))),
        Err(other) => return Err(other.into()),
    };
    let holder = Holder {
        base: &ctx.node.public_url,
        did: ctx.node.key.did().to_string(),
    };
    let summary = record.summary;
    Ok(Ok(holder.record(
        &handle,
        summary.version,
        &summary.manifest_digest,
        summary.published_at,
    )))
}

/// A peer's identifier, from the versions harvested from it.
async fn resolve_remote(ctx: &Context, handle: Handle) -> Result<Result<HandleRecord, Unresolved>, AppError> {
    match ctx
        .store
        .remote_version(handle.prefix.as_str(), &handle.dataset, handle.version)
        .await?
    {
        Some((peer, Some(version))) => {
            let holder = Holder {
                base: &peer.url,
                did: peer.did,
            };
            Ok(Ok(holder.record(
                &handle,
                version.version,
                &version.manifest_digest,
                version.published_at,
            )))
        }
        // A peer's prefix, but nothing of that name harvested from it.
        Some((_, None)) => Ok(Err(Unresolved::NotFound(handle))),
        None => Ok(Err(Unresolved::PrefixElsewhere(handle))),
    }
}

/// The node that holds an identified version: where its pages are and who signed it.
struct Holder<'a> {
    base: &'a str,
    did: String,
}

impl Holder<'_> {
    fn record(
        &self,
        handle: &Handle,
        version: crate::domain::VersionNumber,
        manifest_digest: &crate::domain::Sha256Digest,
        published_at: chrono::DateTime<chrono::Utc>,
    ) -> HandleRecord {
        let (base, dataset) = (self.base, &handle.dataset);
        let timestamp = published_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let values = [
            (value_type::URL, format!("{base}/datasets/{dataset}")),
            (value_type::CHECKSUM, manifest_digest.prefixed()),
            (
                value_type::MANIFEST,
                format!("{base}/api/v1/datasets/{dataset}/versions/{version}/manifest"),
            ),
            (value_type::NODE, self.did.clone()),
            (value_type::NODE_URL, base.to_owned()),
            (value_type::VERSION, version.to_string()),
        ];
        HandleRecord {
            response_code: 1,
            handle: handle.to_string(),
            values: values
                .into_iter()
                .zip(1..)
                .map(|((kind, value), index)| HandleValue {
                    index,
                    kind,
                    data: HandleData {
                        format: "string",
                        value,
                    },
                    ttl: TTL_SECONDS,
                    timestamp: timestamp.clone(),
                })
                .collect(),
        }
    }
}
