//! Ordering licensed data: signed orders, agreements, order-scoped tokens, and the attacks on them.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shulian::crypto::{Did, KeyPair, canonical, proof};

use crate::helpers::{
    Backend, TestApp, assert_problem, order, place_test_order, post_order, receipts, sha256_hex, signed, test_python,
};
use crate::on_both_backends;

on_both_backends!(
    an_agreed_order_unlocks_its_dataset_version,
    forged_altered_replayed_and_out_of_offer_orders_are_refused_and_not_recorded,
    order_tokens_are_scoped_to_their_dataset_version,
    completed_deliveries_yield_logged_signed_receipts,
    ranges_in_one_read_session_are_one_download_and_limits_are_enforced,
    publishers_decide_requested_orders_and_revoke_agreements,
    a_third_party_verifies_the_evidence_with_public_tools,
    expired_agreements_refuse_downloads_and_record_the_refusal,
    a_revocation_through_one_replica_stops_reads_through_another,
);

const SECRET_CSV: &[u8] = "患者编号,科室\n1,心内科\n2,呼吸科\n".as_bytes();

/// The publisher revokes an order's agreement.
async fn revoke(app: &TestApp, order_id: &str, publisher: &str) -> reqwest::Response {
    app.http
        .post(app.api(&format!("/api/v1/orders/{order_id}/revocation")))
        .bearer_auth(publisher)
        .json(&json!({"reason": "合同终止"}))
        .send()
        .await
        .expect("revoke")
}

/// Publishes licensed dataset `dataset` and returns (node DID, manifest digest).
async fn licensed(app: &TestApp, token: &str, dataset: &str) -> (String, String) {
    assert_eq!(
        app.publish(token, dataset, "licensed", &[("records.csv", SECRET_CSV)])
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let (_, version) = app.get_json(&format!("/api/v1/datasets/{dataset}/versions/1")).await;
    (
        node["id"].as_str().expect("did").to_owned(),
        version["manifestDigest"].as_str().expect("digest").to_owned(),
    )
}

async fn log_size(app: &TestApp) -> u64 {
    app.ctx.store.log_size().await.expect("log size")
}

async fn an_agreed_order_unlocks_its_dataset_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("hospital").await;
    let (node, digest) = licensed(&app, &token, "visits").await;
    let buyer = KeyPair::generate();
    let before = log_size(&app).await;
    let order_document = signed(order(&node, "visits", &digest, &buyer), &buyer);

    let response = post_order(&app, &order_document).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let placed: Value = response.json().await.expect("json");
    assert_eq!(placed["state"], "AGREED");
    let agreement = &placed["agreement"];
    let node_did: Did = node.parse().expect("did");
    assert_eq!(proof::verify_document(agreement).expect("node countersigned"), node_did);
    assert_eq!(
        agreement["order"], order_document,
        "the agreement binds the order as signed"
    );
    let order_digest = format!(
        "sha256:{}",
        sha256_hex(canonical::canonicalize(&order_document).expect("jcs").as_bytes())
    );
    assert_eq!(agreement["orderDigest"], order_digest);
    assert_eq!(agreement["manifestDigest"], digest);
    assert_eq!(placed["orderDigest"], order_digest);
    assert_eq!(log_size(&app).await, before + 2, "order and agreement are logged");

    let url = app.api("/api/v1/datasets/visits/versions/1/files/records.csv");
    let access = placed["accessToken"].as_str().expect("token");
    let file = app.http.get(&url).bearer_auth(access).send().await.expect("download");
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["cache-control"], "private, no-store");
    assert_eq!(file.headers()["referrer-policy"], "no-referrer");
    let session = file.headers()["shulian-read-session"].clone();
    assert_eq!(file.bytes().await.expect("body").as_ref(), SECRET_CSV);
    let part = app
        .http
        .get(&url)
        .bearer_auth(access)
        .header("range", "bytes=0-9")
        .header("shulian-read-session", session.clone())
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        app.http
            .head(&url)
            .bearer_auth(access)
            .header("shulian-read-session", session)
            .send()
            .await
            .expect("head")
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

async fn forged_altered_replayed_and_out_of_offer_orders_are_refused_and_not_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("hospital").await;
    let (node, digest) = licensed(&app, &token, "visits").await;
    let buyer = KeyPair::generate();
    let mallory = KeyPair::generate();
    let before = log_size(&app).await;

    // Signed by another key while naming the buyer.
    let forged = signed(order(&node, "visits", &digest, &buyer), &mallory);
    assert_problem(
        post_order(&app, &forged).await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    // A field altered after signing.
    let mut altered = signed(order(&node, "visits", &digest, &buyer), &buyer);
    altered["priceFen"] = json!(1);
    assert_problem(
        post_order(&app, &altered).await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    // Outside the offer: each term in turn.
    for (field, value) in [
        ("priceFen", json!(1)),
        ("purpose", json!("marketing")),
        ("validityDays", json!(31)),
        ("maxDownloads", json!(3)),
        (
            "licenseSha256",
            json!(format!("sha256:{}", sha256_hex(b"another licence"))),
        ),
    ] {
        let mut document = order(&node, "visits", &digest, &buyer);
        document[field] = value;
        let response = post_order(&app, &signed(document, &buyer)).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "order-outside-offer").await;
    }
    let mut stale = order(&node, "visits", &digest, &buyer);
    stale["created"] = json!("2020-01-01T00:00:00Z");
    assert_problem(
        post_order(&app, &signed(stale, &buyer)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order-stale",
    )
    .await;
    let other_node = order(
        &KeyPair::generate().public().did().to_string(),
        "visits",
        &digest,
        &buyer,
    );
    assert_problem(
        post_order(&app, &signed(other_node, &buyer)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order-wrong-target",
    )
    .await;
    let wrong_manifest = order(&node, "visits", &format!("sha256:{}", sha256_hex(b"x")), &buyer);
    assert_problem(
        post_order(&app, &signed(wrong_manifest, &buyer)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "order-wrong-target",
    )
    .await;
    // Base58 far longer than any signature or key: refused before it is decoded, since
    // decoding base58 costs time quadratic in its length (a 60,000-digit proofValue cost
    // the node 0.8 s of CPU per request).
    let mut long_signature = signed(order(&node, "visits", &digest, &buyer), &buyer);
    long_signature["proof"]["proofValue"] = json!(format!("z{}", "2".repeat(60_000)));
    let problem = assert_problem(
        post_order(&app, &long_signature).await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("proofValue")),
        "{problem}"
    );
    let long_key = format!("z{}", "2".repeat(30_000));
    let mut unknown_key = signed(order(&node, "visits", &digest, &buyer), &buyer);
    unknown_key["proof"]["verificationMethod"] = json!(format!("did:key:{long_key}#{long_key}"));
    assert_problem(
        post_order(&app, &unknown_key).await,
        StatusCode::BAD_REQUEST,
        "invalid-signature",
    )
    .await;
    let mut float = order(&node, "visits", &digest, &buyer);
    float["priceFen"] = json!(500.5);
    let float_response = post_order(&app, &json!({"unsigned": float})).await;
    assert_eq!(float_response.status(), StatusCode::BAD_REQUEST);
    for garbage in [&b"{"[..], b"[]", br#"{"a":1,"a":2}"#] {
        let response = app
            .http
            .post(app.api("/api/v1/orders"))
            .body(garbage.to_vec())
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(log_size(&app).await, before, "no refused order is recorded");

    // A replay of an accepted order.
    let accepted = signed(order(&node, "visits", &digest, &buyer), &buyer);
    assert_eq!(post_order(&app, &accepted).await.status(), StatusCode::CREATED);
    assert_problem(
        post_order(&app, &accepted).await,
        StatusCode::CONFLICT,
        "replayed-nonce",
    )
    .await;
    assert_eq!(log_size(&app).await, before + 2);
    app.stop().await;
}

async fn order_tokens_are_scoped_to_their_dataset_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("hospital").await;
    let (node, digest_a) = licensed(&app, &token, "dataset-a").await;
    licensed(&app, &token, "dataset-b").await;
    let buyer = KeyPair::generate();
    let placed: Value = post_order(&app, &signed(order(&node, "dataset-a", &digest_a, &buyer), &buyer))
        .await
        .json()
        .await
        .expect("json");
    let access = placed["accessToken"].as_str().expect("token");

    let other = app
        .http
        .get(app.api("/api/v1/datasets/dataset-b/versions/1/files/records.csv"))
        .bearer_auth(access)
        .send()
        .await
        .expect("get");
    assert_problem(other, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = app
        .http
        .get(app.api("/api/v1/datasets/dataset-a/versions/1/files/records.csv"))
        .send()
        .await
        .expect("get");
    assert_problem(anonymous, StatusCode::FORBIDDEN, "licensed-data").await;
    let (prefix, _) = access.split_once('.').expect("token shape");
    for wrong in [
        format!("{prefix}.not-the-secret"),
        "sho_unknown.secret".to_owned(),
        token.clone(),
    ] {
        let response = app
            .http
            .get(app.api("/api/v1/datasets/dataset-a/versions/1/files/records.csv"))
            .bearer_auth(&wrong)
            .send()
            .await
            .expect("get");
        assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    app.stop().await;
}

/// Publishes, orders and returns (order id, access token, node DID, agreement).
async fn agreed_order(app: &TestApp, dataset: &str) -> (String, String, Did, Value) {
    let token = app.publisher("hospital").await;
    let (node, _) = licensed(app, &token, dataset).await;
    let placed = place_test_order(app, dataset).await;
    (
        placed["orderId"].as_str().expect("id").to_owned(),
        placed["accessToken"].as_str().expect("token").to_owned(),
        node.parse().expect("did"),
        placed["agreement"].clone(),
    )
}

async fn completed_deliveries_yield_logged_signed_receipts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (order_id, access, node, _) = agreed_order(&app, "visits").await;
    assert!(receipts(&app, &order_id, &access).await.is_empty());
    let url = app.api("/api/v1/datasets/visits/versions/1/files/records.csv");
    let body = app.download_with(&url, &access).await;
    assert_eq!(body.as_ref(), SECRET_CSV);

    let listed = receipts(&app, &order_id, &access).await;
    assert_eq!(listed.len(), 1);
    let receipt = &listed[0]["receipt"];
    assert_eq!(proof::verify_document(receipt).expect("node-signed"), node);
    assert_eq!(receipt["sha256"], sha256_hex(SECRET_CSV));
    assert_eq!(receipt["bytes"], SECRET_CSV.len());
    assert_eq!(receipt["order"], order_id.as_str());
    assert_eq!(receipt["delivery"], 1);
    assert_eq!(receipt["logIndex"], listed[0]["logIndex"]);

    // Anyone can check the receipt is in the log the node signed.
    let index = listed[0]["logIndex"].as_u64().expect("index");
    let (_, description) = app.get_json("/.well-known/shulian-node").await;
    let note = app.checkpoint_note().await;
    let checkpoint = shulian::ledger::Checkpoint::verify(
        &note,
        description["log"]["origin"].as_str().expect("origin"),
        &node.public_key(),
    )
    .expect("signed");
    let (_, inclusion) = app
        .get_json(&format!(
            "/api/v1/log/proof/inclusion?index={index}&size={}",
            checkpoint.size
        ))
        .await;
    let path = crate::helpers::b64_list(&inclusion["proof"]);
    let leaf = shulian::ledger::merkle::leaf_hash(canonical::canonicalize(receipt).expect("jcs").as_bytes());
    shulian::ledger::merkle::verify_inclusion(index, checkpoint.size, &leaf, &path, &checkpoint.root)
        .expect("receipt is logged");

    let stranger = app
        .http
        .get(app.api(&format!("/api/v1/orders/{order_id}/receipts")))
        .send()
        .await
        .expect("anonymous");
    assert_problem(stranger, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.stop().await;
}

async fn ranges_in_one_read_session_are_one_download_and_limits_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (order_id, access, _, _) = agreed_order(&app, "visits").await;
    let url = app.api("/api/v1/datasets/visits/versions/1/files/records.csv");
    let size = SECRET_CSV.len();
    let get_range = |range: String| {
        app.http
            .get(&url)
            .bearer_auth(&access)
            .header("range", range)
            .header("shulian-read-session", "resumable-1")
            .send()
    };

    let tail = get_range("bytes=10-".into()).await.expect("tail");
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().await.expect("body").as_ref(), &SECRET_CSV[10..]);
    let opened = receipts(&app, &order_id, &access).await;
    assert_eq!(opened.len(), 1, "a session is receipted with its first bytes");
    let head = get_range("bytes=0-4".into()).await.expect("head");
    assert_eq!(head.bytes().await.expect("body").as_ref(), &SECRET_CSV[..5]);
    assert_eq!(
        get_range(format!("bytes=3-{}", size - 1))
            .await
            .expect("overlap")
            .bytes()
            .await
            .expect("body")
            .len(),
        size - 3
    );
    let after_ranges = receipts(&app, &order_id, &access).await;
    assert_eq!(after_ranges, opened, "the session's ranges together are one download");
    assert_eq!(after_ranges[0]["receipt"]["delivery"], 1);
    assert_eq!(after_ranges[0]["receipt"]["covers"]["session"], "resumable-1");

    // The test offer allows two downloads per file: a second session is one, a third is refused.
    assert_eq!(app.download_with(&url, &access).await.as_ref(), SECRET_CSV);
    assert_eq!(receipts(&app, &order_id, &access).await.len(), 2);
    let third = app.http.get(&url).bearer_auth(&access).send().await.expect("third");
    assert_problem(third, StatusCode::FORBIDDEN, "order-inactive").await;
    assert_eq!(
        receipts(&app, &order_id, &access).await.len(),
        2,
        "nothing more was delivered"
    );
    app.stop().await;
}

async fn publishers_decide_requested_orders_and_revoke_agreements(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = app.publisher("hospital").await;
    let rival = app.publisher("rival").await;
    assert!(app.upload(&publisher, SECRET_CSV).await.status().is_success());
    let mut metadata = crate::helpers::metadata("reviewed", "licensed");
    metadata["offer"]["autoAccept"] = json!(false);
    let files = json!([{"name": "records.csv", "mediaType": "text/csv", "size": SECRET_CSV.len(), "sha256": sha256_hex(SECRET_CSV)}]);
    assert_eq!(
        app.post_version(&publisher, "reviewed", json!({"metadata": metadata, "files": files}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let node = node["id"].as_str().expect("did").to_owned();
    let (_, version) = app.get_json("/api/v1/datasets/reviewed/versions/1").await;
    let digest = version["manifestDigest"].as_str().expect("digest").to_owned();
    let url = app.api("/api/v1/datasets/reviewed/versions/1/files/records.csv");

    let first = place_reviewed(&app, &node, &digest).await;
    assert_eq!(first["state"], "REQUESTED");
    assert!(first.get("agreement").is_none());
    let (first_id, first_token) = (
        first["orderId"].as_str().expect("id"),
        first["accessToken"].as_str().expect("token"),
    );
    let early = app.http.get(&url).bearer_auth(first_token).send().await.expect("get");
    assert_problem(early, StatusCode::FORBIDDEN, "order-inactive").await;
    // The buyer follows the request with its token: no agreement yet.
    let waiting = status(&app, first_id, first_token).await;
    assert_eq!(waiting.status(), StatusCode::OK);
    let waiting: Value = waiting.json().await.expect("json");
    assert_eq!(
        (waiting["state"].as_str(), waiting.get("agreement")),
        (Some("REQUESTED"), None),
        "{waiting}"
    );
    assert_eq!(
        proof::verify_document(&waiting["order"])
            .expect("the signed order")
            .as_str(),
        waiting["buyer"]
    );

    let foreign = decide(&app, first_id, &rival, json!({"accept": true})).await;
    assert_problem(foreign, StatusCode::FORBIDDEN, "forbidden").await;
    let agreed = decide(&app, first_id, &publisher, json!({"accept": true})).await;
    assert_eq!(agreed.status(), StatusCode::OK);
    let agreement: Value = agreed.json().await.expect("json");
    assert_eq!(proof::verify_document(&agreement).expect("signed").as_str(), node);
    assert_eq!(agreement["state"], "AGREED");
    let twice = decide(&app, first_id, &publisher, json!({"accept": false})).await;
    assert_problem(twice, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(app.download_with(&url, first_token).await.as_ref(), SECRET_CSV);
    let decided: Value = status(&app, first_id, first_token).await.json().await.expect("json");
    assert_eq!(decided["state"], "AGREED");
    assert_eq!(
        decided["agreement"], agreement,
        "the buyer gets the agreement the publisher made"
    );
    assert_eq!(decided["completedDeliveries"], 1);

    let second = place_reviewed(&app, &node, &digest).await;
    let second_id = second["orderId"].as_str().expect("id");
    let rejected = decide(
        &app,
        second_id,
        &publisher,
        json!({"accept": false, "reason": "用途不符"}),
    )
    .await;
    let rejection: Value = rejected.json().await.expect("json");
    assert_eq!(
        (rejection["type"].as_str(), rejection["reason"].as_str()),
        (Some("ShulianOrderRejection"), Some("用途不符"))
    );
    let refused = app
        .http
        .get(&url)
        .bearer_auth(second["accessToken"].as_str().expect("token"))
        .send()
        .await
        .expect("get");
    assert_problem(refused, StatusCode::FORBIDDEN, "order-inactive").await;
    let second_token = second["accessToken"].as_str().expect("token");
    let ended: Value = status(&app, second_id, second_token).await.json().await.expect("json");
    assert_eq!(
        (ended["state"].as_str(), ended.get("agreement")),
        (Some("TERMINATED"), None)
    );
    assert_problem(
        status(&app, first_id, second_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Revocation: the token stops working, the receipt already given stays listed and valid.
    // A read session opened before it (its grant kept in the replica's memory) gets no
    // further range after it, and a bodyless HEAD is refused too.
    let ranged = |range: &'static str| {
        app.http
            .get(&url)
            .bearer_auth(first_token)
            .header("Shulian-Read-Session", "before-revocation")
            .header("Range", range)
            .send()
    };
    assert_eq!(
        ranged("bytes=0-3").await.expect("range").status(),
        StatusCode::PARTIAL_CONTENT
    );
    let log_before = app.ctx.store.log_size().await.expect("size");
    assert_eq!(revoke(&app, first_id, &publisher).await.status(), StatusCode::OK);
    assert_eq!(
        app.ctx.store.log_size().await.expect("size"),
        log_before + 1,
        "the revocation is logged"
    );
    let after = app.http.get(&url).bearer_auth(first_token).send().await.expect("get");
    assert_problem(after, StatusCode::FORBIDDEN, "order-inactive").await;
    assert_problem(
        ranged("bytes=4-7").await.expect("range"),
        StatusCode::FORBIDDEN,
        "order-inactive",
    )
    .await;
    let head = app.http.head(&url).bearer_auth(first_token).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::FORBIDDEN);
    let kept = receipts(&app, first_id, first_token).await;
    assert_eq!(
        kept.len(),
        2,
        "the download and the session opened before the revocation"
    );
    assert!(proof::verify_document(&kept[0]["receipt"]).is_ok());

    let orders = app.publisher_orders(&publisher).await;
    assert_eq!(orders.len(), 2);
    let first_view = orders.iter().find(|o| o["id"] == first_id).expect("listed");
    assert_eq!(
        (first_view["state"].as_str(), first_view["completedDeliveries"].as_u64()),
        (Some("TERMINATED"), Some(2))
    );
    assert!(
        first_view["refusals"].as_u64().is_some_and(|n| n >= 2),
        "refusals are recorded: {first_view}"
    );
    let for_publisher = app
        .http
        .get(app.api(&format!("/api/v1/orders/{first_id}/receipts")))
        .bearer_auth(&publisher)
        .send()
        .await
        .expect("receipts");
    assert_eq!(
        for_publisher.json::<Vec<Value>>().await.expect("json").len(),
        2,
        "the publisher sees the receipts too"
    );
    let for_rival = app
        .http
        .get(app.api(&format!("/api/v1/orders/{first_id}/receipts")))
        .bearer_auth(&rival)
        .send()
        .await
        .expect("receipts");
    assert_problem(for_rival, StatusCode::FORBIDDEN, "forbidden").await;
    let rival_listing = app.publisher_orders(&rival).await;
    assert!(rival_listing.is_empty());
    let revoked: Value = status(&app, first_id, first_token).await.json().await.expect("json");
    assert_eq!(revoked["state"], "TERMINATED");
    assert_eq!(revoked["agreement"], agreement, "the agreement stays on record");
    assert_eq!(status(&app, first_id, &publisher).await.status(), StatusCode::OK);
    assert_problem(status(&app, first_id, &rival).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        status(&app, "no-such-order", &publisher).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let anonymous = app
        .http
        .get(app.api(&format!("/api/v1/orders/{first_id}")))
        .send()
        .await
        .expect("status");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// An order's status as the holder of `token` reads it.
async fn status(app: &TestApp, order_id: &str, token: &str) -> reqwest::Response {
    app.http
        .get(app.api(&format!("/api/v1/orders/{order_id}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("status")
}

async fn place_reviewed(app: &TestApp, node: &str, digest: &str) -> Value {
    let buyer = KeyPair::generate();
    let body = signed(order(node, "reviewed", digest, &buyer), &buyer);
    post_order(app, &body).await.json().await.expect("json")
}

async fn decide(app: &TestApp, order_id: &str, token: &str, body: Value) -> reqwest::Response {
    let url = app.api(&format!("/api/v1/orders/{order_id}/decision"));
    app.http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("decision")
}

async fn a_third_party_verifies_the_evidence_with_public_tools(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    let (order_id, access, _, agreement) = agreed_order(&app, "visits").await;
    let url = app.api("/api/v1/datasets/visits/versions/1/files/records.csv");
    let delivered = app.download_with(&url, &access).await;
    let listed = receipts(&app, &order_id, &access).await;
    let receipt = listed[0]["receipt"].clone();
    let index = listed[0]["logIndex"].as_u64().expect("index");
    let note = app.checkpoint_note().await;
    let size: u64 = note.lines().nth(1).expect("size line").parse().expect("size");
    let (_, inclusion) = app
        .get_json(&format!("/api/v1/log/proof/inclusion?index={index}&size={size}"))
        .await;
    let (_, node) = app.get_json("/.well-known/shulian-node").await;

    let evidence = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, bytes: &[u8]| std::fs::write(evidence.path().join(name), bytes).expect("write");
    write("node.json", node.to_string().as_bytes());
    write("agreement.json", agreement.to_string().as_bytes());
    write("receipt.json", receipt.to_string().as_bytes());
    write("inclusion.json", inclusion.to_string().as_bytes());
    write("checkpoint.txt", note.as_bytes());
    write("delivered.bin", &delivered);
    let run = || {
        std::process::Command::new(&python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/verify_evidence.py"))
            .arg(evidence.path())
            .output()
            .expect("python runs")
    };
    let verified = run();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // The same checker catches a receipt altered after signing.
    let mut altered = receipt.clone();
    altered["bytes"] = json!(1);
    write("receipt.json", altered.to_string().as_bytes());
    let refused = run();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("FAIL"));
    app.stop().await;
}

async fn expired_agreements_refuse_downloads_and_record_the_refusal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (order_id, access, _, _) = agreed_order(&app, "visits").await;
    let url = app.api("/api/v1/datasets/visits/versions/1/files/records.csv");
    let first = app.http.get(&url).bearer_auth(&access).send().await.expect("get");
    assert_eq!(first.bytes().await.expect("body").as_ref(), SECRET_CSV);
    // Let the agreement's end pass (the node's clock is not ours to move).
    app.tamper(&format!(
        "UPDATE orders SET valid_until = '2020-01-01T00:00:00.000000Z' WHERE id = '{order_id}'"
    ))
    .await;
    let expired = app.http.get(&url).bearer_auth(&access).send().await.expect("get");
    let problem = assert_problem(expired, StatusCode::FORBIDDEN, "order-inactive").await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("expired")));
    let order = app.ctx.store.get_order(&order_id).await.expect("order");
    assert_eq!((order.completed_deliveries, order.refusals), (1, 1));
    assert_eq!(
        receipts(&app, &order_id, &access).await.len(),
        1,
        "the earlier receipt stays available"
    );
    app.stop().await;
}

/// Each replica keeps agreed grants in memory, so the replica a buyer reads from may still
/// hold the grant when the publisher revokes through another. The read is admitted against
/// the stored order in log order, so it is refused all the same and nothing is receipted.
async fn a_revocation_through_one_replica_stops_reads_through_another(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let second = first.replica(backend).await;
    let publisher = first.publisher("hospital").await;
    licensed(&first, &publisher, "records").await;
    let placed = place_test_order(&first, "records").await;
    let (order_id, token) = (
        placed["orderId"].as_str().expect("id"),
        placed["accessToken"].as_str().expect("token"),
    );
    let url = second.api("/api/v1/datasets/records/versions/1/files/records.csv");
    assert_eq!(second.download_with(&url, token).await.as_ref(), SECRET_CSV);
    assert_eq!(revoke(&first, order_id, &publisher).await.status(), StatusCode::OK);
    let after = second.http.get(&url).bearer_auth(token).send().await.expect("get");
    assert_problem(after, StatusCode::FORBIDDEN, "order-inactive").await;
    assert_eq!(receipts(&first, order_id, token).await.len(), 1);
}
