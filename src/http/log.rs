//! The transparency log: checkpoint, entries, inclusion and consistency proofs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiBytes, ApiQuery};
use crate::error::AppError;
use crate::ledger::tiles::Tile;
use crate::ledger::witness::{Conflict, WitnessRefusal};
use crate::service::Context;
use crate::service::transparency::{self, ConsistencyView, EntryView, InclusionView};
use crate::service::witness;

/// Which checkpoint.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckpointParams {
    /// Ask the node's witnesses to cosign the current checkpoint first (those that have
    /// not), so that it carries every cosignature it can get.
    #[serde(default)]
    witnessed: bool,
}

/// The current checkpoint, a C2SP signed note, with the cosignatures of the node's
/// witnesses (C2SP `tlog-cosignature`) that it has.
#[utoipa::path(get, path = "/api/v1/log/checkpoint", tag = "log", params(CheckpointParams),
    responses((status = 200, description = "signed note: origin, tree size, base64 root, signature, cosignatures", content_type = "text/plain")))]
pub async fn checkpoint(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<CheckpointParams>,
) -> Result<impl IntoResponse, AppError> {
    let note = if params.witnessed {
        witness::cosigned_checkpoint(&ctx).await?
    } else {
        transparency::checkpoint(&ctx).await?
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    ))
}

/// Range of entries to read.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesParams {
    /// First index.
    start: u64,
    /// One past the last index (at most 1000 entries).
    end: u64,
}

/// Entries `start <= index < end`, as many as fit the node's page byte budget
/// (`log_page_max_bytes`, 1 MiB by default; always at least one): continue from the last index + 1.
#[utoipa::path(get, path = "/api/v1/log/entries", tag = "log", params(EntriesParams),
    responses((status = 200, body = Vec<EntryView>), (status = 400, description = "bad range")))]
pub async fn entries(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<EntriesParams>,
) -> Result<Json<Vec<EntryView>>, AppError> {
    Ok(Json(transparency::entries(&ctx, params.start, params.end).await?))
}

/// Which inclusion proof.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    /// The entry's index.
    index: u64,
    /// The tree size of the checkpoint to prove against.
    size: u64,
}

/// Proves an entry is in the tree of a given size.
#[utoipa::path(get, path = "/api/v1/log/proof/inclusion", tag = "log", params(InclusionParams),
    responses((status = 200, body = InclusionView), (status = 400, description = "index or size out of range")))]
pub async fn inclusion(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<InclusionParams>,
) -> Result<Json<InclusionView>, AppError> {
    Ok(Json(transparency::inclusion(&ctx, params.index, params.size).await?))
}

/// Which consistency proof.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The older tree size.
    from: u64,
    /// The newer tree size.
    to: u64,
}

/// Proves the tree of size `to` extends the tree of size `from`.
#[utoipa::path(get, path = "/api/v1/log/proof/consistency", tag = "log", params(ConsistencyParams),
    responses((status = 200, body = ConsistencyView), (status = 400, description = "sizes out of range")))]
pub async fn consistency(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<ConsistencyParams>,
) -> Result<Json<ConsistencyView>, AppError> {
    Ok(Json(transparency::consistency(&ctx, params.from, params.to).await?))
}

/// A tile of the log in the C2SP `tlog-tiles` layout (`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`),
/// immutable: any HTTP cache may keep it. The checkpoint is at `/log/checkpoint`.
#[utoipa::path(get, path = "/log/tile/{tile}", tag = "log",
    params(("tile" = String, Path, description = "`<L>/<N>[.p/<W>]` (hashes) or `entries/<N>[.p/<W>]`, N in x-prefixed 3-digit groups (C2SP tlog-tiles)")),
    responses((status = 200, description = "concatenated 32-byte hashes, or u16-length-prefixed entries", content_type = "application/octet-stream"),
              (status = 404, description = "no such tile in the current tree (or an entry too large for a bundle)")))]
pub async fn tile(State(ctx): State<Context>, Path(path): Path<String>) -> Result<impl IntoResponse, AppError> {
    let tile = Tile::parse(&path).ok_or_else(|| AppError::NotFound(format!("{path} is not a tile path")))?;
    let bytes = transparency::tile(&ctx, tile).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    ))
}

/// C2SP `tlog-witness` `add-checkpoint`: a peer's log submits its checkpoint with a
/// consistency proof from the last one this node cosigned; the answer is this node's
/// cosignature line. Only the logs of this node's peers are witnessed.
#[utoipa::path(post, path = "/witness/add-checkpoint", tag = "log",
    request_body(content = String, content_type = "text/plain", description = "`old <size>`, base64 proof lines, an empty line, the signed checkpoint"),
    responses((status = 200, description = "the cosignature line (`— <name> <base64>`)", content_type = "text/plain"),
              (status = 400, description = "malformed request, or an old size above the checkpoint's"),
              (status = 403, description = "not signed by the log's key"),
              (status = 404, description = "not the log of a peer of this node"),
              (status = 409, description = "the old size is not the last cosigned (`text/x.tlog.size` body), or the log signed another tree of this size"),
              (status = 422, description = "the consistency proof does not verify")))]
pub async fn add_checkpoint(State(ctx): State<Context>, ApiBytes(body): ApiBytes) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return AppError::WitnessRefused(WitnessRefusal::Malformed("the body is not UTF-8")).into_response();
    };
    match witness::add_checkpoint(&ctx, body).await {
        Ok(line) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], line).into_response(),
        // The spec's answer to a log that does not know the size last cosigned: that size.
        Err(AppError::WitnessRefused(WitnessRefusal::OldSizeDiffers { latest })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "text/x.tlog.size")],
            format!("{latest}\n"),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

/// As a witness: the evidence this node kept of peers' logs that showed two trees of
/// one history (both signed checkpoints of each), newest first.
#[utoipa::path(get, path = "/api/v1/witness/conflicts", tag = "log",
    responses((status = 200, body = Vec<Conflict>)))]
pub async fn conflicts(State(ctx): State<Context>) -> Result<Json<Vec<Conflict>>, AppError> {
    Ok(Json(witness::conflicts(&ctx).await?))
}
