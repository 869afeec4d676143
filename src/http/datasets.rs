//! Catalog endpoints: list and read datasets and versions; publish a version.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, ApiPath, ApiQuery, AuthenticatedPublisher};
use super::version_ref;
use crate::domain::{AccessClass, DatasetId, PublisherId};
use crate::error::AppError;
use crate::service::Context;
use crate::service::catalog::{self, DatasetDetail, DatasetPage, ListQuery, VersionDetail};
use crate::service::publish::{self, PublishOutcome, PublishRequest};
use crate::store::DatasetFilter;

/// Query parameters of the dataset listing.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this publisher's datasets.
    #[param(value_type = Option<String>)]
    publisher: Option<PublisherId>,
    /// Only `open` or only `licensed` datasets.
    access: Option<AccessClass>,
    /// Only datasets with this keyword.
    keyword: Option<String>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
}

/// Lists datasets.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "catalog", params(ListParams),
    responses((status = 200, body = DatasetPage), (status = 400, description = "bad filter or cursor")))]
pub async fn list(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<DatasetPage>, AppError> {
    let query = ListQuery {
        filter: DatasetFilter {
            publisher: params.publisher,
            access: params.access,
            keyword: params.keyword,
        },
        cursor: params.cursor,
        limit: params.limit,
    };
    Ok(Json(catalog::list_datasets(&ctx, query).await?))
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
    responses((status = 200, description = "the signed manifest", content_type = "application/json"),
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
