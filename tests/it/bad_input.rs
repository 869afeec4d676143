//! Hostile and malformed requests: each gets a clear 4xx and changes nothing.

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Backend, TestApp, assert_problem, metadata, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    traversal_in_ids_and_file_names_is_refused,
    tokens_are_required_and_scoped_to_their_publisher,
    malformed_bodies_and_queries_are_400,
    digest_mismatch_and_missing_blobs_are_422,
    oversized_uploads_are_413,
    uploads_cut_off_mid_stream_leave_nothing,
    unknown_routes_and_methods_are_problems,
    offers_are_required_for_licensed_data_only,
    a_file_sent_in_parts_is_joined_only_from_the_senders_parts,
);

async fn traversal_in_ids_and_file_names_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    app.publish(&token, "base", "open", &[("a.csv", b"a")]).await;
    let before = app.snapshot().await;

    for path in [
        "/api/v1/datasets/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/datasets/UPPER",
        "/api/v1/datasets/base/versions/0",
        "/api/v1/datasets/base/versions/1/files/..%2F..%2Fshulian.db",
        "/api/v1/datasets/base/versions/1/files/a/../../x",
    ] {
        let response = app.http.get(app.api(path)).send().await.expect("request");
        assert!(
            matches!(response.status(), StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "{path} answered {}",
            response.status()
        );
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    let bytes = b"evil";
    assert!(app.upload(&token, bytes).await.status().is_success());
    for name in ["../../etc/passwd", "/abs.csv", "a/./b.csv", "c:\\x.csv", ""] {
        let body = json!({"metadata": metadata("base", "open"), "files": [{"name": name, "mediaType": "text/csv", "size": 4, "sha256": sha256_hex(bytes)}]});
        let response = app.post_version(&token, "base", body).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    }
    let response = app
        .post_version(
            &token,
            "..%2Fevil",
            json!({"metadata": metadata("x", "open"), "files": []}),
        )
        .await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    let (catalog, _) = app.snapshot().await;
    assert_eq!(catalog, before.0, "the catalog is unchanged");
    app.stop().await;
}

async fn tokens_are_required_and_scoped_to_their_publisher(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.publisher("owner").await;
    let other = app.publisher("other").await;
    app.publish(&owner, "owned", "open", &[("a.csv", b"1")]).await;
    let before = app.snapshot().await;
    let body = || json!({"metadata": metadata("owned", "open"), "files": [{"name": "a.csv", "mediaType": "text/csv", "size": 1, "sha256": sha256_hex(b"1")}]});

    let anonymous = app
        .http
        .post(app.api("/api/v1/datasets/owned/versions"))
        .json(&body())
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let (prefix, _) = owner.split_once('.').expect("token shape");
    for wrong in [
        "nonsense",
        "shl_0000000000000000.secret",
        &format!("{prefix}.wrong-secret"),
    ] {
        let response = app.post_version(wrong, "owned", body()).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let foreign = app.post_version(&other, "owned", json!({"metadata": metadata("owned", "open"), "files": [{"name": "b.csv", "mediaType": "text/csv", "size": 1, "sha256": sha256_hex(b"1")}]})).await;
    assert_problem(foreign, StatusCode::FORBIDDEN, "forbidden").await;
    let unauthenticated_upload = app
        .http
        .put(app.api(&format!("/api/v1/blobs/{}", sha256_hex(b"zz"))))
        .body("zz")
        .send()
        .await
        .expect("put");
    assert_problem(unauthenticated_upload, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

async fn malformed_bodies_and_queries_are_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    let before = app.snapshot().await;
    let post = |body: &'static str| {
        app.http
            .post(app.api("/api/v1/datasets/d/versions"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        "{",
        "[]",
        r#"{"metadata": {}, "files": []}"#,
        r#"{"metadata": {"title": {"zh": "t"}, "license": {"id": "x"}, "access": "secret"}, "files": []}"#,
        r#"{"metadata": {"title": {"zh": "t"}, "license": {"id": "x"}, "access": "open"}, "files": [], "extra": 1}"#,
        r#"{"metadata": {"title": {"zh": "t"}, "license": {"id": "x"}, "access": "open"}, "files": []}"#,
        r#"{"metadata": {"title": {"zh": "t"}, "license": {"id": "x"}, "access": "open"}, "files": [{"name": "a", "mediaType": "text/csv", "size": -1, "sha256": "00"}]}"#,
    ] {
        let response = post(body).await.expect("post");
        assert!(
            matches!(
                response.status(),
                StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{body} answered {}",
            response.status()
        );
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
        "cursor=Zm9v-bad",
        "access=secret",
        "publisher=..%2F",
        "unknown=1",
    ] {
        let response = app
            .http
            .get(app.api(&format!("/api/v1/datasets?{query}")))
            .send()
            .await
            .expect("get");
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    }
    let bad_digest = app
        .http
        .put(app.api("/api/v1/blobs/not-a-digest"))
        .bearer_auth(&token)
        .body("x")
        .send()
        .await
        .expect("put");
    assert_problem(bad_digest, StatusCode::BAD_REQUEST, "invalid-request").await;
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

async fn digest_mismatch_and_missing_blobs_are_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    let before = app.snapshot().await;
    let claimed = sha256_hex(b"what was promised");
    let response = app
        .http
        .put(app.api(&format!("/api/v1/blobs/{claimed}")))
        .bearer_auth(&token)
        .body("what was sent")
        .send()
        .await
        .expect("put");
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "digest-mismatch").await;
    assert_eq!(problem["actual"], sha256_hex(b"what was sent"));
    let never_uploaded = json!({"metadata": metadata("d", "open"), "files": [{"name": "a.csv", "mediaType": "text/csv", "size": 17, "sha256": claimed}]});
    assert_problem(
        app.post_version(&token, "d", never_uploaded).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing-blob",
    )
    .await;
    assert_eq!(app.snapshot().await, before, "no blob, staging file or version remains");

    assert!(app.upload(&token, b"12345").await.status().is_success());
    let wrong_size = json!({"metadata": metadata("d", "open"), "files": [{"name": "a.csv", "mediaType": "text/csv", "size": 6, "sha256": sha256_hex(b"12345")}]});
    assert_problem(
        app.post_version(&token, "d", wrong_size).await,
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
    assert_eq!(app.snapshot().await.0, before.0, "no version was created");
    app.stop().await;
}

async fn oversized_uploads_are_413(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.max_upload_bytes = Some(1000)).await;
    let token = app.publisher("p").await;
    let before = app.snapshot().await;
    let big = vec![7u8; 5000];
    let declared = app.upload(&token, &big).await;
    assert_eq!(
        declared.headers()["connection"],
        "close",
        "the unread body spoils the connection"
    );
    assert_problem(declared, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    // Without a Content-Length the limit is enforced while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.chunks(500).map(|c| Ok(c.to_vec())).collect();
    let streamed = app
        .http
        .put(app.api(&format!("/api/v1/blobs/{}", sha256_hex(&big))))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("put");
    let problem = assert_problem(streamed, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    assert_eq!(problem["limitBytes"], 1000);
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

async fn uploads_cut_off_mid_stream_leave_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    let before = app.snapshot().await;
    let full = vec![1u8; 64 * 1024];
    let address = app.url.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let head = format!(
        "PUT /api/v1/blobs/{} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        sha256_hex(&full),
        full.len()
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    socket.write_all(&full[..full.len() / 2]).await.expect("half the body");
    socket.shutdown().await.expect("cut off");
    let mut rest = Vec::new();
    let _ = socket.read_to_end(&mut rest).await;
    // The node notices the broken body asynchronously; wait (bounded) until its cleanup is visible.
    let mut settled = false;
    for _ in 0..200 {
        if app.snapshot().await == before {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(settled, "a cut-off upload left files behind: {:?}", app.blob_files());
    let probe = app
        .http
        .head(app.api(&format!("/api/v1/blobs/{}", sha256_hex(&full))))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(probe.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = app.http.get(app.api("/api/v1/nothing-here")).send().await.expect("get");
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    let wrong_method = app
        .http
        .delete(app.api("/api/v1/datasets"))
        .send()
        .await
        .expect("delete");
    assert_problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
    let no_dataset = app
        .http
        .get(app.api("/api/v1/datasets/absent"))
        .send()
        .await
        .expect("get");
    assert_problem(no_dataset, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

async fn offers_are_required_for_licensed_data_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("p").await;
    assert!(app.upload(&token, b"x").await.status().is_success());
    let files = json!([{"name": "a.csv", "mediaType": "text/csv", "size": 1, "sha256": sha256_hex(b"x")}]);
    let mut licensed_without_offer = metadata("d", "licensed");
    licensed_without_offer.as_object_mut().expect("object").remove("offer");
    let mut open_with_offer = metadata("d", "open");
    open_with_offer["offer"] = crate::helpers::offer();
    let mut bad_offer = metadata("d", "licensed");
    bad_offer["offer"]["purposes"] = json!([]);
    let mut float_price = metadata("d", "licensed");
    float_price["offer"]["priceFen"] = json!(12.5);
    for metadata in [licensed_without_offer, open_with_offer, bad_offer, float_price] {
        let response = app
            .post_version(&token, "d", json!({"metadata": metadata, "files": files}))
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    }
    let (status, _) = app.get_json("/api/v1/datasets/d").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A large file goes in parts, each an upload of its own, then joined: the joined blob is
/// the file's bytes and publishes like any upload. Refused, storing nothing: no parts, too
/// many, a part never sent, another publisher's part, parts that join to other bytes.
async fn a_file_sent_in_parts_is_joined_only_from_the_senders_parts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("parts").await;
    let rival = app.publisher("rival").await;
    let file: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let parts: Vec<&[u8]> = file.chunks(100_000).collect();
    let digests: Vec<String> = parts.iter().map(|part| sha256_hex(part)).collect();
    let whole = sha256_hex(&file);
    for part in &parts[..2] {
        assert!(app.upload(&token, part).await.status().is_success());
    }
    assert!(app.upload(&rival, parts[2]).await.status().is_success());
    let compose = |token: &str, digest: &str, parts: serde_json::Value| {
        app.http
            .post(app.api(&format!("/api/v1/blobs/{digest}/composition")))
            .bearer_auth(token)
            .json(&json!({"parts": parts}))
            .send()
    };
    assert_problem(
        compose(&token, &whole, json!([])).await.expect("post"),
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
    let too_many = vec![digests[0].clone(); 10_001];
    assert_problem(
        compose(&token, &whole, json!(too_many)).await.expect("post"),
        StatusCode::BAD_REQUEST,
        "invalid-request",
    )
    .await;
    // The third part was sent by another publisher only: not this one's to join.
    assert_problem(
        compose(&token, &whole, json!(digests)).await.expect("post"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing-blob",
    )
    .await;
    assert_problem(
        compose(&token, &whole, json!(&digests[..2])).await.expect("post"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "digest-mismatch",
    )
    .await;
    let probe = |digest: String| {
        app.http
            .head(app.api(&format!("/api/v1/blobs/{digest}")))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(
        probe(whole.clone()).await.expect("probe").status(),
        StatusCode::NOT_FOUND,
        "nothing stored"
    );
    // Resuming: the third part sent now, the first two not again.
    assert!(app.upload(&token, parts[2]).await.status().is_success());
    let joined = compose(&token, &whole, json!(digests)).await.expect("post");
    assert_eq!(joined.status(), StatusCode::CREATED);
    assert_eq!(
        probe(whole.clone()).await.expect("probe").headers()["content-length"],
        file.len().to_string()
    );
    let again = compose(&token, &whole, json!(digests)).await.expect("post");
    assert_eq!(again.status(), StatusCode::OK, "already held");
    let published = app
        .post_version(
            &token,
            "joined",
            json!({"metadata": metadata("joined", "open"),
                   "files": [{"name": "big.bin", "mediaType": "application/octet-stream", "size": file.len(), "sha256": whole}]}),
        )
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    let downloaded = app
        .http
        .get(app.api("/api/v1/datasets/joined/versions/1/files/big.bin"))
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("body");
    assert_eq!(sha256_hex(&downloaded), whole, "the joined blob is the file");
    app.stop().await;
}
