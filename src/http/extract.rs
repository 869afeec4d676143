//! Extractors that turn every malformed request into a problem+json 4xx.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::domain::{PublisherId, ReadSessionId};
use crate::error::AppError;
use crate::service::{Context, accounts};

/// `axum::Json` whose rejections are problem+json.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let limit = request.extensions().get::<BodyLimit>().copied();
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| Self(value))
            .map_err(|rejection| body_rejection(rejection.status(), rejection.body_text(), limit))
    }
}

/// A request body as bytes, whose rejections are problem+json.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        let limit = request.extensions().get::<BodyLimit>().copied();
        axum::body::Bytes::from_request(request, state)
            .await
            .map(Self)
            .map_err(|rejection| body_rejection(rejection.status(), rejection.body_text(), limit))
    }
}

/// The body size a group of routes accepts, set beside axum's `DefaultBodyLimit` so that a
/// body over it is answered as the node's one `payload-too-large` problem, with the limit.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

fn body_rejection(status: StatusCode, text: String, limit: Option<BodyLimit>) -> AppError {
    match limit {
        Some(BodyLimit(limit)) if status == StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge { limit: limit as u64 },
        _ => AppError::InvalidRequest(text),
    }
}

/// `axum::extract::Query` whose rejections are problem+json, and which refuses
/// query strings that are not UTF-8 once decoded (instead of silently replacing bytes).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let raw = parts.uri.query().unwrap_or_default().replace('+', " ");
        if percent_encoding::percent_decode_str(&raw).decode_utf8().is_err() {
            return Err(AppError::InvalidRequest("the query string is not UTF-8".into()));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| AppError::InvalidRequest(rejection.body_text()))
    }
}

/// `axum::extract::Path` whose rejections (bad ids, bad UTF-8) are problem+json.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| AppError::InvalidRequest(rejection.body_text()))
    }
}

/// The bearer token of a request's `Authorization` header, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The publisher a request's `Authorization: Bearer` token authenticates.
pub struct AuthenticatedPublisher(pub PublisherId);

impl FromRequestParts<Context> for AuthenticatedPublisher {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self, AppError> {
        let token = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
        accounts::authenticate_publisher(ctx.store.as_ref(), token)
            .await
            .map(Self)
    }
}

/// Names the read session of a licensed download or preview, in requests and responses.
pub const READ_SESSION: &str = "shulian-read-session";

/// The read session a request names, if any.
pub fn read_session(headers: &axum::http::HeaderMap) -> Result<Option<ReadSessionId>, AppError> {
    headers
        .get(READ_SESSION)
        .map(|value| {
            value.to_str().ok().and_then(|text| text.parse().ok()).ok_or_else(|| {
                AppError::InvalidRequest("Shulian-Read-Session: 1 to 64 ASCII letters, digits, '-' or '_'".into())
            })
        })
        .transpose()
}
