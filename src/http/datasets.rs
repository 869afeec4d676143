//! Catalog endpoints: list and read datasets and versions; publish a version.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery, AuthenticatedPublisher};
use super::version_ref;
use crate::domain::PublishRequest;
use crate::domain::{AccessClass, DatasetId, Facet, PublisherId, SearchOrder};
use crate::domain::{SearchFilter, TimeRange};
use crate::error::AppError;
use crate::service::Context;
use crate::service::catalog::{self, ChangesPage, DatasetDetail, VersionDetail};
use crate::service::publish::{self, PublishOutcome};
use crate::service::search::{self, SearchPage, SearchRequest};
use chrono::{DateTime, NaiveDate, Utc};

/// Query parameters of the dataset listing and search.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Words to search for in titles, descriptions, keywords, publisher names and column names, Chinese or English.
    q: Option<String>,
    /// Only this publisher's datasets.
    #[param(value_type = Option<String>)]
    publisher: Option<PublisherId>,
    /// Only `open` or only `licensed` datasets.
    access: Option<AccessClass>,
    /// Only datasets under this licence id.
    license: Option<String>,
    /// Only datasets with a file of this format (`CSV`, `Parquet`, `JSON` …).
    format: Option<String>,
    /// Only datasets with this keyword.
    keyword: Option<String>,
    /// Only datasets updated at or after this time (RFC 3339) or date (`2026-01-31`).
    updated_since: Option<String>,
    /// `relevance` (the default with `q`), `newest`, `downloads` or `name` (the default without `q`).
    sort: Option<String>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// A publish's `searchSequence`: answer only once this replica's search index includes
    /// that publication (waits up to 10 s, then 503).
    indexed: Option<u64>,
}

/// Lists and searches datasets, with facet counts; cursor pages never repeat or skip a dataset.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "catalog", params(ListParams),
    responses((status = 200, body = SearchPage), (status = 400, description = "bad query, filter, cursor or `indexed` position"),
        (status = 503, description = "the search index has not reached the `indexed` change in time")))]
pub async fn list(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<SearchPage>, AppError> {
    let mut filters = Vec::new();
    let named = [
        (Facet::Access, params.access.map(|access| access.as_str().to_owned())),
        (
            Facet::Publisher,
            params.publisher.map(|publisher| publisher.to_string()),
        ),
        (Facet::License, params.license),
        (Facet::Format, params.format),
        (Facet::Keyword, params.keyword),
    ];
    for (facet, value) in named {
        if let Some(value) = value {
            filters.push(SearchFilter::facet(facet, value));
        }
    }
    let request = SearchRequest {
        text: params.q,
        filters,
        updated: TimeRange {
            since: params.updated_since.as_deref().map(parse_since).transpose()?,
            until: None,
        },
        order: params.sort.as_deref().map(str::parse::<SearchOrder>).transpose()?,
        cursor: params.cursor,
        limit: params.limit,
        indexed: params.indexed,
        ..SearchRequest::default()
    };
    Ok(Json(search::find(&ctx, request).await?))
}

/// An RFC 3339 time, or a date meaning its midnight UTC.
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, AppError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| midnight.and_utc())
        .ok_or_else(|| AppError::InvalidRequest(format!("updatedSince: {text:?} is not an RFC 3339 time or a date")))
}

/// One dataset with its versions.
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}", tag = "catalog",
    params(("dataset" = String, Path, description = "dataset id")),
    responses((status = 200, body = DatasetDetail), (status = 404, description = "no such dataset")))]
pub async fn get(
    State(ctx): State<Context>,
    ApiPath(dataset): ApiPath<DatasetId>,
) -> Result<Json<DatasetDetail>, AppError> {
    Ok(Json(catalog::get_dataset(&ctx, &dataset).await?))
}

/// One version with its files and signed manifest.
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/versions/{version}", tag = "catalog",
    params(("dataset" = String, Path, description = "dataset id"),
           ("version" = String, Path, description = "version number or `latest`")),
    responses((status = 200, body = VersionDetail), (status = 404, description = "no such version")))]
pub async fn get_version(
    State(ctx): State<Context>,
    ApiPath((dataset, version)): ApiPath<(DatasetId, String)>,
) -> Result<Json<VersionDetail>, AppError> {
    Ok(Json(
        catalog::get_version(&ctx, &dataset, version_ref(&version)?).await?,
    ))
}

/// A version's signed manifest, exactly as signed (RFC 8785 canonical JSON).
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/versions/{version}/manifest", tag = "catalog",
    params(("dataset" = String, Path, description = "dataset id"),
           ("version" = String, Path, description = "version number or `latest`")),
    responses((status = 200, description = "the signed manifest", body = Object, content_type = "application/json"),
              (status = 404, description = "no such version")))]
pub async fn get_manifest(
    State(ctx): State<Context>,
    ApiPath((dataset, version)): ApiPath<(DatasetId, String)>,
) -> Result<Response, AppError> {
    let manifest = catalog::get_manifest(&ctx, &dataset, version_ref(&version)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], manifest).into_response())
}

/// Publishes the next version of a dataset (creating the dataset on its first version).
#[utoipa::path(post, path = "/api/v1/datasets/{dataset}/versions", tag = "publishing",
    params(("dataset" = String, Path, description = "dataset id")),
    request_body = PublishRequest,
    security(("publisher_token" = [])),
    responses((status = 201, body = PublishOutcome, description = "a new version"),
              (status = 200, body = PublishOutcome, description = "unchanged: the newest version already has this content"),
              (status = 400, description = "invalid metadata or files"),
              (status = 401, description = "missing or invalid token"),
              (status = 403, description = "the dataset belongs to another publisher"),
              (status = 409, description = "a concurrent publish won; publish again"),
              (status = 422, description = "a file's bytes were never uploaded")))]
pub async fn publish(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(dataset): ApiPath<DatasetId>,
    ApiJson(request): ApiJson<PublishRequest>,
) -> Result<Response, AppError> {
    let outcome = publish::publish_version(&ctx, &publisher, &dataset, request).await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/datasets/{}/versions/{}", outcome.dataset, outcome.version);
    Ok((status, [(header::LOCATION, location)], Json(outcome)).into_response())
}

/// Where to read the change feed from.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesParams {
    /// List what follows this position (the `last` of an earlier page); from the start if absent.
    after: Option<u64>,
    /// Most changes to return, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// The catalog's change feed: every published version, in the order the transparency log
/// holds its manifest; follow `last` (or `next`) to read each change once.
#[utoipa::path(get, path = "/api/v1/changes", tag = "catalog", params(ChangesParams),
    responses((status = 200, body = ChangesPage), (status = 400, description = "bad position or limit")))]
pub async fn changes(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<ChangesParams>,
) -> Result<Json<ChangesPage>, AppError> {
    Ok(Json(catalog::changes(&ctx, params.after, params.limit).await?))
}
