//! Node description and operator endpoints: `/.well-known/shulian-node`, `/api/v1/peers`,
//! `/api/v1/peer-datasets`, `/healthz`, `/readyz`.

use axum::Json;
use axum::extract::State;

use super::extract::ApiQuery;
use crate::domain::node::{NodeDescription, Peer};
use crate::domain::{AccessClass, Facet, SearchFilter};
use crate::error::AppError;
use crate::service::network::{PeerDatasetView, PeerSearchPage};
use crate::service::search::SearchRequest;
use crate::service::{Context, network};

/// Describes the node, signed by its key.
#[utoipa::path(get, path = "/.well-known/shulian-node", tag = "node",
    responses((status = 200, body = NodeDescription)))]
pub async fn describe(State(ctx): State<Context>) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(network::description(&ctx)?.clone()))
}

/// The peer nodes this node knows: the DID pinned for each and how the last contact went.
/// Operators add peers with `shulian admin add-peer`.
#[utoipa::path(get, path = "/api/v1/peers", tag = "node",
    responses((status = 200, body = Vec<Peer>)))]
pub async fn peers(State(ctx): State<Context>) -> Result<Json<Vec<Peer>>, AppError> {
    Ok(Json(network::peers(&ctx).await?))
}

/// The newest datasets harvested from the peers (each verified: its manifest under the
/// peer's key, included in the peer's log), at their newest version; downloaded and
/// ordered at the peer, at `url`.
#[utoipa::path(get, path = "/api/v1/peer-datasets", tag = "node",
    responses((status = 200, body = Vec<PeerDatasetView>)))]
pub async fn peer_datasets(State(ctx): State<Context>) -> Result<Json<Vec<PeerDatasetView>>, AppError> {
    Ok(Json(network::peer_datasets(&ctx).await?))
}

/// What to search the peers' datasets for.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeerSearchParams {
    /// Words, Chinese (or its pinyin) or English, as the catalog is searched.
    q: Option<String>,
    /// Only the datasets of the peer with this identifier prefix (a `node` facet value).
    node: Option<String>,
    /// Only `open` or only `licensed` datasets.
    access: Option<AccessClass>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
}

/// Searches the datasets harvested from the peers (each verified as at
/// `/api/v1/peer-datasets`), with facet counts; `node` counts them per holding peer.
#[utoipa::path(get, path = "/api/v1/peer-datasets/search", tag = "node", params(PeerSearchParams),
    responses((status = 200, body = PeerSearchPage), (status = 400, description = "bad query, filter or cursor")))]
pub async fn search_peer_datasets(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<PeerSearchParams>,
) -> Result<Json<PeerSearchPage>, AppError> {
    let mut filters = Vec::new();
    if let Some(node) = params.node {
        filters.push(SearchFilter::facet(Facet::Node, node));
    }
    if let Some(access) = params.access {
        filters.push(SearchFilter::facet(Facet::Access, access.as_str()));
    }
    let request = SearchRequest {
        text: params.q,
        filters,
        cursor: params.cursor,
        limit: params.limit,
        ..SearchRequest::default()
    };
    Ok(Json(network::search_peer_datasets(&ctx, request).await?))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database and blob store answer, and this replica's search index is built.
#[utoipa::path(get, path = "/readyz", tag = "node",
    responses((status = 200, description = "ready"), (status = 503, description = "a dependency is down, or the search index is still being built")))]
pub async fn readyz(State(ctx): State<Context>) -> Result<&'static str, AppError> {
    if ctx.search.applied().is_none() {
        return Err(AppError::Unavailable("the search index is still being built".into()));
    }
    ctx.store
        .ping()
        .await
        .map_err(|error| unavailable("database", &error))?;
    ctx.blobs
        .ping()
        .await
        .map_err(|error| unavailable("blob store", &error))?;
    Ok("ready")
}

fn unavailable(what: &str, error: &dyn std::fmt::Display) -> AppError {
    tracing::warn!(error = %error, "{what} is not reachable");
    AppError::Unavailable(format!("the {what} is not reachable"))
}
