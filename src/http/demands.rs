//! The demand board: `/api/v1/demands` and its answers and decisions.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{ApiBytes, ApiPath, ApiQuery, AuthenticatedPublisher};
use crate::domain::demand::DemandKind;
use crate::error::AppError;
use crate::service::Context;
use crate::service::demands::{self, AnswerView, BoardQuery, DemandDetail, DemandPage, DemandView, PeerDemandView};

/// Where to read the board from.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardParams {
    /// The `nextCursor` of the page before.
    cursor: Option<String>,
    /// Demands per page, 1 to 50 (default 50).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<u32>,
    /// Only buyers' demands (`demand`) or only the operator's challenges (`challenge`).
    #[param(value_type = Option<String>)]
    kind: Option<DemandKind>,
    /// Words to search for, as the catalog's search takes them (Chinese, pinyin, English);
    /// the answer is then best match first and carries `total`.
    q: Option<String>,
}

/// The demand board (需求广场), newest first; or searched (`q`), best match first.
#[utoipa::path(get, path = "/api/v1/demands", tag = "demands", params(BoardParams),
    responses((status = 200, body = DemandPage), (status = 400, description = "bad cursor or limit")))]
pub async fn list_demands(
    State(ctx): State<Context>,
    ApiQuery(params): ApiQuery<BoardParams>,
) -> Result<Json<DemandPage>, AppError> {
    Ok(Json(
        demands::list(
            &ctx,
            BoardQuery {
                text: params.q.as_deref(),
                kind: params.kind,
                cursor: params.cursor.as_deref(),
                limit: params.limit,
            },
        )
        .await?,
    ))
}

/// The newest demands harvested from this node's peers (each verified under its poster's
/// signature); they are answered at the peer, at `url`.
#[utoipa::path(get, path = "/api/v1/peer-demands", tag = "demands",
    responses((status = 200, body = Vec<PeerDemandView>)))]
pub async fn peer_demands(State(ctx): State<Context>) -> Result<Json<Vec<PeerDemandView>>, AppError> {
    Ok(Json(demands::at_peers(&ctx).await?))
}

/// Posts a signed `ShulianDemand` (a challenge, `kind: challenge`, is signed with the node's key).
#[utoipa::path(post, path = "/api/v1/demands", tag = "demands",
    request_body(content = Object, description = "the poster-signed demand (at most 64 KiB)", content_type = "application/json"),
    responses((status = 201, body = DemandView, description = "posted and logged"),
              (status = 400, description = "malformed JSON or an invalid signature"),
              (status = 403, description = "a challenge not signed with the node's key"),
              (status = 409, description = "the poster used this nonce before"),
              (status = 422, description = "the demand does not fit this node, or is stale")))]
pub async fn post_demand(
    State(ctx): State<Context>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<DemandView>), AppError> {
    Ok((StatusCode::CREATED, Json(demands::post_demand(&ctx, &body).await?)))
}

/// A demand with its answers.
#[utoipa::path(get, path = "/api/v1/demands/{demand}", tag = "demands",
    params(("demand" = String, Path, description = "demand id")),
    responses((status = 200, body = DemandDetail), (status = 404, description = "no such demand")))]
pub async fn get_demand(
    State(ctx): State<Context>,
    ApiPath(demand): ApiPath<String>,
) -> Result<Json<DemandDetail>, AppError> {
    Ok(Json(demands::get(&ctx, &demand).await?))
}

/// A provider answers with one of its publisher's versions: a signed `ShulianDemandAnswer`.
#[utoipa::path(post, path = "/api/v1/demands/{demand}/answers", tag = "demands",
    params(("demand" = String, Path, description = "demand id")),
    request_body(content = Object, description = "the provider-signed answer", content_type = "application/json"),
    security(("publisher_token" = [])),
    responses((status = 201, body = AnswerView, description = "recorded and logged"),
              (status = 400, description = "malformed JSON or an invalid signature"),
              (status = 401, description = "missing or invalid token"),
              (status = 403, description = "another publisher's dataset"),
              (status = 404, description = "no such demand or version"),
              (status = 409, description = "the demand is closed, or the nonce was used before"),
              (status = 422, description = "over the budget, another demand or manifest, or stale")))]
pub async fn answer_demand(
    State(ctx): State<Context>,
    AuthenticatedPublisher(publisher): AuthenticatedPublisher,
    ApiPath(demand): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<AnswerView>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(demands::answer(&ctx, &publisher, &demand, &body).await?),
    ))
}

/// The poster accepts one answer or withdraws the demand: a signed `ShulianDemandAcceptance`
/// or `ShulianDemandWithdrawal`. An accepted answer of licensed data is then ordered with
/// `POST /api/v1/orders`, the order naming the demand and paying the answer's price.
#[utoipa::path(post, path = "/api/v1/demands/{demand}/decision", tag = "demands",
    params(("demand" = String, Path, description = "demand id")),
    request_body(content = Object, description = "the poster-signed decision", content_type = "application/json"),
    responses((status = 200, body = DemandView, description = "awarded, fulfilled (open data) or withdrawn"),
              (status = 400, description = "malformed JSON or an invalid signature"),
              (status = 403, description = "not the demand's poster"),
              (status = 404, description = "no such demand or answer"),
              (status = 409, description = "the demand is no longer open"),
              (status = 422, description = "another demand's answer, or stale")))]
pub async fn decide_demand(
    State(ctx): State<Context>,
    ApiPath(demand): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<Json<DemandView>, AppError> {
    Ok(Json(demands::decide(&ctx, &demand, &body).await?))
}
