//! DOIP over HTTP, in the form of the "DOIP API for HTTP Clients" (as Cordra serves it):
//! `GET` or `POST /doip?operationId=…&targetId=…`, the operation's attributes as
//! `attributes=<JSON>` or, for the common ones, as their own parameters (`element`,
//! `query`, `pageNum`, `pageSize`), or as a `POST`ed JSON object. The answer is the DOIP
//! response's first segment as JSON; a retrieved element is the file's bytes.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::extract::ApiQuery;
use crate::domain::doip::{DoipRequest, DoipStatus};
use crate::error::AppError;
use crate::service::Context;
use crate::service::doip::perform;

/// The request, as query parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DoipQuery {
    operation_id: String,
    target_id: String,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    /// The attributes as a JSON object.
    #[serde(default)]
    attributes: Option<String>,
    #[serde(default)]
    element: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    page_num: Option<u32>,
    #[serde(default)]
    page_size: Option<u32>,
}

/// Performs a DOIP operation asked over HTTP.
pub async fn operate(
    State(ctx): State<Context>,
    ApiQuery(query): ApiQuery<DoipQuery>,
    body: Bytes,
) -> Result<Response, AppError> {
    let mut attributes: Map<String, Value> = match &query.attributes {
        Some(text) => serde_json::from_str(text)
            .map_err(|error| AppError::InvalidRequest(format!("attributes: a JSON object ({error})")))?,
        None => Map::new(),
    };
    if !body.is_empty() {
        let posted: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|error| AppError::InvalidRequest(format!("body: a JSON object of attributes ({error})")))?;
        attributes.extend(posted);
    }
    let shortcuts = [
        ("element", query.element.map(Value::from)),
        ("query", query.query.map(Value::from)),
        ("pageNum", query.page_num.map(Value::from)),
        ("pageSize", query.page_size.map(Value::from)),
    ];
    for (name, value) in shortcuts {
        if let Some(value) = value {
            attributes.insert(name.to_owned(), value);
        }
    }
    let request = DoipRequest {
        request_id: query.request_id,
        client_id: query.client_id,
        target_id: query.target_id,
        operation_id: query.operation_id,
        attributes,
    };
    let answer = perform(&ctx, request, None).await;
    if let Some(element) = answer.element {
        let mut response = Body::from_stream(element.bytes).into_response();
        let headers = response.headers_mut();
        if let Ok(media_type) = HeaderValue::from_str(element.media_type.as_str()) {
            headers.insert(header::CONTENT_TYPE, media_type);
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(element.size));
        return Ok(response);
    }
    let status = match answer.response.status {
        DoipStatus::Success => StatusCode::OK,
        DoipStatus::Invalid | DoipStatus::UnknownOperation => StatusCode::BAD_REQUEST,
        DoipStatus::Unauthorized => StatusCode::FORBIDDEN,
        DoipStatus::UnknownObject => StatusCode::NOT_FOUND,
        DoipStatus::Error => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Ok((status, Json(answer.response)).into_response())
}
