//! Ordering licensed data.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::error::AppError;
use crate::service::Context;
use crate::service::orders::{self, Acknowledged, Decision, OrderPlaced, OrderStatus, OrderView, ReceiptView};

use super::extract::{ApiBytes, ApiJson, ApiPath, AuthenticatedPublisher};

/// Places a signed order (an `eddsa-jcs-2022`-signed `ShulianOrder` document).
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body(content = Object, description = "the buyer-signed order document", content_type = "application/json"),
    responses((status = 201, body = OrderPlaced, description = "recorded; agreed at once when the offer says so"),
              (status = 400, description = "malformed JSON or an invalid signature"),
              (status = 404, description = "no such dataset version"),
              (status = 409, description = "the nonce was used before"),
              (status = 422, description = "the order does not fit this node, version or offer, or is stale")))]
pub async fn place(
    State(ctx): State<Context>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<OrderPlaced>), AppError> {
    Ok((StatusCode::CREATED, Json(orders::place_order(&ctx, &body).await?)))
}

/// Where an order stands (state, validity, deliveries) with the signed order and, once
/// agreed, the node's agreement: how a buyer learns of a publisher's decision.
#[utoipa::path(get, path = "/api/v1/orders/{order}", tag = "orders",
    params(("order" = String, Path, description = "order id")),
    security(("order_token" = []), ("publisher_token" = [])),
    responses((status = 200, body = OrderStatus),
              (status = 401, description = "missing or invalid token"),
              (status = 403, description = "the token belongs to another order or publisher"),
              (status = 404, description = "no such order")))]
pub async fn order_status(
    State(ctx): State<Context>,
    ApiPath(order): ApiPath<String>,
    headers: axum::http::HeaderMap,
) -> Result<Json<OrderStatus>, AppError> {
    let token = super::extract::bearer(&headers).ok_or(AppError::Unauthorized)?;
    Ok(Json(orders::order_status(&ctx, &order, token).await?))
}

/// The signed receipts of an order's completed deliveries (its order token, or its publisher's token).
#[utoipa::path(get, path = "/api/v1/orders/{order}/receipts", tag = "orders",
    params(("order" = String, Path, description = "order id")),
    security(("order_token" = []), ("publisher_token" = [])),
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

/// The orders of the calling publisher's datasets, with download counts.
#[utoipa::path(get, path = "/api/v1/publisher/orders", tag = "orders",
    security(("publisher_token" = [])),
    responses((status = 200, body = Vec<OrderView>), (status = 401, description = "missing or invalid token")))]
pub async fn publisher_orders(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
) -> Result<Json<Vec<OrderView>>, AppError> {
    Ok(Json(orders::publisher_orders(&ctx, &publisher).await?))
}

/// The publisher agrees to or refuses a `REQUESTED` order; answers the signed agreement or rejection.
#[utoipa::path(post, path = "/api/v1/orders/{order}/decision", tag = "orders",
    params(("order" = String, Path, description = "order id")),
    request_body = Decision,
    security(("publisher_token" = [])),
    responses((status = 200, description = "the signed agreement or rejection", body = Object),
              (status = 403, description = "another publisher's order"),
              (status = 404, description = "no such order"),
              (status = 409, description = "the order is not REQUESTED")))]
pub async fn decide(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(order): ApiPath<String>,
    ApiJson(decision): ApiJson<Decision>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(orders::decide(&ctx, &publisher, &order, decision).await?))
}

/// Why an agreement is revoked.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Shown to the buyer and logged.
    #[serde(default)]
    reason: Option<String>,
}

/// The publisher revokes an agreement; its token stops working, earlier receipts stay valid.
#[utoipa::path(post, path = "/api/v1/orders/{order}/revocation", tag = "orders",
    params(("order" = String, Path, description = "order id")),
    request_body = Revocation,
    security(("publisher_token" = [])),
    responses((status = 200, description = "the signed revocation", body = Object),
              (status = 403, description = "another publisher's order"),
              (status = 404, description = "no such order"),
              (status = 409, description = "the order is not AGREED")))]
pub async fn revoke(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(order): ApiPath<String>,
    ApiJson(revocation): ApiJson<Revocation>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(orders::revoke(&ctx, &publisher, &order, revocation.reason).await?))
}

/// The buyer acknowledges a receipt with a signed `ShulianReceiptAcknowledgement`, once: it is logged.
#[utoipa::path(post, path = "/api/v1/orders/{order}/acknowledgements", tag = "orders",
    params(("order" = String, Path, description = "order id")),
    request_body(content = Object, description = "the buyer-signed acknowledgement (at most 64 KiB)", content_type = "application/json"),
    security(("order_token" = [])),
    responses((status = 201, body = Acknowledged, description = "logged"),
              (status = 200, body = Acknowledged, description = "the receipt was acknowledged before: the earlier entry, nothing logged"),
              (status = 400, description = "malformed, or not signed by the order's buyer"),
              (status = 401, description = "missing or invalid order token"),
              (status = 403, description = "the token belongs to another order"),
              (status = 404, description = "no such order or receipt"),
              (status = 413, description = "larger than a signed document may be")))]
pub async fn acknowledge(
    State(ctx): State<Context>,
    ApiPath(order): ApiPath<String>,
    headers: axum::http::HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Acknowledged>), AppError> {
    let token = super::extract::bearer(&headers).ok_or(AppError::Unauthorized)?;
    let acknowledged = orders::acknowledge(&ctx, &order, token, &body).await?;
    let status = if acknowledged.logged_now {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(acknowledged)))
}
