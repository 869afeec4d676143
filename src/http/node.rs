//! Node description and operator endpoints: `/.well-known/shulian-node`, `/api/v1/peers`,
//! `/api/v1/peer-datasets`, `/healthz`, `/readyz`.

use axum::Json;
use axum::extract::State;

use crate::domain::node::{NodeDescription, Peer};
use crate::error::AppError;
use crate::service::network::PeerDatasetView;
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
