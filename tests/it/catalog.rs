//! Publishing and reading the catalog over the API.

use reqwest::StatusCode;
use serde_json::json;
use shulian::crypto::{Did, canonical, proof};

use crate::helpers::{Backend, TestApp, assert_problem, place_test_order, sha256_hex};
use crate::on_both_backends;

on_both_backends!(
    publish_then_read_dataset_version_and_signed_manifest,
    republishing_unchanged_is_a_no_op_and_changes_make_the_next_version,
    listing_filters_and_paginates_without_repeats,
    node_describes_itself_and_reports_readiness,
    demo_catalog_loads_idempotently,
    the_change_feed_lists_each_published_version_once_in_log_order,
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
    assert!(
        outcome["searchSequence"].as_u64().is_some_and(|sequence| sequence > 0),
        "{outcome}"
    );
    assert_eq!(
        outcome,
        json!({"dataset": "traffic", "version": 1, "created": true, "searchSequence": outcome["searchSequence"]})
    );

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
    // The description is signed by the key it names, so a peer that pinned the DID can
    // trust the rest (log origin and verifier key, endpoints); any change breaks it.
    assert_eq!(node["type"], "ShulianNode");
    assert_eq!(proof::verify_document(&node).expect("signed by the node"), did);
    let mut altered = node.clone();
    altered["log"]["verifierKey"] = json!("attacker+00000000+AAAA");
    assert!(proof::verify_document(&altered).is_err());
    assert_eq!(
        app.http
            .get(app.api("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        StatusCode::OK
    );
    // Ready once the search index is built (at once here, the catalog being empty); until
    // then a 503 problem.
    let mut ready = app.http.get(app.api("/readyz")).send().await.expect("readyz");
    for _ in 0..100 {
        if ready.status() == StatusCode::OK {
            break;
        }
        assert_eq!(
            ready
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            Some("application/problem+json"),
            "{}",
            ready.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        ready = app.http.get(app.api("/readyz")).send().await.expect("readyz");
    }
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
    // A newcomer's first look is a market: datasets across the platform's domains, some
    // of them licensed under offers.
    assert!((15..=30).contains(&loaded), "{loaded} demo datasets");
    let licensed = items.iter().filter(|item| item["access"] == "licensed").count();
    assert!(licensed >= 3, "{licensed} licensed demo datasets");
    for domain in ["交通", "卫生健康", "生态环境", "市场主体", "人工智能"] {
        let (_, found) = app.get_json(&format!("/api/v1/datasets?keyword={domain}")).await;
        assert!(
            found["total"].as_u64().is_some_and(|total| total >= 2),
            "{domain}: {found}"
        );
    }
    // And two open demands, seeded once: a buyer's, and the operator's challenge signed
    // with the node's key.
    let (_, board) = app.get_json("/api/v1/demands").await;
    let demands = board["items"].as_array().expect("items");
    assert_eq!(demands.len(), 2, "seeded once: {board}");
    assert!(demands.iter().all(|demand| demand["state"] == "OPEN"));
    let challenge = demands
        .iter()
        .find(|demand| demand["kind"] == "challenge")
        .expect("a challenge");
    assert_eq!(challenge["poster"], app.ctx.node.key.did().to_string());
    assert!(demands.iter().any(|demand| demand["kind"] == "demand"));
    // The board by kind, over the API and on its page.
    for kind in ["challenge", "demand"] {
        let (_, only) = app.get_json(&format!("/api/v1/demands?kind={kind}")).await;
        let items = only["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{only}");
        assert_eq!(items[0]["kind"], kind);
    }
    let unknown = app
        .http
        .get(app.api("/api/v1/demands?kind=rumour"))
        .send()
        .await
        .expect("list");
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let page = app.page_text("/demands?kind=challenge").await;
    let title = |kind: &str| {
        demands.iter().find(|demand| demand["kind"] == kind).expect("demand")["title"]["zh"]
            .as_str()
            .expect("title")
            .to_owned()
    };
    assert!(
        page.contains(&title("challenge")) && !page.contains(&title("demand")),
        "{page}"
    );
    app.stop().await;
}

/// The change feed lists every published version once, in the order the log holds the
/// manifests (other entries, such as an order's, leave gaps), in bounded pages that each
/// continue after the last change read; a change's sequence is its manifest's log index.
async fn the_change_feed_lists_each_published_version_once_in_log_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, empty) = app.get_json("/api/v1/changes").await;
    assert_eq!((status, empty), (StatusCode::OK, json!({"changes": []})));
    let (roads, clinics) = (app.publisher("city").await, app.publisher("hospital").await);
    let published = [
        (&roads, "roads", "open", "路段,车速\n长安街,42\n"),
        (&clinics, "clinics", "licensed", "诊所,床位\n协和,12\n"),
        (&roads, "roads", "open", "路段,车速\n长安街,45\n"),
        (&roads, "air", "open", "站点,PM2.5\n东四,35\n"),
    ];
    for (position, (token, dataset, access, csv)) in published.iter().enumerate() {
        let response = app
            .publish(token, dataset, access, &[("data.csv", csv.as_bytes())])
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        if position == 1 {
            // An order's entries stand in the log between two publications.
            place_test_order(&app, "clinics").await;
        }
    }

    let mut read = Vec::new();
    let mut url = app.api("/api/v1/changes?limit=3");
    let mut pages = 0;
    let last = loop {
        let page: serde_json::Value = app
            .http
            .get(&url)
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("json");
        pages += 1;
        read.extend(page["changes"].as_array().expect("changes").iter().cloned());
        match page["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break page["last"].as_u64().expect("last"),
        }
    };
    assert_eq!(pages, 2, "3 changes, then 1");
    let listed: Vec<(&str, u64)> = read
        .iter()
        .map(|change| {
            (
                change["dataset"].as_str().expect("dataset"),
                change["version"].as_u64().expect("version"),
            )
        })
        .collect();
    assert_eq!(listed, [("roads", 1), ("clinics", 1), ("roads", 2), ("air", 1)]);
    let sequences: Vec<u64> = read
        .iter()
        .map(|change| change["sequence"].as_u64().expect("sequence"))
        .collect();
    assert!(
        sequences[2] > sequences[1] + 1,
        "the order's entries stand between: {sequences:?}"
    );
    assert_eq!(last, sequences[3]);
    for change in &read {
        let (dataset, version) = (change["dataset"].as_str().expect("dataset"), &change["version"]);
        let (_, served) = app
            .get_json(&format!("/api/v1/datasets/{dataset}/versions/{version}"))
            .await;
        assert_eq!(served["logIndex"], change["sequence"], "{change}");
        assert_eq!(served["manifestDigest"], change["manifestDigest"]);
        assert_eq!(served["access"], change["access"]);
    }
    assert_eq!(read[1]["publisher"], "hospital");

    // A follower polling after the last change finds nothing new until the next publication.
    let (_, caught_up) = app.get_json(&format!("/api/v1/changes?after={last}")).await;
    assert_eq!(caught_up, json!({"changes": [], "last": last}));
    let response = app
        .publish(
            &clinics,
            "clinics",
            "licensed",
            &[("data.csv", "诊所,床位\n协和,13\n".as_bytes())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let (_, fresh) = app.get_json(&format!("/api/v1/changes?after={last}")).await;
    assert_eq!(fresh["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&fresh["changes"][0]["dataset"], &fresh["changes"][0]["version"]),
        (&json!("clinics"), &json!(2))
    );

    for query in ["limit=0", "limit=1001", "after=-1", "after=first", "since=3"] {
        let refused = app
            .http
            .get(app.api(&format!("/api/v1/changes?{query}")))
            .send()
            .await
            .expect("get");
        assert_problem(refused, StatusCode::BAD_REQUEST, "invalid-request").await;
    }
}
