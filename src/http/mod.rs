//! The HTTP interface: routes, the middleware stack and the OpenAPI document.
//!
//! Handlers extract, call one service function and shape the response;
//! they never touch SQL, object paths or keys.

pub mod blobs;
pub mod ckan;
pub mod connections;
pub mod datasets;
pub mod demands;
pub mod doip;
pub mod extract;
pub mod files;
pub mod handles;
pub mod interop;
pub mod log;
pub mod node;
pub mod openapi;
pub mod orders;
pub mod rate;
pub mod sharing;
pub mod tables;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use extract::BodyLimit;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;

use self::openapi::{CommonResponses, ProblemDocument};
use crate::domain::{IdError, VersionNumber};
use crate::error::AppError;
use crate::service::Context;
use crate::service::sharing::SHARING_PATH;

/// Largest JSON body the API accepts; file bytes go through uploads instead.
const MAX_JSON_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Largest signed document (order, acknowledgement, decision, revocation, demand, answer) the API accepts.
pub const MAX_SIGNED_DOCUMENT_BYTES: usize = 64 * 1024;

/// The OpenAPI description of every route.
#[derive(OpenApi)]
#[openapi(
    info(title = "shulian node API", description = "Catalog, publishing and open downloads of a 数联网 node. Errors are RFC 9457 problem+json with a stable `type` per kind (`urn:shulian:problem:<kind>`)."),
    paths(
        node::describe, node::peers, node::peer_datasets, node::search_peer_datasets, node::healthz, node::readyz, handles::resolve,
        datasets::list, datasets::changes, datasets::get, datasets::get_version, datasets::get_manifest, datasets::publish,
        files::download, tables::schema, tables::preview, blobs::upload, blobs::probe, blobs::compose,
        interop::catalog, interop::peer_catalog, interop::dataset, interop::datapackage,
        log::checkpoint, log::entries, log::inclusion, log::consistency, log::tile, log::add_checkpoint, log::conflicts,
        orders::place, orders::order_status, orders::receipts, orders::publisher_orders, orders::decide, orders::revoke,
        orders::acknowledge,
        demands::list_demands, demands::post_demand, demands::get_demand, demands::answer_demand, demands::decide_demand,
        demands::peer_demands,
    ),
    components(schemas(ProblemDocument)),
    modifiers(&PublisherTokenScheme, &CommonResponses),
)]
pub struct ApiDoc;

struct PublisherTokenScheme;

impl utoipa::Modify for PublisherTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        for scheme in ["publisher_token", "order_token"] {
            components.add_security_scheme(
                scheme,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// Builds the whole router over a service context.
pub fn router(ctx: Context, request_timeout: Duration, writes: Option<Arc<rate::WriteLimiter>>) -> Router {
    let limit_writes = || axum::middleware::from_fn_with_state(writes.clone(), rate::limit_writes);
    let api = Router::new()
        .route("/.well-known/shulian-node", get(node::describe))
        .route("/api/v1/peers", get(node::peers))
        .route("/api/v1/peer-datasets", get(node::peer_datasets))
        .route("/api/v1/peer-datasets/search", get(node::search_peer_datasets))
        .route("/api/handles/{*handle}", get(handles::resolve))
        .route("/readyz", get(node::readyz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/datasets", get(datasets::list))
        .route("/api/v1/changes", get(datasets::changes))
        .route("/api/v1/datasets/{dataset}", get(datasets::get))
        .route(
            "/api/v1/datasets/{dataset}/versions/{version}",
            get(datasets::get_version),
        )
        .route(
            "/api/v1/datasets/{dataset}/versions/{version}/manifest",
            get(datasets::get_manifest),
        )
        .route("/api/v1/orders/{order}", get(orders::order_status))
        .route("/api/v1/orders/{order}/receipts", get(orders::receipts))
        .route("/api/v1/demands/{demand}", get(demands::get_demand))
        .route("/api/v1/publisher/orders", get(orders::publisher_orders))
        .route("/api/v1/log/checkpoint", get(log::checkpoint))
        // The same log in the C2SP tlog-tiles layout, for tile clients, monitors and caches.
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/tile/{*tile}", get(log::tile))
        .route("/api/v1/log/entries", get(log::entries))
        .route("/api/v1/log/proof/inclusion", get(log::inclusion))
        .route("/api/v1/log/proof/consistency", get(log::consistency))
        .route("/api/v1/witness/conflicts", get(log::conflicts))
        .nest(SHARING_PATH, sharing::routes())
        .merge(web::routes())
        .route("/api/3/action/{name}", get(ckan::action).post(ckan::action))
        .route("/doip", get(doip::operate).post(doip::operate))
        .route("/catalog.jsonld", get(interop::catalog))
        .route("/peers/catalog.jsonld", get(interop::peer_catalog))
        .route("/api/v1/datasets/{dataset}/dcat.jsonld", get(interop::dataset))
        .route(
            "/api/v1/datasets/{dataset}/versions/{version}/datapackage.json",
            get(interop::datapackage),
        )
        .route("/api/action/{name}", get(ckan::action).post(ckan::action))
        .layer(body_limit(MAX_JSON_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(request_timeout, time_limit));
    // Signed documents are small; the log keeps them forever, so their size is bounded tightly.
    let signed_documents = Router::new()
        .route("/api/v1/orders", axum::routing::post(orders::place))
        .route(
            "/api/v1/orders/{order}/acknowledgements",
            axum::routing::post(orders::acknowledge),
        )
        .route("/api/v1/orders/{order}/decision", axum::routing::post(orders::decide))
        .route("/api/v1/orders/{order}/revocation", axum::routing::post(orders::revoke))
        // A peer's checkpoint for this node to witness (C2SP tlog-witness), as small.
        .route("/witness/add-checkpoint", axum::routing::post(log::add_checkpoint))
        .route("/api/v1/demands", get(demands::list_demands).post(demands::post_demand))
        .route("/api/v1/peer-demands", get(demands::peer_demands))
        .route(
            "/api/v1/demands/{demand}/answers",
            axum::routing::post(demands::answer_demand),
        )
        // The same, for the publisher console's script (its session cookie is scoped to /console).
        .route(
            "/console/api/v1/demands/{demand}/answers",
            axum::routing::post(demands::answer_demand),
        )
        .route(
            "/api/v1/demands/{demand}/decision",
            axum::routing::post(demands::decide_demand),
        )
        .layer(body_limit(MAX_SIGNED_DOCUMENT_BYTES))
        .layer(axum::middleware::from_fn_with_state(request_timeout, time_limit))
        .layer(limit_writes());
    // Publishing inspects every table it lists (bounded per file by `table_inspect_secs`), which a
    // large CSV may take longer than an API request is allowed.
    let publishing = Router::new()
        .route(
            "/api/v1/datasets/{dataset}/versions",
            axum::routing::post(datasets::publish),
        )
        // Joining uploaded parts reads them all, which takes as long as the bytes flow.
        .route(
            "/api/v1/blobs/{sha256}/composition",
            axum::routing::post(blobs::compose),
        )
        // The same, for the publisher console's script (its session cookie is scoped to /console).
        .route(
            "/console/api/v1/datasets/{dataset}/versions",
            axum::routing::post(datasets::publish),
        )
        .route(
            "/console/api/v1/blobs/{sha256}/composition",
            axum::routing::post(blobs::compose),
        )
        .layer(body_limit(MAX_JSON_BODY_BYTES))
        .layer(limit_writes());
    // Transfers run as long as the bytes flow; their size is bounded by the upload limit instead.
    let uploads = Router::new()
        .route("/api/v1/blobs/{sha256}", put(blobs::upload).head(blobs::probe))
        .route("/console/api/v1/blobs/{sha256}", put(blobs::upload).head(blobs::probe))
        .layer(DefaultBodyLimit::disable())
        .layer(limit_writes());
    let transfers = Router::new()
        .route(
            "/api/v1/datasets/{dataset}/versions/{version}/files/{*name}",
            get(files::file_or_table_view),
        )
        .route(&format!("{SHARING_PATH}/files/{{ticket}}"), get(sharing::ticketed_file))
        .layer(DefaultBodyLimit::disable());
    let request_id = HeaderName::from_static("x-request-id");
    let traced = api
        .merge(signed_documents)
        .merge(publishing)
        .merge(uploads)
        .merge(transfers)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO))
                        // The response line carries the status, and an internal error is logged
                        // once where it becomes a response; a 503 from a replica still building
                        // its index is no failure worth an error line.
                        .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn(security_headers))
                .layer(cross_origin())
                .layer(CatchPanicLayer::custom(panic_response)),
        );
    // Probes stay out of the request log.
    Router::new()
        .route("/healthz", get(node::healthz))
        .merge(traced)
        .with_state(ctx)
}

/// The span of one request: method, route template and path, never the query (it may carry tokens).
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("unmatched");
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // A route with a secret in its path (ticketed file URLs are credentials for up to an hour)
    // is logged by its template only.
    let path = if route.contains("{ticket}") {
        route
    } else {
        request.uri().path()
    };
    tracing::info_span!("request", method = %request.method(), route, path, request_id)
}

/// What every response may load, run and be framed by: the node's own styles and
/// script files only, no inline script, no framing, no plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the browser-facing security headers to every response (a handler's own
/// `Referrer-Policy`, such as licensed downloads' `no-referrer`, stays).
async fn security_headers(request: Request, next: axum::middleware::Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    response
}

/// Lets pages and tools on other origins (DuckDB-WASM, notebooks, other portals) read the
/// node: every answer is public or unlocked by a bearer token the caller itself presents,
/// never by cookies, so any origin may read it without credentials mode.
fn cross_origin() -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    use tower_http::cors::{Any, CorsLayer};
    let name = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::RANGE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::IF_RANGE,
            name("shulian-read-session"),
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            header::CONTENT_LENGTH,
            header::ETAG,
            header::LAST_MODIFIED,
            header::ACCEPT_RANGES,
            header::RETRY_AFTER,
            name("repr-digest"),
            name("shulian-read-session"),
            name("delta-table-version"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Bounds the bodies of a group of routes, and lets the extractors name the bound in their 413s.
fn body_limit(bytes: usize) -> tower::layer::util::Stack<axum::Extension<BodyLimit>, DefaultBodyLimit> {
    tower::layer::util::Stack::new(axum::Extension(BodyLimit(bytes)), DefaultBodyLimit::max(bytes))
}

/// Ends an API request that runs past its time limit with a problem+json 503.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout(limit.as_secs()).into_response(),
    }
}

async fn openapi() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], openapi_json())
}

/// Whether the request comes from a browser (it accepts HTML).
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Unknown addresses: an HTML page for browsers, a problem document for everyone else.
async fn no_route(headers: axum::http::HeaderMap) -> Response {
    if wants_html(&headers) {
        web::not_found_page(&headers)
    } else {
        AppError::NotFound("no such endpoint".into()).into_response()
    }
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

/// Parses a version path segment: a number, or `latest` for the newest.
fn version_ref(text: &str) -> Result<Option<VersionNumber>, IdError> {
    match text {
        "latest" => Ok(None),
        number => number.parse().map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    /// Collects what a subscriber writes, for tests that read the logs.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn ticketed_paths_never_reach_the_request_log() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route(&format!("{SHARING_PATH}/files/{{ticket}}"), get(|| async { "bytes" }))
            .route("/api/v1/datasets/{dataset}", get(|| async { "dataset" }))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            );
        for uri in [
            format!("{SHARING_PATH}/files/eyJzZWNyZXQiOiJ0aWNrZXQifQ.c2lnbmF0dXJl"),
            "/api/v1/datasets/traffic?token=sho_secret".to_owned(),
        ] {
            let request = Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .expect("request");
            assert_eq!(app.clone().oneshot(request).await.expect("response").status(), 200);
        }
        let logged = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
        assert!(logged.contains("/delta-sharing/files/{ticket}"), "{logged}");
        assert!(logged.contains("/api/v1/datasets/traffic"), "{logged}");
        assert!(
            !logged.contains("eyJzZWNyZXQi") && !logged.contains("c2lnbmF0dXJl"),
            "{logged}"
        );
        assert!(!logged.contains("sho_secret"), "{logged}");
    }

    #[tokio::test]
    async fn requests_past_the_time_limit_end_in_a_503_problem() {
        let slow = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(10),
                time_limit,
            ));
        let request = Request::builder()
            .uri("/slow")
            .body(axum::body::Body::empty())
            .expect("request");
        let response = slow.oneshot(request).await.expect("response");
        assert_eq!(response.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let body = axum::body::to_bytes(response.into_body(), 10_000).await.expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["type"], "urn:shulian:problem:timeout");
    }
}
