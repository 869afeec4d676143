//! Global identifiers: `<prefix>/<dataset>[@<version>]` resolved in the Handle.net
//! REST API's form, read by pyhandle, and sent to the dataset page for browsers.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, LOCATION};
use serde_json::Value;

use crate::helpers::{Backend, TestApp, run_python_check, test_python};
use crate::on_both_backends;

on_both_backends!(
    handles_resolve_datasets_and_versions_to_their_records,
    pyhandle_reads_a_dataset_handle,
);

/// A handle record's value of type `kind`.
pub fn value(record: &Value, kind: &str) -> String {
    record["values"]
        .as_array()
        .expect("values")
        .iter()
        .find(|value| value["type"] == kind)
        .and_then(|value| value["data"]["value"].as_str())
        .unwrap_or_else(|| panic!("no {kind} in {record}"))
        .to_owned()
}

async fn digest_of(app: &TestApp, version: u32) -> String {
    let (_, detail) = app
        .get_json(&format!("/api/v1/datasets/traffic/versions/{version}"))
        .await;
    detail["manifestDigest"].as_str().expect("digest").to_owned()
}

async fn handles_resolve_datasets_and_versions_to_their_records(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| settings.handle_prefix = Some("86.1000.ZS".into())).await;
    let token = app.publisher("bjtc").await;
    for content in [&b"day,count\n1,10\n"[..], b"day,count\n1,10\n2,12\n"] {
        let published = app.publish(&token, "traffic", "open", &[("flow.csv", content)]).await;
        assert!(published.status().is_success());
    }
    let (_, description) = app.get_json("/.well-known/shulian-node").await;
    assert_eq!(
        description["identifierPrefix"], "86.1000.zs",
        "configured prefixes are kept lowercase"
    );

    let (status, series) = app.get_json("/api/handles/86.1000.zs/traffic").await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(series["responseCode"], 1);
    assert_eq!(series["handle"], "86.1000.zs/traffic");
    assert_eq!(value(&series, "URL"), format!("{}/datasets/traffic", app.url));
    assert_eq!(
        value(&series, "CHECKSUM"),
        digest_of(&app, 2).await,
        "a dataset's handle names its newest version"
    );
    assert_eq!(value(&series, "SHULIAN_NODE"), description["id"].as_str().expect("did"));

    // Handles ignore ASCII case and may carry `hdl:`; a version's handle names that version.
    let (status, first) = app.get_json("/api/handles/hdl:86.1000.ZS/Traffic@1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["handle"], "86.1000.zs/traffic@1");
    assert_eq!(value(&first, "CHECKSUM"), digest_of(&app, 1).await);
    let manifest = app
        .http
        .get(value(&first, "SHULIAN_MANIFEST"))
        .send()
        .await
        .expect("manifest");
    assert_eq!(manifest.status(), StatusCode::OK);

    expect_refusals(
        &app,
        &[
            ("/api/handles/86.1000.zs/traffic@3", StatusCode::NOT_FOUND, 100),
            ("/api/handles/86.1000.zs/nothing", StatusCode::NOT_FOUND, 100),
            ("/api/handles/21.T11148/traffic", StatusCode::BAD_REQUEST, 301),
            ("/api/handles/86.1000.zs/traffic@0", StatusCode::BAD_REQUEST, 2),
            ("/api/handles/86.1000.zs/a/b", StatusCode::BAD_REQUEST, 2),
            ("/api/handles/no-slash", StatusCode::BAD_REQUEST, 2),
        ],
    )
    .await;
    assert_eq!(
        browser_destination(&app, "/api/handles/86.1000.zs/traffic@1").await,
        format!("{}/datasets/traffic", app.url)
    );
}

/// Asserts each path answers its HTTP status and Handle.net `responseCode`.
pub async fn expect_refusals(app: &TestApp, cases: &[(&str, StatusCode, i64)]) {
    for (path, status, code) in cases {
        let (answered, body) = app.get_json(path).await;
        assert_eq!(
            (answered, body["responseCode"].as_i64()),
            (*status, Some(*code)),
            "{path}: {body}"
        );
    }
}

/// Where a browser asking `path` is sent (303 See Other).
pub async fn browser_destination(app: &TestApp, path: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let redirected = browser
        .get(app.api(path))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("request");
    assert_eq!(redirected.status(), StatusCode::SEE_OTHER);
    redirected.headers()[LOCATION].to_str().expect("location").to_owned()
}

async fn pyhandle_reads_a_dataset_handle(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    let token = app.publisher("bjtc").await;
    let published = app
        .publish(&token, "traffic", "licensed", &[("flow.csv", b"day,count\n1,10\n")])
        .await;
    assert!(published.status().is_success());
    let (_, description) = app.get_json("/.well-known/shulian-node").await;
    let prefix = description["identifierPrefix"].as_str().expect("prefix");
    assert!(
        prefix.starts_with("sl."),
        "a default prefix comes from the key: {prefix}"
    );
    let handle = format!("{prefix}/traffic@1");
    let missing = format!("{prefix}/nothing");
    let summary = run_python_check(
        &python,
        "handle_check.py",
        &[app.url.as_ref(), handle.as_ref(), missing.as_ref()],
    )
    .await;
    assert_eq!(summary["record"]["URL"], format!("{}/datasets/traffic", app.url));
    assert_eq!(summary["checksum"], digest_of(&app, 1).await.as_str());
    assert_eq!(summary["record"]["CHECKSUM"], summary["checksum"]);
    assert!(
        summary["missing"].is_null(),
        "pyhandle reads a missing handle as none: {summary}"
    );
}
