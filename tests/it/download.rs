//! Anonymous downloads of open files: full, HEAD, ranges, ETags; licensed files refused.

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, ETAG, IF_NONE_MATCH, IF_RANGE, RANGE,
};

use crate::helpers::{Backend, TestApp, assert_problem, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    downloads_carry_last_modified_honour_if_match_and_answer_other_origins,
    open_files_download_with_http_semantics,
    licensed_files_answer_403_with_how_to_order,
    ranges_past_the_end_are_416,
);

fn sample() -> Vec<u8> {
    (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

async fn open_files_download_with_http_semantics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    let bytes = sample();
    app.publish(&token, "big", "open", &[("dir/数据 1.bin", &bytes)]).await;
    let url = app.api("/api/v1/datasets/big/versions/1/files/dir/%E6%95%B0%E6%8D%AE%201.bin");
    let etag = format!("\"{}\"", sha256_hex(&bytes));

    let full = app.http.get(&url).send().await.expect("get");
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()[ETAG], etag.as_str());
    assert_eq!(full.headers()[ACCEPT_RANGES], "bytes");
    assert_eq!(full.headers()[CONTENT_LENGTH], bytes.len().to_string().as_str());
    let disposition = full.headers()[CONTENT_DISPOSITION].to_str().expect("ascii").to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%E6%95%B0%E6%8D%AE%201.bin"),
        "{disposition}"
    );
    assert_eq!(full.bytes().await.expect("body").as_ref(), bytes.as_slice());

    let head = app.http.head(&url).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[CONTENT_LENGTH], bytes.len().to_string().as_str());
    assert!(head.bytes().await.expect("empty").is_empty());

    let part = app
        .http
        .get(&url)
        .header(RANGE, "bytes=100-1099")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()[CONTENT_RANGE],
        format!("bytes 100-1099/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.expect("body").as_ref(), &bytes[100..1100]);

    let suffix = app
        .http
        .get(&url)
        .header(RANGE, "bytes=-10")
        .send()
        .await
        .expect("suffix");
    assert_eq!(suffix.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(suffix.bytes().await.expect("body").as_ref(), &bytes[bytes.len() - 10..]);

    let stale = app
        .http
        .get(&url)
        .header(RANGE, "bytes=0-9")
        .header(IF_RANGE, "\"other\"")
        .send()
        .await
        .expect("if-range");
    assert_eq!(stale.status(), StatusCode::OK, "a stale If-Range gets the whole file");

    let cached = app
        .http
        .get(&url)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("conditional");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert!(cached.bytes().await.expect("empty").is_empty());

    let latest = app
        .http
        .get(app.api("/api/v1/datasets/big/versions/latest/files/dir/%E6%95%B0%E6%8D%AE%201.bin"))
        .send()
        .await
        .expect("latest");
    assert_eq!(latest.status(), StatusCode::OK);
    assert_eq!(latest.headers()["cache-control"], "public, no-cache");

    let missing = app
        .http
        .get(app.api("/api/v1/datasets/big/versions/1/files/absent.bin"))
        .send()
        .await
        .expect("missing");
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

async fn licensed_files_answer_403_with_how_to_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(
        &token,
        "medical",
        "licensed",
        &[("records.csv", b"id,diagnosis\n1,x\n")],
    )
    .await;
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let response = app
            .http
            .request(
                method.clone(),
                app.api("/api/v1/datasets/medical/versions/1/files/records.csv"),
            )
            .header(RANGE, "bytes=0-3")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
        if method == reqwest::Method::GET {
            let problem = assert_problem(response, StatusCode::FORBIDDEN, "licensed-data").await;
            assert!(
                problem["howToOrder"]
                    .as_str()
                    .is_some_and(|how| how.contains("shulian order medical"))
            );
        }
    }
    // Metadata stays public: a buyer must see what to order.
    let (status, version) = app.get_json("/api/v1/datasets/medical/versions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["access"], "licensed");
    app.stop().await;
}

async fn ranges_past_the_end_are_416(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(&token, "small", "open", &[("a.txt", b"0123456789")]).await;
    let url = app.api("/api/v1/datasets/small/versions/1/files/a.txt");
    let response = app
        .http
        .get(&url)
        .header(RANGE, "bytes=10-20")
        .send()
        .await
        .expect("range");
    assert_eq!(response.headers()[CONTENT_RANGE], "bytes */10");
    assert_problem(response, StatusCode::RANGE_NOT_SATISFIABLE, "range-not-satisfiable").await;
    let clipped = app
        .http
        .get(&url)
        .header(RANGE, "bytes=5-99")
        .send()
        .await
        .expect("range");
    assert_eq!(clipped.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(clipped.bytes().await.expect("body").as_ref(), b"56789");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_download_finish() {
    use futures::StreamExt as _;
    let mut app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.publisher("p").await;
    let bytes: Vec<u8> = (0..8_000_000u32).map(|i| (i % 253) as u8).collect();
    app.publish(&token, "large", "open", &[("large.bin", &bytes)]).await;
    let response = app
        .http
        .get(app.api("/api/v1/datasets/large/versions/1/files/large.bin"))
        .send()
        .await
        .expect("get");
    let mut body = response.bytes_stream();
    let mut received = body.next().await.expect("a first chunk").expect("chunk").to_vec();

    app.begin_shutdown();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.expect("the download is not cut off"));
    }
    assert_eq!(received, bytes);
    app.wait_stopped().await;
    assert!(
        reqwest::get(app.api("/healthz")).await.is_err(),
        "a stopped node accepts no new connections"
    );
}

async fn downloads_carry_last_modified_honour_if_match_and_answer_other_origins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("city").await;
    let bytes = b"id,flow\n1,200\n";
    app.publish(&token, "flows", "open", &[("flows.csv", bytes)]).await;
    let url = app.api("/api/v1/datasets/flows/versions/1/files/flows.csv");

    let plain = app.http.get(&url).send().await.expect("get");
    let modified = plain.headers()["last-modified"].to_str().expect("ascii").to_owned();
    assert!(chrono::DateTime::parse_from_rfc2822(&modified).is_ok(), "{modified}");
    let etag = plain.headers()["etag"].to_str().expect("ascii").to_owned();
    let stale = app
        .http
        .get(&url)
        .header("if-match", "\"0000\"")
        .send()
        .await
        .expect("get");
    assert_problem(stale, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
    for matching in [etag.as_str(), "*"] {
        let fresh = app
            .http
            .get(&url)
            .header("if-match", matching)
            .send()
            .await
            .expect("get");
        assert_eq!(fresh.status(), StatusCode::OK, "{matching}");
    }

    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://notebook.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range, authorization")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_lowercase();
    assert!(
        allowed.contains("range") && allowed.contains("authorization"),
        "{allowed}"
    );
    let ranged = app
        .http
        .get(&url)
        .header("origin", "https://notebook.example")
        .header("range", "bytes=0-1")
        .send()
        .await
        .expect("get");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.headers()["access-control-allow-origin"], "*");
    let exposed = ranged.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_lowercase();
    for header in ["content-range", "etag", "repr-digest", "content-length"] {
        assert!(exposed.contains(header), "{exposed}");
    }
    let search = app
        .http
        .get(app.api("/api/v1/datasets?q=flows"))
        .header("origin", "https://x.example")
        .send()
        .await
        .expect("search");
    assert_eq!(search.headers()["access-control-allow-origin"], "*");
}
