//! Extractors that turn every malformed request into a problem+json 4xx.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
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
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The publisher console's cookie, holding the signed-in publisher's token. Its path is
/// the console's, so the API proper never receives it.
pub const CONSOLE_COOKIE: &str = "shulian_publisher";

/// The header a console page's script sends its session's form token in.
pub const FORM_TOKEN_HEADER: &str = "shulian-form-token";

/// The publisher token the request's console cookie holds, if any.
pub fn console_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(CONSOLE_COOKIE)?.strip_prefix('='))
        .filter(|token| !token.is_empty())
}

/// Whether a console request comes from the node's own pages, as far as the browser says:
/// an `Origin` (browsers send one with every form post and script upload) must be the
/// node's public origin or the origin the request was addressed to. The session's form
/// token decides the rest.
pub fn same_origin(public_url: &str, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let public = url::Url::parse(public_url)
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    let addressed = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|host| origin.split_once("://").is_some_and(|(_, authority)| authority == host));
    origin == public || addressed
}

/// The publisher a request authenticates: by its `Authorization: Bearer` token or, from
/// the console's own pages (`/console/api/…`), by the console's session cookie together
/// with that session's form token in [`FORM_TOKEN_HEADER`], which no other site's page can
/// send (it can neither read the token nor send the header without the CORS approval the
/// node never gives).
pub struct AuthenticatedPublisher(pub PublisherId);

impl FromRequestParts<Context> for AuthenticatedPublisher {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self, AppError> {
        let headers = &parts.headers;
        let token = match (bearer(headers), console_token(headers)) {
            (Some(token), _) => token,
            (None, Some(token)) => {
                let form_token = headers
                    .get(FORM_TOKEN_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default();
                if !same_origin(&ctx.node.public_url, headers) || !accounts::form_token_matches(token, form_token) {
                    return Err(AppError::Forbidden(
                        "a console request must come from this node's pages with its session's form token".into(),
                    ));
                }
                token
            }
            (None, None) => return Err(AppError::Unauthorized),
        };
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
