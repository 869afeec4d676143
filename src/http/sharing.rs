//! The Delta Sharing REST protocol under `/delta-sharing` (see [`crate::service::sharing`]).
//!
//! Errors here take the protocol's form, `{"errorCode","message"}`, because
//! that is what its clients parse; lists are single-line JSON and table
//! answers newline-delimited JSON with a `Delta-Table-Version` header.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::bearer;
use super::files;
use crate::domain::VersionNumber;
use crate::error::AppError;
use crate::service::Context;
use crate::service::download::Credential;
use crate::service::sharing::{
    self, ChangeKind, OPEN_DATA_TOKEN, Recipient, SharedFile, TableAtVersion, TableChanges, TableVersion, TimeTravel,
};

/// The protocol's routes, relative to [`sharing::SHARING_PATH`].
pub fn routes() -> Router<Context> {
    Router::new()
        .route("/open.share", get(open_profile))
        .route("/shares", get(list_shares))
        .route("/shares/{share}", get(get_share))
        .route("/shares/{share}/schemas", get(list_schemas))
        .route("/shares/{share}/schemas/{schema}/tables", get(list_tables))
        .route("/shares/{share}/all-tables", get(list_all_tables))
        .route(
            "/shares/{share}/schemas/{schema}/tables/{table}/version",
            get(table_version),
        )
        .route(
            "/shares/{share}/schemas/{schema}/tables/{table}/metadata",
            get(table_metadata),
        )
        .route(
            "/shares/{share}/schemas/{schema}/tables/{table}/query",
            post(query_table),
        )
        .route(
            "/shares/{share}/schemas/{schema}/tables/{table}/changes",
            get(table_changes),
        )
        // Every answer under the prefix speaks the protocol, unknown paths and methods too.
        .fallback(|| async {
            SharingError(AppError::NotFound("no such Delta Sharing endpoint".into())).into_response()
        })
        .method_not_allowed_fallback(|| async { SharingError(AppError::MethodNotAllowed).into_response() })
}

/// An error in the protocol's JSON form.
pub struct SharingError(AppError);

impl<E: Into<AppError>> From<E> for SharingError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl IntoResponse for SharingError {
    fn into_response(self) -> Response {
        let message = self.0.to_string();
        // The problem response logs internal failures once and carries the status and headers.
        let (mut parts, _) = self.0.into_response().into_parts();
        let code = match parts.status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "INVALID_PARAMETER_VALUE",
            StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
            StatusCode::FORBIDDEN => "PERMISSION_DENIED",
            StatusCode::NOT_FOUND => "RESOURCE_DOES_NOT_EXIST",
            StatusCode::METHOD_NOT_ALLOWED => "INVALID_PARAMETER_VALUE",
            _ => "INTERNAL_ERROR",
        };
        let message = if parts.status.is_server_error() {
            "the node failed to handle this request; the failure is logged".to_owned()
        } else {
            message
        };
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        parts.headers.remove(header::CONTENT_LENGTH);
        let body = json!({"errorCode": code, "message": message}).to_string();
        Response::from_parts(parts, Body::from(body))
    }
}

type Answer = Result<Response, SharingError>;

/// The public profile that reads every open dataset.
async fn open_profile(State(ctx): State<Context>) -> Response {
    let mut response = Json(sharing::profile(&ctx, OPEN_DATA_TOKEN, None)).into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"open.share\""),
    );
    response
}

/// `maxResults` and `pageToken` of list requests.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    max_results: Option<i64>,
    page_token: Option<String>,
}

/// Most items in one list page.
const MAX_PAGE_ITEMS: usize = 1_000;

/// One page of `items`; the page token is the offset of the next page.
fn paged(items: Vec<Value>, page: &Page) -> Answer {
    let start = match page.page_token.as_deref() {
        None | Some("") => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| AppError::InvalidRequest("pageToken: not a token this server issued".into()))?,
    };
    let size = match page.max_results {
        None => MAX_PAGE_ITEMS,
        Some(max) if max >= 1 => usize::try_from(max).unwrap_or(MAX_PAGE_ITEMS).min(MAX_PAGE_ITEMS),
        Some(_) => return Err(AppError::InvalidRequest("maxResults: must be at least 1".into()).into()),
    };
    let end = start.saturating_add(size).min(items.len());
    let mut body = json!({"items": items.get(start..end).unwrap_or_default()});
    if end < items.len() {
        body["nextPageToken"] = json!(end.to_string());
    }
    Ok(Json(body).into_response())
}

async fn recipient(ctx: &Context, headers: &HeaderMap) -> Result<Recipient, SharingError> {
    Ok(sharing::recipient(ctx, bearer(headers)).await?)
}

async fn list_shares(
    State(ctx): State<Context>,
    headers: HeaderMap,
    page: Result<Query<Page>, QueryRejection>,
) -> Answer {
    let Query(page) = page.map_err(bad_query)?;
    let recipient = recipient(&ctx, &headers).await?;
    let shares = sharing::shares(&ctx, &recipient).await?;
    paged(shares.into_iter().map(|name| json!({"name": name})).collect(), &page)
}

async fn get_share(State(ctx): State<Context>, headers: HeaderMap, Path(share): Path<String>) -> Answer {
    let recipient = recipient(&ctx, &headers).await?;
    if !sharing::shares(&ctx, &recipient).await?.contains(&share) {
        return Err(AppError::NotFound(format!("no share {share}")).into());
    }
    Ok(Json(json!({"share": {"name": share}})).into_response())
}

async fn list_schemas(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path(share): Path<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Answer {
    let Query(page) = page.map_err(bad_query)?;
    let recipient = recipient(&ctx, &headers).await?;
    let schemas = sharing::schemas(&ctx, &recipient, &share).await?;
    paged(
        schemas
            .into_iter()
            .map(|name| json!({"name": name, "share": share}))
            .collect(),
        &page,
    )
}

async fn list_tables(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path((share, schema)): Path<(String, String)>,
    page: Result<Query<Page>, QueryRejection>,
) -> Answer {
    table_page(&ctx, &headers, &share, Some(&schema), page).await
}

async fn list_all_tables(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path(share): Path<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Answer {
    table_page(&ctx, &headers, &share, None, page).await
}

/// A page of the tables of one schema, or of the whole share.
async fn table_page(
    ctx: &Context,
    headers: &HeaderMap,
    share: &str,
    schema: Option<&str>,
    page: Result<Query<Page>, QueryRejection>,
) -> Answer {
    let Query(page) = page.map_err(bad_query)?;
    let recipient = recipient(ctx, headers).await?;
    let tables = sharing::tables(ctx, &recipient, share, schema).await?;
    paged(tables.into_iter().map(|table| json!(table)).collect(), &page)
}

fn bad_query(rejection: QueryRejection) -> SharingError {
    AppError::InvalidRequest(format!("query: {}", rejection.body_text())).into()
}

/// Options of a version request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionQuery {
    starting_timestamp: Option<String>,
}

async fn table_version(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path((share, schema, table)): Path<(String, String, String)>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(bad_query)?;
    let asked = match &query.starting_timestamp {
        Some(text) => TableVersion::At(TimeTravel::parse("startingTimestamp", text, TimeTravel::Since)?),
        None => TableVersion::Newest,
    };
    let recipient = recipient(&ctx, &headers).await?;
    let found = sharing::table(&ctx, &recipient, &share, &schema, &table, asked).await?;
    let mut response = StatusCode::OK.into_response();
    insert_version(&mut response, found.version);
    Ok(response)
}

/// The table version a metadata request asks for.
#[derive(Debug, Deserialize)]
struct MetadataQuery {
    version: Option<u32>,
}

async fn table_metadata(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path((share, schema, table)): Path<(String, String, String)>,
    query: Result<Query<MetadataQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(bad_query)?;
    let format = ResponseFormat::asked(&headers)?;
    let recipient = recipient(&ctx, &headers).await?;
    let asked = query.version.map_or(TableVersion::Newest, TableVersion::Number);
    let found = sharing::table(&ctx, &recipient, &share, &schema, &table, asked).await?;
    Ok(ndjson(
        found.version,
        format,
        vec![format.protocol_line(), format.metadata_line(&found)],
    ))
}

/// The body of a query request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryRequest {
    limit_hint: Option<i64>,
    version: Option<i64>,
    timestamp: Option<String>,
    starting_version: Option<i64>,
    ending_version: Option<i64>,
}

/// The table version a request names by number or by time (not both); `Newest` if neither.
fn version_asked(
    field: &str,
    number: Option<i64>,
    time: Option<&str>,
    wrap: fn(chrono::DateTime<chrono::Utc>) -> TimeTravel,
) -> Result<TableVersion, AppError> {
    match (number, time) {
        (Some(_), Some(_)) => Err(AppError::InvalidRequest(format!(
            "{field}: a version or a timestamp, not both"
        ))),
        (Some(number), None) => u32::try_from(number)
            .map(TableVersion::Number)
            .map_err(|_| AppError::InvalidRequest(format!("{field}: no version {number}"))),
        (None, Some(text)) => Ok(TableVersion::At(TimeTravel::parse(field, text, wrap)?)),
        (None, None) => Ok(TableVersion::Newest),
    }
}

async fn query_table(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path((share, schema, table)): Path<(String, String, String)>,
    body: Bytes,
) -> Answer {
    let request: QueryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        QueryRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| AppError::InvalidRequest(format!("query body: {error}")))?
    };
    let limit_hint = match request.limit_hint {
        Some(limit) if limit < 0 => {
            return Err(AppError::InvalidRequest("limitHint: must not be negative".into()).into());
        }
        other => other,
    };
    let asked = version_asked(
        "version",
        request.version,
        request.timestamp.as_deref(),
        TimeTravel::AsOf,
    )?;
    let format = ResponseFormat::asked(&headers)?;
    let recipient = recipient(&ctx, &headers).await?;
    // With a starting version the answer is the data change files since it, as `/changes` gives.
    if request.starting_version.is_some() || request.ending_version.is_some() {
        if !matches!(asked, TableVersion::Newest) {
            return Err(AppError::InvalidRequest("startingVersion, or version or timestamp, not both".into()).into());
        }
        let start = version_asked("startingVersion", request.starting_version, None, TimeTravel::Since)?;
        let end = version_asked("endingVersion", request.ending_version, None, TimeTravel::AsOf)?;
        let found = sharing::changes(&ctx, &recipient, &share, &schema, &table, start, end).await?;
        return change_lines(&ctx, &recipient, format, &found);
    }
    let found = sharing::table(&ctx, &recipient, &share, &schema, &table, asked).await?;
    let mut lines = vec![format.protocol_line(), format.metadata_line(&found)];
    // A table is one file: a hint of zero rows needs none, any other hint needs it whole.
    if limit_hint != Some(0) {
        let file = sharing::file_of(&ctx, &recipient, &found.dataset, found.version, &found.table)?;
        lines.push(format.file_line(found.version, found.published_at, None, &file));
    }
    Ok(ndjson(found.version, format, lines))
}

/// The query string of a change data feed request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangesQuery {
    starting_version: Option<i64>,
    starting_timestamp: Option<String>,
    ending_version: Option<i64>,
    ending_timestamp: Option<String>,
    /// Accepted and answered by the one metadata line: a range keeps one schema here.
    include_historical_metadata: Option<String>,
}

async fn table_changes(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Path((share, schema, table)): Path<(String, String, String)>,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query.map_err(bad_query)?;
    if let Some(flag) = &query.include_historical_metadata
        && !["true", "false"].contains(&flag.to_ascii_lowercase().as_str())
    {
        return Err(
            AppError::InvalidRequest(format!("includeHistoricalMetadata: {flag:?} is not true or false")).into(),
        );
    }
    let start = version_asked(
        "starting",
        query.starting_version,
        query.starting_timestamp.as_deref(),
        TimeTravel::Since,
    )?;
    let end = version_asked(
        "ending",
        query.ending_version,
        query.ending_timestamp.as_deref(),
        TimeTravel::AsOf,
    )?;
    let format = ResponseFormat::asked(&headers)?;
    let recipient = recipient(&ctx, &headers).await?;
    let found = sharing::changes(&ctx, &recipient, &share, &schema, &table, start, end).await?;
    change_lines(&ctx, &recipient, format, &found)
}

/// The answer listing a range's data change files, its first version in the header.
fn change_lines(ctx: &Context, recipient: &Recipient, format: ResponseFormat, found: &TableChanges) -> Answer {
    let mut metadata = format.metadata_line(&found.last);
    // The range keeps one schema: its metadata holds from the first version on, which is
    // where a delta-format reader's log of the range begins.
    metadata["metaData"]["version"] = json!(found.first.get());
    let mut lines = vec![format.protocol_line(), metadata];
    for change in &found.changes {
        let file = sharing::file_of(ctx, recipient, &found.last.dataset, change.file_version, &change.table)?;
        lines.push(format.file_line(change.version, change.published_at, Some(change.kind), &file));
    }
    Ok(ndjson(found.first, format, lines))
}

/// The response format a client asks for in its `delta-sharing-capabilities` header
/// (`responseformat=delta,parquet;readerfeatures=…`): parquet (the protocol's default)
/// whenever the client accepts it, since every table here is plain Parquet; delta when
/// that is all it reads (`load_as_pandas(use_delta_format=True)`, Delta Kernel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseFormat {
    Parquet,
    Delta,
}

impl ResponseFormat {
    fn asked(headers: &HeaderMap) -> Result<Self, SharingError> {
        let Some(value) = headers.get(CAPABILITIES) else {
            return Ok(Self::Parquet);
        };
        let text = value
            .to_str()
            .map_err(|_| AppError::InvalidRequest(format!("{CAPABILITIES}: not text")))?;
        let formats: Vec<String> = text
            .split(';')
            .filter_map(|part| part.split_once('='))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case("responseformat"))
            .flat_map(|(_, values)| values.split(',').map(|format| format.trim().to_ascii_lowercase()))
            .collect();
        if formats.is_empty() || formats.iter().any(|format| format == "parquet") {
            Ok(Self::Parquet)
        } else if formats.iter().any(|format| format == "delta") {
            Ok(Self::Delta)
        } else {
            Err(AppError::InvalidRequest(format!(
                "{CAPABILITIES}: responseformat is parquet or delta, not {text:?}"
            ))
            .into())
        }
    }

    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Parquet => "responseformat=parquet",
            Self::Delta => "responseformat=delta",
        })
    }

    fn protocol_line(self) -> Value {
        match self {
            Self::Parquet => json!({"protocol": {"minReaderVersion": 1}}),
            // Plain Parquet files, no reader features; writer version 4 is the first whose
            // tables may carry a change data feed.
            Self::Delta => json!({"protocol": {"deltaProtocol": {"minReaderVersion": 1, "minWriterVersion": 4}}}),
        }
    }

    fn metadata_line(self, found: &TableAtVersion) -> Value {
        let mut metadata = json!({
            "id": found.id,
            "format": {"provider": "parquet"},
            "schemaString": found.schema_string,
            "partitionColumns": [],
            // Every table's versions are served as a change data feed (`/changes`).
            "configuration": {"enableChangeDataFeed": "true"},
        });
        let sharing = json!({
            "version": found.version.get(),
            "size": found.table.file.size,
            "numFiles": 1,
        });
        match self {
            Self::Parquet => {
                merge(&mut metadata, sharing);
                json!({"metaData": metadata})
            }
            Self::Delta => {
                // In a Delta log the table property carries its namespace.
                metadata["configuration"] = json!({"delta.enableChangeDataFeed": "true"});
                metadata["format"]["options"] = json!({});
                metadata["createdTime"] = json!(found.published_at.timestamp_millis());
                let mut wrapper = json!({"deltaMetadata": metadata});
                merge(&mut wrapper, sharing);
                json!({"metaData": wrapper})
            }
        }
    }

    /// A file line: a file of the table (`change` none), or a data change file.
    fn file_line(
        self,
        version: VersionNumber,
        published_at: chrono::DateTime<chrono::Utc>,
        change: Option<ChangeKind>,
        file: &SharedFile,
    ) -> Value {
        let millis = published_at.timestamp_millis();
        let stats = sharing::file_stats(file);
        let (key, mut action) = match self {
            Self::Parquet => {
                let mut action = json!({
                    "url": file.url,
                    "id": file.id,
                    "partitionValues": {},
                    "size": file.size,
                    "version": version.get(),
                    "timestamp": millis,
                });
                if change != Some(ChangeKind::Remove) {
                    action["stats"] = json!(stats);
                }
                let key = match change {
                    None => "file",
                    Some(ChangeKind::Add) => "add",
                    Some(ChangeKind::Remove) => "remove",
                };
                (key, action)
            }
            Self::Delta => {
                let path = kernel_readable(&file.url);
                let single = if change == Some(ChangeKind::Remove) {
                    json!({"remove": {
                        "path": path,
                        "deletionTimestamp": millis,
                        "dataChange": true,
                        "extendedFileMetadata": true,
                        "partitionValues": {},
                        "size": file.size,
                    }})
                } else {
                    json!({"add": {
                        "path": path,
                        "partitionValues": {},
                        "size": file.size,
                        "modificationTime": millis,
                        "dataChange": true,
                        "stats": stats,
                    }})
                };
                let action = json!({
                    "id": file.id,
                    "version": version.get(),
                    "timestamp": millis,
                    "deltaSingleAction": single,
                });
                ("file", action)
            }
        };
        if let Some(expires) = file.expires {
            action["expirationTimestamp"] = json!(expires.timestamp_millis());
        }
        json!({ key: action })
    }
}

/// A file URL as the delta format hands it out. Delta Kernel, the official client's
/// delta-format reader, fetches a file over HTTP only when its URL looks presigned (a
/// cloud store's signature key in the query); any other URL it looks for in the client's
/// local table directory, and fails. The node's URLs need no query, so the delta format
/// adds the read-permission key `sp` (Azure SAS's, one the kernel recognises), which the
/// node ignores.
fn kernel_readable(url: &str) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}sp=r")
}

/// The header a client states the formats it reads in, and the server the one it answers in.
const CAPABILITIES: &str = "delta-sharing-capabilities";

/// Adds `extra`'s members to the object `into`.
fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

fn insert_version(response: &mut Response, version: VersionNumber) {
    response
        .headers_mut()
        .insert("delta-table-version", HeaderValue::from(version.get()));
}

fn ndjson(version: VersionNumber, format: ResponseFormat, lines: Vec<Value>) -> Response {
    let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
    );
    response.headers_mut().insert(CAPABILITIES, format.header());
    insert_version(&mut response, version);
    response
}

/// A licensed file through the ticket a query issued: an ordinary download under the order.
pub async fn ticketed_file(
    State(ctx): State<Context>,
    Path(ticket): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let file = sharing::redeem(&ctx, &ticket).await?;
    files::download(
        &ctx,
        &file.dataset,
        Some(file.version),
        &file.name,
        Credential::Ticket {
            grant: file.grant,
            session: file.session,
        },
        &method,
        &headers,
    )
    .await
}
