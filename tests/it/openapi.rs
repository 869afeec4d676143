//! The OpenAPI document: committed, served, and true to the routes.

use std::path::PathBuf;

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};

/// The committed document; regenerate with `SHULIAN_UPDATE_SNAPSHOTS=1 cargo test`.
fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_document_matches_the_committed_snapshot_and_every_operation_is_routed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served = app
        .http
        .get(app.api("/api/v1/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .text()
        .await
        .expect("text");
    if std::env::var("SHULIAN_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(snapshot_path().parent().expect("parent")).expect("dir");
        std::fs::write(snapshot_path(), &served).expect("write snapshot");
    }
    let committed = std::fs::read_to_string(snapshot_path()).expect("tests/snapshots/openapi.json is committed");
    assert_eq!(served, committed, "the API changed: review and update the snapshot");

    // Every documented operation reaches a handler: neither the 404 nor the 405 fallback answers it.
    let document: serde_json::Value = serde_json::from_str(&served).expect("json");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10);
    for (template, operations) in paths {
        let path = template
            .replace("{dataset}", "no-such-dataset")
            .replace("{version}", "1")
            .replace("{name}", "f.csv")
            .replace("{sha256}", &"0".repeat(64));
        for method in operations.as_object().expect("operations").keys() {
            let method: reqwest::Method = method.to_uppercase().parse().expect("method");
            let response = app
                .http
                .request(method.clone(), app.api(&path))
                .send()
                .await
                .expect("request");
            assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {template}");
            if response.status() == StatusCode::NOT_FOUND && method != reqwest::Method::HEAD {
                let body: serde_json::Value = response.json().await.expect("problem");
                assert_ne!(
                    body["detail"], "no such endpoint",
                    "{method} {template} is documented but not routed"
                );
            }
        }
    }
    app.stop().await;
}
