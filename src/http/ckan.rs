//! The CKAN Action API under `/api/3/action/{name}` and `/api/action/{name}`.
//!
//! Actions take their parameters from the query string (GET) or a JSON or
//! form body (POST, as `ckanapi` sends them) and answer CKAN's envelope
//! `{"help","success","result"}` or `{"help","success":false,"error":{"__type","message"}}`.
//! These URLs never redirect: CKAN clients do not follow redirects.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::service::Context;
use crate::service::ckan;

/// Runs one action.
pub async fn action(
    State(ctx): State<Context>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let help = format!("{}/api/3/action/help_show?name={name}", ctx.node.public_url);
    let answer = match parameters(&method, &uri, &headers, &body) {
        Ok(params) => ckan::call(&ctx, &name, &params).await,
        Err(message) => Err(ckan::ActionError {
            kind: "Validation Error",
            message,
            status: 400,
            cause: None,
        }),
    };
    match answer {
        Ok(result) => Json(json!({"help": help, "success": true, "result": result})).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = if status.is_server_error() {
                if let Some(cause) = error.cause {
                    // Logged once, by the one error renderer.
                    let _ = cause.into_response();
                }
                "the node failed to handle this request; the failure is logged".to_owned()
            } else {
                error.message
            };
            let body = json!({"help": help, "success": false, "error": {"__type": error.kind, "message": message}});
            (status, Json(body)).into_response()
        }
    }
}

/// An action's parameters as one JSON object.
fn parameters(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, String> {
    let form = |text: &[u8]| -> Map<String, Value> {
        url::form_urlencoded::parse(text)
            .map(|(key, value)| (key.into_owned(), Value::String(value.into_owned())))
            .collect()
    };
    let mut params = form(uri.query().unwrap_or_default().as_bytes());
    if *method == Method::POST && !body.is_empty() {
        let json_body = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_none_or(|value| value.starts_with("application/json"));
        let posted = if json_body {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(object)) => object,
                Ok(_) => return Err("the body must be a JSON object".into()),
                Err(error) => return Err(format!("the body is not JSON: {error}")),
            }
        } else {
            form(body)
        };
        params.extend(posted);
    }
    Ok(params)
}
