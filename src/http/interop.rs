//! Catalog standards: DCAT JSON-LD for the catalog and each dataset, Data Package per version.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiPath, ApiQuery};
use super::version_ref;
use crate::domain::DatasetId;
use crate::error::AppError;
use crate::service::Context;
use crate::service::interop::{self, CatalogPosition};

/// Query of the paged catalog.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogPage {
    /// Page number, from 1 (100 datasets per page), by offset.
    page: Option<u32>,
    /// Continue after the page whose `hydra:next` link carries this cursor (linear crawling).
    cursor: Option<String>,
}

fn json_ld(document: &Value) -> Response {
    let mut response = document.to_string().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/ld+json"));
    response
}

/// The whole catalog as a DCAT `dcat:Catalog` in JSON-LD, paged with hydra links.
#[utoipa::path(get, path = "/catalog.jsonld", tag = "interoperability", params(CatalogPage),
    responses((status = 200, description = "DCAT catalog page", content_type = "application/ld+json"),
              (status = 400, description = "bad page or cursor")))]
pub async fn catalog(State(ctx): State<Context>, ApiQuery(query): ApiQuery<CatalogPage>) -> Result<Response, AppError> {
    let position = match (query.page, query.cursor) {
        (Some(_), Some(_)) => return Err(AppError::InvalidRequest("page or cursor, not both".into())),
        (_, Some(cursor)) => CatalogPosition::After(cursor),
        (page, None) => CatalogPosition::Page(page.unwrap_or(1)),
    };
    Ok(json_ld(&interop::dcat_catalog(&ctx, position).await?))
}

/// Query of the peers' catalogue.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeerCatalogPage {
    /// Continue after the page whose `hydra:next` link carries this cursor.
    cursor: Option<String>,
}

/// The datasets harvested from peers as a DCAT `dcat:Catalog` (the main catalogue's
/// `dcat:catalog`): each under its origin's IRI, published by the peer that holds it and
/// landing at the peer's page, 100 a page with a `hydra:next` cursor.
#[utoipa::path(get, path = "/peers/catalog.jsonld", tag = "interoperability", params(PeerCatalogPage),
    responses((status = 200, description = "DCAT catalog page", content_type = "application/ld+json"),
              (status = 400, description = "bad cursor")))]
pub async fn peer_catalog(
    State(ctx): State<Context>,
    ApiQuery(query): ApiQuery<PeerCatalogPage>,
) -> Result<Response, AppError> {
    Ok(json_ld(
        &interop::dcat_peer_catalog(&ctx, query.cursor.as_deref()).await?,
    ))
}

/// One dataset as DCAT JSON-LD, with its distributions' download URLs, sizes and sha256 checksums.
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/dcat.jsonld", tag = "interoperability",
    params(("dataset" = String, Path, description = "dataset id")),
    responses((status = 200, description = "DCAT dataset", content_type = "application/ld+json"),
              (status = 404, description = "no such dataset")))]
pub async fn dataset(State(ctx): State<Context>, ApiPath(dataset): ApiPath<DatasetId>) -> Result<Response, AppError> {
    Ok(json_ld(&interop::dcat_dataset(&ctx, &dataset).await?))
}

/// A version as a Frictionless Data Package (`frictionless validate` accepts it; `shulian get` saves it
/// beside the files so `shulian publish` can publish them to another node).
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/versions/{version}/datapackage.json", tag = "interoperability",
    params(("dataset" = String, Path, description = "dataset id"),
           ("version" = String, Path, description = "version number or `latest`")),
    responses((status = 200, description = "Data Package descriptor", body = Object, content_type = "application/json"),
              (status = 404, description = "no such version")))]
pub async fn datapackage(
    State(ctx): State<Context>,
    ApiPath((dataset, version)): ApiPath<(DatasetId, String)>,
) -> Result<axum::Json<Value>, AppError> {
    Ok(axum::Json(
        interop::datapackage(&ctx, &dataset, version_ref(&version)?).await?,
    ))
}
