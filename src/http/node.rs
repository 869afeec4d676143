//! Node description and operator endpoints: `/.well-known/shulian-node`, `/healthz`, `/readyz`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::error::AppError;
use crate::service::Context;
use crate::service::sharing::SHARING_PATH;
use crate::service::transparency;

/// What `/.well-known/shulian-node` says about the node.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeDescription {
    /// The node's `did:key`.
    id: String,
    /// Display name.
    name: String,
    /// Software name and version.
    software: Software,
    /// The node's Ed25519 public key, multibase.
    public_key_multibase: String,
    /// The verification method its proofs name.
    verification_method: String,
    /// Base URLs of the node's APIs.
    endpoints: Endpoints,
    /// The transparency log: its origin and the note verifier key that signs its checkpoints.
    log: LogDescription,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct LogDescription {
    origin: String,
    verifier_key: String,
    checkpoint: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Software {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct Endpoints {
    api: String,
    openapi: String,
    datasets: String,
    /// The Delta Sharing server.
    delta_sharing: String,
    /// The public Delta Sharing profile that reads every open dataset.
    open_data_profile: String,
}

/// Describes the node.
#[utoipa::path(get, path = "/.well-known/shulian-node", tag = "node",
    responses((status = 200, body = NodeDescription)))]
pub async fn describe(State(ctx): State<Context>) -> Json<NodeDescription> {
    let public = ctx.node.key.public();
    let api = format!("{}/api/v1", ctx.node.public_url);
    let sharing = format!("{}{SHARING_PATH}", ctx.node.public_url);
    Json(NodeDescription {
        id: public.did().to_string(),
        name: ctx.node.name.clone(),
        software: Software {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        public_key_multibase: public.multibase(),
        verification_method: public.verification_method(),
        log: LogDescription {
            verifier_key: transparency::verifier_key(&ctx),
            origin: transparency::origin(&ctx),
            checkpoint: format!("{api}/log/checkpoint"),
        },
        endpoints: Endpoints {
            openapi: format!("{api}/openapi.json"),
            datasets: format!("{api}/datasets"),
            delta_sharing: sharing.clone(),
            open_data_profile: format!("{sharing}/open.share"),
            api,
        },
    })
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database and blob store answer.
#[utoipa::path(get, path = "/readyz", tag = "node",
    responses((status = 200, description = "ready"), (status = 503, description = "a dependency is down")))]
pub async fn readyz(State(ctx): State<Context>) -> Result<&'static str, AppError> {
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
