//! Ordering licensed data.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use crate::error::AppError;
use crate::service::Context;
use crate::service::orders::{self, OrderPlaced};

/// Places a signed order (an `eddsa-jcs-2022`-signed `ShulianOrder` document).
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body(content = Object, description = "the buyer-signed order document", content_type = "application/json"),
    responses((status = 201, body = OrderPlaced, description = "recorded; agreed at once when the offer says so"),
              (status = 400, description = "malformed JSON or an invalid signature"),
              (status = 404, description = "no such dataset version"),
              (status = 409, description = "the nonce was used before"),
              (status = 422, description = "the order does not fit this node, version or offer, or is stale")))]
pub async fn place(State(ctx): State<Context>, body: Bytes) -> Result<(StatusCode, Json<OrderPlaced>), AppError> {
    Ok((StatusCode::CREATED, Json(orders::place_order(&ctx, &body).await?)))
}
