//! Node description and operator endpoints: `/.well-known/shulian-node`, `/healthz`, `/readyz`.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Serialize;

use crate::crypto::sign_document;
use crate::error::AppError;
use crate::service::Context;
use crate::service::sharing::SHARING_PATH;
use crate::service::transparency;

/// What `/.well-known/shulian-node` says about the node, signed by the node's key
/// (eddsa-jcs-2022), so a peer that pinned the node's DID can check the rest.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeDescription {
    /// Always `ShulianNode`: what the signature is over.
    #[serde(rename = "type")]
    kind: &'static str,
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
    /// The node's Data Integrity proof over the rest (eddsa-jcs-2022).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    proof: Option<serde_json::Value>,
}

/// The `type` of a node's signed description.
pub const NODE_DESCRIPTION_TYPE: &str = "ShulianNode";

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
    /// The catalog's change feed.
    changes: String,
}

/// Describes the node.
#[utoipa::path(get, path = "/.well-known/shulian-node", tag = "node",
    responses((status = 200, body = NodeDescription)))]
pub async fn describe(State(ctx): State<Context>) -> Result<Json<serde_json::Value>, AppError> {
    let public = ctx.node.key.public();
    let api = format!("{}/api/v1", ctx.node.public_url);
    let sharing = format!("{}{SHARING_PATH}", ctx.node.public_url);
    let description = NodeDescription {
        kind: NODE_DESCRIPTION_TYPE,
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
            changes: format!("{api}/changes"),
            api,
        },
        proof: None,
    };
    let unsigned = serde_json::to_value(description).map_err(anyhow::Error::from)?;
    let signed = sign_document(unsigned, &ctx.node.key, Utc::now()).map_err(anyhow::Error::from)?;
    Ok(Json(signed))
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
