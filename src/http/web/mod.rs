//! The web catalog: server-rendered pages (Simplified Chinese first, English
//! too) that read through the same services as the API. Everything works
//! without JavaScript, except what only a browser's own key can do: ordering licensed
//! data and following the orders placed (the market's script, signing with WebCrypto).
//!
//! Pages are `maud` templates compiled into the binary, which escape every
//! value they interpolate: a title of `<script>` renders as text.

mod board;
mod console;
mod i18n;
mod pages;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::domain::{DatasetId, PublisherId, VersionNumber};
use crate::error::AppError;
use crate::service::Context;
use i18n::Lang;

/// The stylesheet, compiled in.
const STYLE: &str = include_str!("style.css");
/// The pages' script, served as a file so the CSP needs no inline script.
const SCRIPT: &str = include_str!("copy.js");
/// Canonical JSON and eddsa-jcs-2022 signing with a WebCrypto key, for pages that sign
/// (a buyer's order), byte for byte as the node signs and verifies.
const SIGNING_SCRIPT: &str = include_str!("sign.js");
/// The buyer's side of the market: ordering from a dataset's page, and the orders page.
const MARKET_SCRIPT: &str = include_str!("market.js");
/// The publisher console's upload of a new version.
const CONSOLE_SCRIPT: &str = include_str!("console.js");

/// The pages' routes.
pub fn routes() -> Router<Context> {
    Router::new()
        .route("/", get(home))
        .route("/search", get(search))
        .route("/datasets/{dataset}", get(dataset))
        .route("/publishers/{publisher}", get(publisher))
        .route("/node", get(node))
        .route("/orders", get(orders))
        .merge(console::routes())
        .merge(board::routes())
        .route("/static/style.css", get(|| asset(STYLE, "text/css; charset=utf-8")))
        .route(
            "/static/copy.js",
            get(|| asset(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/static/sign.js",
            get(|| asset(SIGNING_SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/static/console.js",
            get(|| asset(CONSOLE_SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/static/market.js",
            get(|| asset(MARKET_SCRIPT, "text/javascript; charset=utf-8")),
        )
}

/// The language switch every page accepts.
#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// Renders a page; a failure becomes an HTML error page in the reader's language.
fn respond(ctx: &Context, lang: Lang, rendered: Result<maud::Markup, AppError>, chosen_by_query: bool) -> Response {
    let mut response = match rendered {
        Ok(page) => page.into_response(),
        Err(AppError::NotFound(_)) => (StatusCode::NOT_FOUND, pages::not_found(lang)).into_response(),
        Err(error) => {
            // The API's renderer logs internal failures once and gives the status.
            let status = error.into_response().status();
            (status, pages::failure(lang, status)).into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Language, Cookie"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if chosen_by_query {
        // `Secure` where the node is reached over https, so the choice never travels in clear.
        let secure = if ctx.node.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "lang={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
            lang_value(lang)
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    response
}

fn lang_value(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "zh",
        Lang::En => "en",
    }
}

async fn home(State(ctx): State<Context>, Query(query): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    respond(&ctx, lang, pages::home(&ctx, lang).await, query.lang.is_some())
}

/// Query of the search page: the API's filters, by the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchForm {
    q: Option<String>,
    access: Option<String>,
    publisher: Option<String>,
    license: Option<String>,
    format: Option<String>,
    keyword: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    lang: Option<String>,
}

async fn search(
    State(ctx): State<Context>,
    query: Result<Query<SearchForm>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let form = query.map(|Query(form)| form);
    let lang = Lang::choose(form.as_ref().ok().and_then(|f| f.lang.as_deref()), &headers);
    let rendered = match form {
        Ok(form) => pages::search(&ctx, lang, &form).await,
        Err(rejection) => Err(AppError::InvalidRequest(rejection.body_text())),
    };
    respond(&ctx, lang, rendered, false)
}

/// Query of the dataset page.
#[derive(Debug, Default, Deserialize)]
struct DatasetQuery {
    version: Option<u32>,
    lang: Option<String>,
}

async fn dataset(
    State(ctx): State<Context>,
    Path(dataset): Path<String>,
    Query(query): Query<DatasetQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let rendered = async {
        let dataset: DatasetId = dataset
            .parse()
            .map_err(|_| AppError::NotFound("no such dataset".into()))?;
        let version = query.version.map(VersionNumber::try_from).transpose()?;
        pages::dataset(&ctx, lang, &dataset, version).await
    }
    .await;
    respond(&ctx, lang, rendered, query.lang.is_some())
}

async fn publisher(
    State(ctx): State<Context>,
    Path(publisher): Path<String>,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let rendered = async {
        let publisher: PublisherId = publisher
            .parse()
            .map_err(|_| AppError::NotFound("no such publisher".into()))?;
        pages::publisher(&ctx, lang, &publisher).await
    }
    .await;
    respond(&ctx, lang, rendered, query.lang.is_some())
}

async fn node(State(ctx): State<Context>, Query(query): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    respond(&ctx, lang, pages::node(&ctx, lang).await, query.lang.is_some())
}

async fn orders(State(ctx): State<Context>, Query(query): Query<LangQuery>, headers: HeaderMap) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    respond(&ctx, lang, pages::orders(lang), query.lang.is_some())
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

/// The HTML 404 page, for unknown addresses a browser asks for.
pub fn not_found_page(headers: &HeaderMap) -> Response {
    let lang = Lang::choose(None, headers);
    (StatusCode::NOT_FOUND, pages::not_found(lang)).into_response()
}
