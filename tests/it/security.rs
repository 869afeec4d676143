//! Attacks from the security review, each performed against a real node.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_problem, metadata, place_test_order, receipts, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    a_publisher_cannot_list_bytes_it_never_uploaded,
    a_short_body_under_a_held_digest_is_a_digest_mismatch,
    ranges_spend_the_download_limit_and_are_receipted,
    concurrent_range_readers_get_no_more_than_the_limit,
    a_read_session_carries_a_bounded_number_of_bytes,
);

const LICENSED_CSV: &[u8] = "身份证号,诊断\n110101199001010011,高血压\n".as_bytes();

/// Publisher B's licensed file, and publisher A's token.
async fn two_publishers(app: &TestApp) -> String {
    let victim = app.publisher("hospital").await;
    let published = app
        .publish(&victim, "patients", "licensed", &[("records.csv", LICENSED_CSV)])
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    app.publisher("intruder").await
}

/// A version body listing B's licensed file by its public digest and size.
fn listing_of_the_victims_file(dataset: &str) -> serde_json::Value {
    json!({
        "metadata": metadata(dataset, "open"),
        "files": [{"name": "copy.csv", "mediaType": "text/csv", "size": LICENSED_CSV.len(), "sha256": sha256_hex(LICENSED_CSV)}],
    })
}

async fn a_publisher_cannot_list_bytes_it_never_uploaded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let intruder = two_publishers(&app).await;
    let digest = sha256_hex(LICENSED_CSV);

    let probe = app
        .http
        .head(app.api(&format!("/api/v1/blobs/{digest}")))
        .bearer_auth(&intruder)
        .send()
        .await
        .expect("probe");
    assert_eq!(
        probe.status(),
        StatusCode::NOT_FOUND,
        "another publisher's bytes are not the intruder's to skip uploading"
    );
    let before = app.snapshot().await;
    let response = app
        .post_version(&intruder, "leak", listing_of_the_victims_file("leak"))
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "missing-blob").await;
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.contains(&digest)),
        "{problem}"
    );
    assert_eq!(app.snapshot().await, before, "nothing was published");
    let anonymous = app.get("/api/v1/datasets/leak/versions/latest/files/copy.csv").await;
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);

    // Whoever really holds the bytes may publish them: uploading them proves it.
    assert_eq!(app.upload(&intruder, LICENSED_CSV).await.status(), StatusCode::OK);
    let response = app
        .post_version(&intruder, "own-copy", listing_of_the_victims_file("own-copy"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn a_short_body_under_a_held_digest_is_a_digest_mismatch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let intruder = two_publishers(&app).await;
    let digest = sha256_hex(LICENSED_CSV);

    for body in [&b"x"[..], &LICENSED_CSV[..LICENSED_CSV.len() - 1], b""] {
        let response = app
            .http
            .put(app.api(&format!("/api/v1/blobs/{digest}")))
            .bearer_auth(&intruder)
            .body(body.to_vec())
            .send()
            .await
            .expect("upload");
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "digest-mismatch").await;
    }
    let response = app
        .post_version(&intruder, "leak", listing_of_the_victims_file("leak"))
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "missing-blob").await;
    let anonymous = app.get("/api/v1/datasets/leak/versions/latest/files/copy.csv").await;
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
}

/// A licensed file and an agreed order for it allowing two downloads.
struct OrderedFile {
    url: String,
    order_id: String,
    token: String,
    publisher: String,
}

async fn ordered_file(app: &TestApp) -> OrderedFile {
    let publisher = app.publisher("hospital").await;
    let published = app
        .publish(&publisher, "patients", "licensed", &[("records.csv", LICENSED_CSV)])
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    let placed = place_test_order(app, "patients").await;
    OrderedFile {
        url: app.api("/api/v1/datasets/patients/versions/1/files/records.csv"),
        order_id: placed["orderId"].as_str().expect("order id").to_owned(),
        token: placed["accessToken"].as_str().expect("token").to_owned(),
        publisher,
    }
}

/// GETs `range` of a file with an order token, in `session` when given.
async fn read_range(app: &TestApp, url: &str, token: &str, range: &str, session: Option<&str>) -> reqwest::Response {
    let mut request = app.http.get(url).bearer_auth(token).header("range", range);
    if let Some(session) = session {
        request = request.header("shulian-read-session", session);
    }
    request.send().await.expect("range request")
}

/// The refusals the publisher's order listing counts for the order.
async fn refusals(app: &TestApp, ordered: &OrderedFile) -> u64 {
    let orders: serde_json::Value = app
        .http
        .get(app.api("/api/v1/publisher/orders"))
        .bearer_auth(&ordered.publisher)
        .send()
        .await
        .expect("orders")
        .json()
        .await
        .expect("json");
    orders
        .as_array()
        .expect("list")
        .iter()
        .find(|o| o["id"] == ordered.order_id.as_str())
        .and_then(|o| o["refusals"].as_u64())
        .expect("order listed")
}

async fn ranges_spend_the_download_limit_and_are_receipted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ordered = ordered_file(&app).await;
    let (url, order_id, token) = (&ordered.url, &ordered.order_id, &ordered.token);
    let last = LICENSED_CSV.len() - 1;

    // The attack: everything but the (guessable) last byte, again and again.
    let mut served = 0;
    for _ in 0..6 {
        let response = read_range(&app, url, token, &format!("bytes=0-{}", last - 1), None).await;
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                assert_eq!(response.bytes().await.expect("body").as_ref(), &LICENSED_CSV[..last]);
                served += 1;
            }
            _ => {
                assert_problem(response, StatusCode::FORBIDDEN, "order-inactive").await;
            }
        }
    }
    assert_eq!(served, 2, "each read session is one of the order's two downloads");
    let listed = receipts(&app, order_id, token).await;
    assert_eq!(
        listed.len(),
        2,
        "every session that carried licensed bytes has its receipt"
    );
    for (index, entry) in listed.iter().enumerate() {
        let receipt = &entry["receipt"];
        assert_eq!(receipt["delivery"], index + 1);
        assert_eq!(
            receipt["covers"]["ranges"],
            json!([[0, LICENSED_CSV.len()]]),
            "{receipt}"
        );
        assert!(receipt["covers"]["session"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            receipt["covers"]["maxBytes"]
                .as_u64()
                .is_some_and(|m| m >= LICENSED_CSV.len() as u64)
        );
    }
    assert_eq!(refusals(&app, &ordered).await, 4, "each refused range is recorded");

    // Suffix and one-byte ranges open sessions too: nothing is left for them.
    for range in [
        "bytes=-1".to_owned(),
        format!("bytes={last}-{last}"),
        "bytes=0-0".to_owned(),
    ] {
        let response = read_range(&app, url, token, &range, Some(&format!("fresh-{}", range.len()))).await;
        assert_problem(response, StatusCode::FORBIDDEN, "order-inactive").await;
    }
    assert_eq!(receipts(&app, order_id, token).await.len(), 2);
}

async fn concurrent_range_readers_get_no_more_than_the_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ordered = ordered_file(&app).await;
    let (url, order_id, token) = (&ordered.url, &ordered.order_id, &ordered.token);
    let range = format!("bytes=0-{}", LICENSED_CSV.len() - 2);
    let answers = futures::future::join_all((0..8).map(|_| read_range(&app, url, token, &range, None))).await;
    let mut served = 0;
    for response in answers {
        match response.status() {
            StatusCode::PARTIAL_CONTENT => served += 1,
            status => assert_eq!(status, StatusCode::FORBIDDEN),
        }
    }
    assert_eq!(served, 2);
    assert_eq!(receipts(&app, order_id, token).await.len(), 2);
}

async fn a_read_session_carries_a_bounded_number_of_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ordered = ordered_file(&app).await;
    let (url, order_id, token) = (&ordered.url, &ordered.order_id, &ordered.token);
    let size = LICENSED_CSV.len() as u64;

    // Overlapping ranges in one session: one download, one receipt, until the session's bytes are spent.
    let mut carried = 0u64;
    let mut answers = 0;
    loop {
        let response = read_range(&app, url, token, "bytes=0-", Some("one-session")).await;
        if response.status() != StatusCode::PARTIAL_CONTENT {
            assert_problem(response, StatusCode::FORBIDDEN, "order-inactive").await;
            break;
        }
        assert_eq!(response.headers()["shulian-read-session"], "one-session");
        carried += response.bytes().await.expect("body").len() as u64;
        answers += 1;
        assert!(answers < 5000, "a session must run out of bytes");
    }
    let listed = receipts(&app, order_id, token).await;
    assert_eq!(listed.len(), 1, "one session, one download");
    let max_bytes = listed[0]["receipt"]["covers"]["maxBytes"].as_u64().expect("maxBytes");
    assert!(
        carried <= max_bytes && carried + size > max_bytes,
        "{carried} of {max_bytes}"
    );

    // Many tiny ranges in new sessions: one download each, and only one is left.
    let tiny = read_range(&app, url, token, "bytes=5-5", Some("tiny-1")).await;
    assert_eq!(tiny.status(), StatusCode::PARTIAL_CONTENT);
    let tiny = read_range(&app, url, token, "bytes=6-6", Some("tiny-2")).await;
    assert_problem(tiny, StatusCode::FORBIDDEN, "order-inactive").await;
    assert_eq!(receipts(&app, order_id, token).await.len(), 2);

    // A made-up session name is no way around it; nor is a malformed one.
    let bad = read_range(&app, url, token, "bytes=0-0", Some("../../etc")).await;
    assert_problem(bad, StatusCode::BAD_REQUEST, "invalid-request").await;
}
