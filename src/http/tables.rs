//! Table views of a file: `…/files/{name}/schema` and `…/files/{name}/preview`.

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{bearer, read_session};
use crate::domain::{DatasetId, FileName, VersionNumber};
use crate::error::AppError;
use crate::service::Context;
use crate::service::tables;
use crate::tabular::PreviewRequest;

/// Which view of a table a path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableView {
    /// Schema and statistics.
    Schema,
    /// Rows.
    Preview,
}

impl TableView {
    /// Splits `name/schema` or `name/preview` into the file and the view.
    pub fn split(path: &FileName) -> Option<(FileName, Self)> {
        let (file, last) = path.as_str().rsplit_once('/')?;
        let view = match last {
            "schema" => Self::Schema,
            "preview" => Self::Preview,
            _ => return None,
        };
        Some((file.parse().ok()?, view))
    }
}

/// Rows shown when the request names no `limit`.
const DEFAULT_PREVIEW_ROWS: usize = 100;

/// Query of a preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// Rows to skip (default 0).
    offset: Option<u64>,
    /// Rows to show (default 100; capped by the node's `preview_max_rows`).
    limit: Option<usize>,
    /// Comma-separated top-level column names (default: all).
    columns: Option<String>,
}

/// The schema and per-column statistics of a Parquet or CSV file; public for every dataset.
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/versions/{version}/files/{name}/schema", tag = "tables",
    params(("dataset" = String, Path, description = "dataset id"),
           ("version" = String, Path, description = "version number or `latest`"),
           ("name" = String, Path, description = "file name; may contain `/`")),
    responses((status = 200, description = "schema, row count and column statistics", body = tables::TableSchema),
              (status = 404, description = "no such file"),
              (status = 422, description = "not a table, or it could not be read (the problem says why)")))]
pub async fn schema(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
) -> Result<Response, AppError> {
    Ok(Json(tables::schema(ctx, dataset, version, name).await?).into_response())
}

/// Rows of a table as JSON. Licensed data: with an order token, or within the offer's `sampleRows`.
/// Rows under an order are a read of the file: the first preview opens a read session (the
/// `Shulian-Read-Session` header, or `preview` when none is named), which spends one download
/// and is receipted; later previews in it count their bytes against the session's cap.
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/versions/{version}/files/{name}/preview", tag = "tables",
    params(("dataset" = String, Path, description = "dataset id"),
           ("version" = String, Path, description = "version number or `latest`"),
           ("name" = String, Path, description = "file name; may contain `/`"),
           ("Shulian-Read-Session" = Option<String>, Header, description = "with an order token: the read session the rows are counted in (default `preview`)"),
           PreviewParams),
    responses((status = 200, description = "the rows", body = crate::tabular::Preview),
              (status = 400, description = "bad offset, limit or column"),
              (status = 403, description = "licensed data beyond the free sample: order it first"),
              (status = 404, description = "no such file"),
              (status = 422, description = "not a table, or the rows exceed the node's preview limits")),
    security((), ("order_token" = [])))]
pub async fn preview(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let Query(params) = Query::<PreviewParams>::try_from_uri(uri)
        .map_err(|error| AppError::InvalidRequest(format!("query: {}", error.body_text())))?;
    let columns = match params.columns {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|name| match name.trim() {
                    "" => Err(AppError::InvalidRequest("columns: an empty column name".into())),
                    name => Ok(name.to_owned()),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let request = PreviewRequest {
        offset: params.offset.unwrap_or(0),
        limit: params.limit.unwrap_or(DEFAULT_PREVIEW_ROWS),
        columns,
    };
    let reader = match bearer(headers) {
        Some(token) => Some((token, read_session(headers)?)),
        None => None,
    };
    let rows = tables::preview(ctx, dataset, version, name, reader, request).await?;
    Ok(Json(rows).into_response())
}
