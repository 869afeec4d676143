//! Downloading files: streaming, `HEAD`, single byte ranges, strong ETags from the sha256.

use std::ops::Range;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::extract::{ApiPath, READ_SESSION, bearer, read_session};
use super::tables::{self, TableView};
use super::version_ref;
use crate::domain::{DatasetId, FileEntry, FileName, VersionNumber};
use crate::error::AppError;
use crate::service::Context;
use crate::service::download::{self, Credential};

/// Routes `…/files/{*path}`: a file's bytes, or, for `{name}/schema` and
/// `{name}/preview` where no file has that very name, a table view of `{name}`.
pub async fn file_or_table_view(
    State(ctx): State<Context>,
    ApiPath((dataset, version, path)): ApiPath<(DatasetId, String, FileName)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let version = version_ref(&version)?;
    if let Some((table, view)) = TableView::split(&path)
        && !download::file_exists(&ctx, &dataset, version, &path).await?
    {
        return match (view, &method) {
            (_, &Method::GET) => match view {
                TableView::Schema => tables::schema(&ctx, &dataset, version, &table).await,
                TableView::Preview => tables::preview(&ctx, &dataset, version, &table, &uri, &headers).await,
            },
            _ => Err(AppError::MethodNotAllowed),
        };
    }
    let credential = match bearer(&headers) {
        None => Credential::Anonymous,
        Some(token) => Credential::Bearer {
            token,
            session: read_session(&headers)?,
        },
    };
    download(&ctx, &dataset, version, &path, credential, &method, &headers).await
}

/// Downloads a file: open data anonymously, licensed data with an order-scoped bearer token.
#[utoipa::path(get, path = "/api/v1/datasets/{dataset}/versions/{version}/files/{name}", tag = "download",
    params(("dataset" = String, Path, description = "dataset id"),
           ("version" = String, Path, description = "version number or `latest`"),
           ("name" = String, Path, description = "file name; may contain `/`"),
           ("Range" = Option<String>, Header, description = "one byte range, `bytes=START-[END]` or `bytes=-SUFFIX`"),
           ("If-None-Match" = Option<String>, Header, description = "an ETag held by the client"),
           ("If-Match" = Option<String>, Header, description = "download only if the file's ETag is one of these"),
           ("Shulian-Read-Session" = Option<String>, Header, description = "licensed data: the read session to continue (1 to 64 of A-Z a-z 0-9 - _); a session's first response spends one download, later ones nothing until the session has carried twice the file")),
    responses((status = 200, description = "the file, as its media type", content_type = "*/*"),
              (status = 206, description = "the requested range", content_type = "*/*"),
              (status = 304, description = "not modified"),
              (status = 401, description = "the order token is not valid"),
              (status = 403, description = "licensed data: order it first, or the order does not cover this file now"),
              (status = 404, description = "no such file"),
              (status = 412, description = "If-Match names another ETag"),
              (status = 416, description = "range outside the file")))]
pub async fn download(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
    name: &FileName,
    credential: Credential<'_>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let file = download::find_file(ctx, dataset, version, name, credential).await?;
    let caching = match &file.licence {
        Some(_) => Caching::Private,
        None if version.is_none() => Caching::Revalidate,
        None => Caching::Immutable,
    };
    let mut plan = plan_response(&file.entry, headers, caching)?;
    plan.headers.insert(
        header::LAST_MODIFIED,
        header_value(&file.published_at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
    );
    if let Some(licence) = &file.licence {
        plan.headers
            .insert(READ_SESSION, header_value(licence.session.as_str()));
    }
    let body = if method == Method::HEAD || plan.status == StatusCode::NOT_MODIFIED {
        download::ensure_readable(ctx, &file).await?;
        Body::empty()
    } else {
        Body::from_stream(download::read_file(ctx, &file, plan.range.clone()).await?)
    };
    let mut response = Response::new(body);
    *response.status_mut() = plan.status;
    *response.headers_mut() = plan.headers;
    Ok(response)
}

/// Status, headers and byte range of a download response, decided before any byte is read.
struct ResponsePlan {
    status: StatusCode,
    headers: HeaderMap,
    range: Option<Range<u64>>,
}

/// How a download may be cached.
enum Caching {
    /// A numbered version of open data never changes.
    Immutable,
    /// `latest` may move to a new version.
    Revalidate,
    /// Licensed bytes stay between the node and the buyer.
    Private,
}

fn plan_response(entry: &FileEntry, request: &HeaderMap, caching: Caching) -> Result<ResponsePlan, AppError> {
    let etag = format!("\"{}\"", entry.sha256);
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, header_value(&etag));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let cache_control = match caching {
        Caching::Immutable => "public, max-age=31536000, immutable",
        Caching::Revalidate => "public, no-cache",
        Caching::Private => {
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            "private, no-store"
        }
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(
        "repr-digest",
        header_value(&format!("sha-256=:{}:", STANDARD.encode(entry.sha256.as_bytes()))),
    );
    // RFC 9110 §13.1.1: a write-once file matches `*` or its own ETag, and nothing else.
    if let Some(if_match) = request.get(header::IF_MATCH)
        && !etag_matches(Some(if_match), &etag)
    {
        return Err(AppError::PreconditionFailed { etag });
    }
    if etag_matches(request.get(header::IF_NONE_MATCH), &etag) {
        return Ok(ResponsePlan {
            status: StatusCode::NOT_MODIFIED,
            headers,
            range: None,
        });
    }
    headers.insert(header::CONTENT_TYPE, header_value(entry.media_type.as_str()));
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&entry.name));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // RFC 9110 §13.1.5: a Range under a stale If-Range is ignored and the whole file sent.
    let if_range_holds = request
        .get(header::IF_RANGE)
        .is_none_or(|value| value.as_bytes() == etag.as_bytes());
    let range = match request.get(header::RANGE).filter(|_| if_range_holds) {
        Some(value) => parse_single_range(value.to_str().unwrap_or_default(), entry.size)?,
        None => None,
    };
    let (status, length) = match &range {
        Some(range) => {
            let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, entry.size);
            headers.insert(header::CONTENT_RANGE, header_value(&content_range));
            (StatusCode::PARTIAL_CONTENT, range.end - range.start)
        }
        None => (StatusCode::OK, entry.size),
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(ResponsePlan { status, headers, range })
}

/// Parses a `Range` header. Syntax the node does not serve (several ranges,
/// other units, garbage) is ignored as RFC 9110 allows; a well-formed range
/// that starts past the end is 416.
fn parse_single_range(value: &str, size: u64) -> Result<Option<Range<u64>>, AppError> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = AppError::RangeNotSatisfiable { size };
    let range = match (first.trim(), last.trim()) {
        ("", "") => return Ok(None),
        ("", suffix) => match suffix.parse::<u64>() {
            Ok(0) => return Err(unsatisfiable),
            Ok(suffix) => size.saturating_sub(suffix)..size,
            Err(_) => return Ok(None),
        },
        (start, end) => {
            let Ok(start) = start.parse::<u64>() else {
                return Ok(None);
            };
            let end = match end {
                "" => size,
                end => match end.parse::<u64>() {
                    Ok(end) if end >= start => end.saturating_add(1).min(size),
                    _ => return Ok(None),
                },
            };
            start..end
        }
    };
    if range.start >= size {
        return Err(unsatisfiable);
    }
    Ok(Some(range))
}

fn etag_matches(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(value) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value
        .split(',')
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == etag)
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187).
fn content_disposition(name: &FileName) -> HeaderValue {
    let base = name.base_name();
    let ascii: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = base
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    header_value(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
}

/// Builds a header value from text the node composed from validated parts.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_single_range("bytes=0-9", 100).ok().flatten(), Some(0..10));
        assert_eq!(parse_single_range("bytes=90-", 100).ok().flatten(), Some(90..100));
        assert_eq!(parse_single_range("bytes=-10", 100).ok().flatten(), Some(90..100));
        assert_eq!(parse_single_range("bytes=-1000", 100).ok().flatten(), Some(0..100));
        assert_eq!(parse_single_range("bytes=50-1000", 100).ok().flatten(), Some(50..100));
        assert!(matches!(
            parse_single_range("bytes=100-", 100),
            Err(AppError::RangeNotSatisfiable { size: 100 })
        ));
        assert!(matches!(
            parse_single_range("bytes=-0", 100),
            Err(AppError::RangeNotSatisfiable { .. })
        ));
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=9-3",
            "bytes=-",
            "bytes=18446744073709551616-",
        ] {
            assert_eq!(parse_single_range(ignored, 100).ok().flatten(), None, "{ignored}");
        }
    }

    #[test]
    fn etags_match_lists_and_weak_forms() {
        let etag = "\"abc\"";
        assert!(etag_matches(Some(&HeaderValue::from_static("\"x\", W/\"abc\"")), etag));
        assert!(etag_matches(Some(&HeaderValue::from_static("*")), etag));
        assert!(!etag_matches(Some(&HeaderValue::from_static("\"abcd\"")), etag));
    }

    #[test]
    fn dispositions_are_safe_headers() {
        let name: FileName = "dir/交通 数据.csv".parse().expect("name");
        let value = content_disposition(&name);
        let text = value.to_str().expect("ascii");
        assert!(text.starts_with("attachment; filename=\"__ __.csv\""));
        assert!(text.contains("filename*=UTF-8''%E4%BA%A4"));
    }
}
