//! Uploading file bytes ahead of a publish: `PUT` and `HEAD /api/v1/blobs/{sha256}`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::extract::{ApiJson, ApiPath, AuthenticatedPublisher};
use crate::domain::Sha256Digest;
use crate::error::AppError;
use crate::service::Context;
use crate::service::uploads::{self, UploadOutcome};

/// The reply to an upload.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadReply {
    /// The digest the bytes are stored under.
    sha256: String,
    /// Whether this request stored them (`false`: the node already held them).
    stored: bool,
}

/// Uploads bytes that must hash to `sha256`.
#[utoipa::path(put, path = "/api/v1/blobs/{sha256}", tag = "publishing",
    params(("sha256" = String, Path, description = "SHA-256 of the body, 64 lowercase hex digits")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("publisher_token" = [])),
    responses((status = 201, body = UploadReply, description = "stored"),
              (status = 200, body = UploadReply, description = "already held; the body hashed to the digest, which proves this publisher holds it"),
              (status = 401, description = "missing or invalid token"),
              (status = 413, description = "larger than the node accepts"),
              (status = 422, description = "the body does not hash to the digest")))]
pub async fn upload(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(digest): ApiPath<Sha256Digest>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let outcome = uploads::upload_blob(&ctx, &publisher, digest, declared_length, body.into_data_stream()).await?;
    Ok(reply(digest, outcome))
}

/// Tells a publisher whether it already uploaded these bytes (and their size).
#[utoipa::path(head, path = "/api/v1/blobs/{sha256}", tag = "publishing",
    params(("sha256" = String, Path, description = "SHA-256, 64 lowercase hex digits")),
    security(("publisher_token" = [])),
    responses((status = 200, description = "held; Content-Length is its size"),
              (status = 401, description = "missing or invalid token"),
              (status = 404, description = "this publisher has not uploaded these bytes")))]
pub async fn probe(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(digest): ApiPath<Sha256Digest>,
) -> Result<Response, AppError> {
    let size = uploads::held_blob_size(&ctx, &publisher, &digest)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("blob {digest} is not held")))?;
    Ok(([(header::CONTENT_LENGTH, HeaderValue::from(size))], ()).into_response())
}

/// The parts a blob is joined from.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Composition {
    /// The parts' SHA-256 digests in order, each uploaded by this publisher (1 to 10,000).
    #[schema(value_type = Vec<String>)]
    parts: Vec<Sha256Digest>,
}

/// Joins uploaded parts, in order, into the blob `sha256`: how a large file is sent in
/// parts, each an upload of its own, so an interrupted upload resumes with the parts the
/// node lacks (`HEAD` tells which it holds).
#[utoipa::path(post, path = "/api/v1/blobs/{sha256}/composition", tag = "publishing",
    params(("sha256" = String, Path, description = "SHA-256 of the joined bytes, 64 lowercase hex digits")),
    request_body = Composition,
    security(("publisher_token" = [])),
    responses((status = 201, body = UploadReply, description = "joined and stored"),
              (status = 200, body = UploadReply, description = "already held; the parts joined to the digest"),
              (status = 400, description = "no parts, or too many"),
              (status = 401, description = "missing or invalid token"),
              (status = 413, description = "larger than the node accepts"),
              (status = 422, description = "a part this publisher has not uploaded, or the parts do not join to the digest")))]
pub async fn compose(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(digest): ApiPath<Sha256Digest>,
    ApiJson(composition): ApiJson<Composition>,
) -> Result<Response, AppError> {
    let outcome = uploads::compose_blob(&ctx, &publisher, digest, &composition.parts).await?;
    Ok(reply(digest, outcome))
}

/// The answer to a stored (201) or already held (200) blob.
fn reply(digest: Sha256Digest, outcome: UploadOutcome) -> Response {
    let (status, stored) = match outcome {
        UploadOutcome::Stored => (StatusCode::CREATED, true),
        UploadOutcome::AlreadyPresent => (StatusCode::OK, false),
    };
    let reply = UploadReply {
        sha256: digest.to_string(),
        stored,
    };
    (status, Json(reply)).into_response()
}
