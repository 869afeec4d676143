//! Ordering licensed data.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use crate::error::AppError;
use crate::service::Context;
use crate::service::orders::{self, OrderPlaced, ReceiptView};

use super::extract::ApiPath;

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

/// The signed receipts of an order's completed deliveries (order token required).
#[utoipa::path(get, path = "/api/v1/orders/{order}/receipts", tag = "orders",
    params(("order" = String, Path, description = "order id")),
    security(("order_token" = [])),
    responses((status = 200, body = Vec<ReceiptView>),
              (status = 401, description = "missing or invalid order token"),
              (status = 403, description = "the token belongs to another order")))]
pub async fn receipts(
    State(ctx): State<Context>,
    ApiPath(order): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Vec<ReceiptView>>, AppError> {
    let token = super::extract::bearer(&headers).ok_or(AppError::Unauthorized)?;
    Ok(Json(orders::receipts(&ctx, &order, token).await?))
}
