//! The transparency log: checkpoint, entries, inclusion and consistency proofs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::extract::ApiQuery;
use crate::error::AppError;
use crate::ledger::tiles::Tile;
use crate::service::Context;
use crate::service::transparency::{self, ConsistencyView, EntryView, InclusionView};

/// The current checkpoint, a C2SP signed note.
#[utoipa::path(get, path = "/api/v1/log/checkpoint", tag = "log",
    responses((status = 200, description = "signed note: origin, tree size, base64 root, signature", content_type = "text/plain")))]
pub async fn checkpoint(State(ctx): State<Context>) -> Result<impl IntoResponse, AppError> {
    let note = transparency::checkpoint(&ctx).await?;
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
