//! `GET /api/handles/<prefix>/<suffix>`: the node's identifiers in the Handle.net
//! REST API's form. Its refusals are that API's bodies (`responseCode`, `handle`,
//! `message`), not problem documents: Handle System clients read those codes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use crate::error::AppError;
use crate::service::Context;
use crate::service::handles::{self, HandleRecord, Unresolved};

/// A handle that resolved to nothing, as the Handle.net REST API answers it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandleRefusal {
    /// `2` not a handle, `100` handle not found, `301` prefix not served here.
    response_code: u32,
    /// The handle asked for.
    handle: String,
    /// What went wrong.
    message: String,
}

/// Resolves a dataset's or version's handle; a browser is sent (303) to the dataset's page.
#[utoipa::path(get, path = "/api/handles/{handle}", tag = "node",
    params(("handle" = String, Path, description = "`<prefix>/<dataset>[@<version>]`, the slash unescaped")),
    responses(
        (status = 200, body = HandleRecord, description = "the record (Handle.net REST API form)"),
        (status = 303, description = "a browser: to the dataset's page"),
        (status = 400, body = HandleRefusal, content_type = "application/json",
            description = "not a handle (`responseCode` 2), or another node's prefix (301)"),
        (status = 404, body = HandleRefusal, content_type = "application/json",
            description = "no such dataset or version under this node's prefix (`responseCode` 100)")))]
pub async fn resolve(
    State(ctx): State<Context>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (status, response_code, handle, message) = match handles::resolve(&ctx, &handle).await? {
        Ok(record) => {
            if let Some(url) = record.url().filter(|_| super::wants_html(&headers)) {
                return Ok(Redirect::to(url).into_response());
            }
            let mut response = Json(record).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("public, max-age=60"),
            );
            return Ok(response);
        }
        Err(Unresolved::Syntax(error)) => (StatusCode::BAD_REQUEST, 2, handle, error.to_string()),
        Err(Unresolved::PrefixElsewhere(handle)) => (
            StatusCode::BAD_REQUEST,
            301,
            handle.to_string(),
            "That prefix doesn't live here".to_owned(),
        ),
        Err(Unresolved::NotFound(handle)) => (
            StatusCode::NOT_FOUND,
            100,
            handle.to_string(),
            "Handle Not Found".to_owned(),
        ),
    };
    let refusal = HandleRefusal {
        response_code,
        handle,
        message,
    };
    Ok((status, Json(refusal)).into_response())
}
