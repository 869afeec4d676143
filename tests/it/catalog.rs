//! Publishing and reading the catalog over the API.

use reqwest::StatusCode;
use serde_json::json;
use shulian::crypto::{Did, canonical, proof};

use crate::helpers::{Backend, TestApp, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    publish_then_read_dataset_version_and_signed_manifest,
    republishing_unchanged_is_a_no_op_and_changes_make_the_next_version,
    listing_filters_and_paginates_without_repeats,
    node_describes_itself_and_reports_readiness,
    demo_catalog_loads_idempotently,
);

async fn publish_then_read_dataset_version_and_signed_manifest(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("beijing").await;
    let csv = "站点,流量\n东直门,1200\n".as_bytes();

    let response = app
        .publish(
            &token,
            "traffic",
            "open",
            &[("flows.csv", csv), ("notes/说明.txt", b"hello")],
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"], "/api/v1/datasets/traffic/versions/1");
    let outcome: serde_json::Value = response.json().await.expect("json");
    assert_eq!(outcome, json!({"dataset": "traffic", "version": 1, "created": true}));

    let (status, dataset) = app.get_json("/api/v1/datasets/traffic").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dataset["publisher"], "beijing");
    assert_eq!(dataset["title"]["zh"], "traffic 数据集");
    assert_eq!(dataset["access"], "open");
    assert_eq!(dataset["latestVersion"], 1);
    assert_eq!(dataset["versions"].as_array().map(Vec::len), Some(1));

    let (status, version) = app.get_json("/api/v1/datasets/traffic/versions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["files"][0]["name"], "flows.csv");
    assert_eq!(version["files"][0]["size"], csv.len());
    assert_eq!(version["files"][0]["sha256"], sha256_hex(csv));
    // The node derived a Parquet copy of the CSV file and lists it beside the original.
    assert_eq!(version["files"][1]["name"], "flows.parquet");
    assert_eq!(version["files"][1]["derivedFrom"], "flows.csv");
    assert_eq!(version["files"][1]["mediaType"], "application/vnd.apache.parquet");
    assert_eq!(version["files"][2]["name"], "notes/说明.txt");

    // The manifest is signed by the node's published key and lists exactly the files.
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let node_did: Did = node["id"].as_str().expect("did").parse().expect("did:key");
    let manifest_text = app
        .http
        .get(app.api("/api/v1/datasets/traffic/versions/latest/manifest"))
        .send()
        .await
        .expect("manifest")
        .text()
        .await
        .expect("text");
    let manifest = canonical::parse_strict(manifest_text.as_bytes()).expect("strict JSON");
    assert_eq!(
        canonical::canonicalize(&manifest).expect("canonical"),
        manifest_text,
        "served in canonical form"
    );
    assert_eq!(proof::verify_document(&manifest).expect("valid proof"), node_did);
    assert_eq!(manifest["files"], version["files"]);
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["proof"]["cryptosuite"], "eddsa-jcs-2022");
    let digest = format!("sha256:{}", sha256_hex(manifest_text.as_bytes()));
    assert_eq!(version["manifestDigest"], digest);
    app.stop().await;
}

async fn republishing_unchanged_is_a_no_op_and_changes_make_the_next_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("pub-a").await;
    assert_eq!(
        app.publish(&token, "air", "open", &[("a.csv", b"x\n1\n")])
            .await
            .status(),
        StatusCode::CREATED
    );

    let again = app.publish(&token, "air", "open", &[("a.csv", b"x\n1\n")]).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<serde_json::Value>().await.expect("json")["created"], false);

    let changed = app.publish(&token, "air", "open", &[("a.csv", b"x\n2\n")]).await;
    assert_eq!(changed.status(), StatusCode::CREATED);
    let (_, dataset) = app.get_json("/api/v1/datasets/air").await;
    let versions: Vec<u64> = dataset["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_u64())
        .collect();
    assert_eq!(versions, vec![2, 1], "newest first");
    // Version 1 is immutable: it still serves its own bytes.
    let (_, first) = app.get_json("/api/v1/datasets/air/versions/1").await;
    assert_eq!(first["files"][0]["sha256"], sha256_hex(b"x\n1\n"));
    app.stop().await;
}

async fn listing_filters_and_paginates_without_repeats(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alpha = app.publisher("alpha").await;
    let beta = app.publisher("beta").await;
    for index in 0..5 {
        app.publish(
            &alpha,
            &format!("a-{index}"),
            "open",
            &[("f.csv", format!("{index}").as_bytes())],
        )
        .await;
    }
    app.publish(&beta, "b-licensed", "licensed", &[("f.csv", b"secret")])
        .await;

    let (_, licensed) = app.get_json("/api/v1/datasets?access=licensed").await;
    assert_eq!(licensed["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(licensed["items"][0]["id"], "b-licensed");
    let (_, by_publisher) = app.get_json("/api/v1/datasets?publisher=beta").await;
    assert_eq!(by_publisher["items"][0]["id"], "b-licensed");
    let (_, by_keyword) = app
        .get_json("/api/v1/datasets?keyword=%E4%BA%A4%E9%80%9A&limit=100")
        .await;
    assert_eq!(by_keyword["items"].as_array().map(Vec::len), Some(6));
    let (_, none) = app.get_json("/api/v1/datasets?keyword=absent").await;
    assert_eq!(none["items"], json!([]));

    // Walk pages of two while new datasets keep arriving: every dataset that
    // existed when the walk began is seen exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/datasets?limit=2&cursor={cursor}"),
            None => "/api/v1/datasets?limit=2".to_owned(),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::OK);
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        if added < 3 {
            app.publish(&alpha, &format!("0-new-{added}"), "open", &[("f.csv", b"new")])
                .await;
            added += 1;
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "no repeats, in order");
    for original in ["a-0", "a-1", "a-2", "a-3", "a-4", "b-licensed"] {
        assert!(seen.iter().any(|id| id == original), "{original} was skipped");
    }
    app.stop().await;
}

async fn node_describes_itself_and_reports_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, node) = app.get_json("/.well-known/shulian-node").await;
    assert_eq!(status, StatusCode::OK);
    let did: Did = node["id"].as_str().expect("id").parse().expect("a did:key");
    assert_eq!(did.public_key().multibase(), node["publicKeyMultibase"]);
    assert_eq!(node["software"]["name"], "shulian");
    assert_eq!(node["endpoints"]["api"], format!("{}/api/v1", app.url));
    assert_eq!(
        app.http
            .get(app.api("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        StatusCode::OK
    );
    let ready = app.http.get(app.api("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(ready.headers().contains_key("x-request-id"));
    // The key survives a restart: the node's identity is stable.
    let reopened = shulian::app::App::build(&app.config).await.expect("rebuild");
    assert_eq!(reopened.context().node.key.public().did().as_str(), node["id"]);
    app.stop().await;
}

async fn demo_catalog_loads_idempotently(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let loaded = shulian::service::demo::load_demo_catalog(&app.ctx, &app.config.catalog_dir)
        .await
        .expect("demo loads");
    assert!(loaded >= 2, "the demo catalog has several datasets");
    let (_, first) = app.get_json("/api/v1/datasets?limit=100").await;
    shulian::service::demo::load_demo_catalog(&app.ctx, &app.config.catalog_dir)
        .await
        .expect("reloads");
    let (_, second) = app.get_json("/api/v1/datasets?limit=100").await;
    assert_eq!(first, second, "loading again changes nothing");
    let items = first["items"].as_array().expect("items");
    assert_eq!(items.len(), loaded);
    assert!(
        items.iter().any(|item| item["access"] == "licensed"),
        "the demo shows a licensed dataset too"
    );
    app.stop().await;
}
