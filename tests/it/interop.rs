//! CKAN Action API, DCAT and Data Package: shapes, errors, and the real
//! `ckanapi`, `rdflib` and `frictionless` against a running node.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, metadata, place_test_order, run_python_check, sha256_hex, test_python};
use crate::on_both_backends;
use crate::web::publish_market;

on_both_backends!(
    ckan_actions_answer_in_ckan_shapes,
    dcat_and_data_package_describe_every_file,
    the_real_ckan_rdf_and_frictionless_tools_read_the_node,
    the_dcat_catalog_conforms_to_dcat_ap_3,
    harvesters_and_crawlers_gather_every_dataset_once,
    a_generated_openapi_client_calls_every_read_operation,
);

const FLOWS: &str = "路口,日期,时间,车流量,均速\n东直门,2026-10-01,2026-10-01 08:00:00,1832,23.5\n国贸桥,2026-10-01,2026-10-01 09:00:00,2410,18.2\n";

async fn market(app: &TestApp) {
    let mut traffic = metadata("traffic", "open");
    traffic["keywords"] = json!(["交通", "traffic"]);
    let mut visits = metadata("visits", "licensed");
    visits["keywords"] = json!(["医疗"]);
    publish_market(app, FLOWS, traffic, visits).await;
}

async fn action(app: &TestApp, prefix: &str, name: &str, query: &str) -> (StatusCode, Value) {
    app.get_json(&format!("{prefix}/{name}?{query}")).await
}

async fn ckan_actions_answer_in_ckan_shapes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    for prefix in ["/api/3/action", "/api/action"] {
        let (status, body) = action(&app, prefix, "status_show", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["success"], true);
        assert!(body["result"]["ckan_version"].as_str().is_some());
    }
    let (_, list) = action(&app, "/api/3/action", "package_list", "").await;
    assert_eq!(list["result"], json!(["traffic", "visits"]));

    let (_, found) = action(
        &app,
        "/api/3/action",
        "package_search",
        "q=%E4%BA%A4%E9%80%9A&facet.field=%5B%22tags%22,%22res_format%22%5D",
    )
    .await;
    assert_eq!(found["result"]["count"], 1);
    let package = &found["result"]["results"][0];
    assert_eq!(package["name"], "traffic");
    assert_eq!(package["owner_org"], "city");
    assert_eq!(package["organization"]["name"], "city");
    assert_eq!(package["license_id"], "CC-BY-4.0");
    assert_eq!(package["tags"][0]["name"], "交通");
    let resource = &package["resources"][0];
    assert_eq!(resource["format"], "CSV");
    assert_eq!(resource["hash"], sha256_hex(FLOWS.as_bytes()));
    assert_eq!(resource["size"], FLOWS.len());
    let downloaded = app
        .http
        .get(resource["url"].as_str().expect("url"))
        .send()
        .await
        .expect("get");
    assert_eq!(downloaded.bytes().await.expect("body").as_ref(), FLOWS.as_bytes());
    assert_eq!(found["result"]["facets"]["tags"]["交通"], 1);
    assert_eq!(
        found["result"]["search_facets"]["res_format"]["items"][0]["name"],
        "CSV"
    );

    let (_, filtered) = action(
        &app,
        "/api/3/action",
        "package_search",
        "fq=organization:hospital&rows=5",
    )
    .await;
    assert_eq!(filtered["result"]["count"], 1);
    assert_eq!(
        filtered["result"]["results"][0]["extras"]
            .as_array()
            .map(|e| e.iter().any(|x| x["key"] == "how_to_order")),
        Some(true)
    );
    let (_, paged) = action(
        &app,
        "/api/3/action",
        "package_search",
        "rows=1&start=1&sort=name%20asc",
    )
    .await;
    assert_eq!(paged["result"]["results"][0]["name"], "visits");
    let (status, beyond) = action(&app, "/api/3/action", "package_search", "start=4294967295").await;
    assert!(
        status.is_client_error(),
        "a start past the end of u32 is refused, not overflowed: {status}"
    );
    assert_eq!(beyond["success"], false);

    let (_, shown) = action(&app, "/api/3/action", "package_show", "id=traffic").await;
    assert_eq!(shown["result"]["num_resources"], 2, "the CSV and its Parquet copy");
    let resource_id = shown["result"]["resources"][0]["id"].as_str().expect("id").to_owned();
    let (_, resource) = action(&app, "/api/3/action", "resource_show", &format!("id={resource_id}")).await;
    assert_eq!(resource["result"]["name"], "flows.csv");
    let (_, orgs) = action(&app, "/api/3/action", "organization_list", "all_fields=true").await;
    assert_eq!(orgs["result"][0]["name"], "city");
    assert_eq!(orgs["result"][0]["package_count"], 1);
    let (_, org) = action(
        &app,
        "/api/3/action",
        "organization_show",
        "id=hospital&include_datasets=true",
    )
    .await;
    assert_eq!(org["result"]["packages"][0]["name"], "visits");
    let (_, licenses) = action(&app, "/api/3/action", "license_list", "").await;
    assert_eq!(licenses["result"][0]["id"], "CC-BY-4.0");
    let (_, tags) = action(&app, "/api/3/action", "tag_list", "").await;
    assert_eq!(tags["result"], json!(["traffic", "交通", "医疗"]));

    // What harvesters and portals also call, and the fields CKAN 2.10 packages carry.
    let package = &shown["result"];
    assert_eq!(package["isopen"], true, "open access under CC-BY-4.0");
    assert_eq!(package["groups"], json!([]));
    assert!(package["maintainer"].is_string() && package.get("author_email").is_some());
    assert_eq!(package["organization"]["package_count"], 1);
    let (_, groups) = action(&app, "/api/3/action", "group_list", "").await;
    assert_eq!(groups["result"], json!([]));
    let help_link = shown["help"].as_str().expect("help link").to_owned();
    let help_path = help_link.trim_start_matches(&app.url).to_owned();
    let (status, help) = app.get_json(&help_path).await;
    assert_eq!(status, StatusCode::OK, "{help_path}");
    assert!(
        help["result"]
            .as_str()
            .is_some_and(|text| text.starts_with("package_show")),
        "{help}"
    );
    let (status, _) = action(&app, "/api/3/action", "help_show", "name=nonsense").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, completed) = action(&app, "/api/3/action", "package_autocomplete", "q=traffic").await;
    assert_eq!(completed["result"][0]["name"], "traffic");
    let (_, current) = action(&app, "/api/3/action", "current_package_list_with_resources", "limit=1").await;
    let current = current["result"].as_array().expect("packages");
    assert_eq!(current.len(), 1);
    assert!(current[0]["resources"].as_array().is_some_and(|r| !r.is_empty()));

    // ckanapi POSTs JSON bodies.
    let posted: Value = app
        .http
        .post(app.api("/api/action/package_show"))
        .json(&json!({"id": "visits"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(posted["result"]["name"], "visits");

    for (name, query, status, kind) in [
        ("package_show", "id=nope", StatusCode::NOT_FOUND, "Not Found Error"),
        ("package_show", "", StatusCode::CONFLICT, "Validation Error"),
        (
            "resource_show",
            "id=traffic:nope.csv",
            StatusCode::NOT_FOUND,
            "Not Found Error",
        ),
        (
            "organization_show",
            "id=nobody",
            StatusCode::NOT_FOUND,
            "Not Found Error",
        ),
        ("package_search", "rows=lots", StatusCode::CONFLICT, "Validation Error"),
        (
            "package_search",
            "fq=tags:\"unclosed",
            StatusCode::CONFLICT,
            "Validation Error",
        ),
        (
            "package_search",
            &format!("q={}", "x".repeat(300)),
            StatusCode::CONFLICT,
            "Validation Error",
        ),
        ("user_list", "", StatusCode::BAD_REQUEST, "Not Found Error"),
    ] {
        let (got, body) = action(&app, "/api/3/action", name, query).await;
        assert_eq!(got, status, "{name}?{query}: {body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["__type"], kind, "{name}?{query}");
    }
    app.stop().await;
}

async fn dcat_and_data_package_describe_every_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let response = app.get("/catalog.jsonld").await;
    assert_eq!(response.headers()["content-type"], "application/ld+json");
    let catalog: Value = response.json().await.expect("json");
    assert_eq!(catalog["hydra:totalItems"], 2);
    let datasets = catalog["dcat:dataset"].as_array().expect("datasets");
    let traffic = &datasets[0];
    assert_eq!(traffic["dct:identifier"], "traffic");
    let distribution = &traffic["dcat:distribution"][0];
    assert_eq!(
        distribution["spdx:checksum"]["spdx:checksumValue"]["@value"],
        sha256_hex(FLOWS.as_bytes())
    );
    assert_eq!(distribution["dcat:byteSize"]["@value"], FLOWS.len().to_string());
    assert!(distribution["dcat:downloadURL"]["@id"].as_str().is_some());
    let visits = &datasets[1];
    assert!(
        visits["dcat:distribution"][0].get("dcat:downloadURL").is_none(),
        "licensed files are ordered, not downloaded"
    );
    assert_eq!(
        visits["dct:accessRights"]["@id"],
        "http://publications.europa.eu/resource/authority/access-right/RESTRICTED"
    );
    let (status, _) = app.get_json("/catalog.jsonld?page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, second) = app.get_json("/catalog.jsonld?page=2").await;
    assert_eq!(second["dcat:dataset"], json!([]));
    let (status, one) = app.get_json("/api/v1/datasets/traffic/dcat.jsonld").await;
    assert_eq!(status, StatusCode::OK);
    assert!(one["@context"]["dcat"].as_str().is_some());

    let (status, package) = app
        .get_json("/api/v1/datasets/traffic/versions/1/datapackage.json")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(package["name"], "traffic");
    let resources = package["resources"].as_array().expect("resources");
    assert_eq!(
        resources.len(),
        1,
        "the derived Parquet copy is not part of the package"
    );
    assert_eq!(resources[0]["hash"], format!("sha256:{}", sha256_hex(FLOWS.as_bytes())));
    let types: Vec<&str> = resources[0]["schema"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types, ["string", "date", "datetime", "integer", "number"]);
    let (status, _) = app.get_json("/api/v1/datasets/nope/versions/1/datapackage.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn the_real_ckan_rdf_and_frictionless_tools_read_the_node(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let digest = sha256_hex(FLOWS.as_bytes());
    let summary = run_python_check(&python, "catalog_tools_check.py", &[app.url.as_ref(), digest.as_ref()]).await;
    assert_eq!(summary["dumped"], 2);
    assert_eq!(summary["frictionless"], "valid");
    app.stop().await;
}

async fn the_dcat_catalog_conforms_to_dcat_ap_3(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let shapes =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dcat-ap-3.0.1/dcat-ap-SHACL.ttl");
    let args: Vec<&std::ffi::OsStr> = vec![
        app.url.as_ref(),
        shapes.as_os_str(),
        "/catalog.jsonld".as_ref(),
        "/api/v1/datasets/traffic/dcat.jsonld".as_ref(),
        "/api/v1/datasets/visits/dcat.jsonld".as_ref(),
    ];
    let summary = run_python_check(&python, "dcat_ap_check.py", &args).await;
    assert_eq!(summary["conforms"], true, "{summary}");
    assert_eq!(summary["violations"], json!({}), "{summary}");
}

/// Publishes `count` open datasets `{publisher}-000`… under a new publisher; its token and their names.
async fn publish_many(app: &TestApp, publisher: &str, count: usize) -> (String, Vec<String>) {
    use futures::StreamExt as _;
    let token = app.publisher(publisher).await;
    let names: Vec<String> = (0..count).map(|index| format!("{publisher}-{index:03}")).collect();
    futures::stream::iter(names.clone())
        .for_each_concurrent(8, |name| {
            let token = token.clone();
            async move {
                let bytes = format!("a,b\n{name},1\n");
                let status = app
                    .publish(&token, &name, "open", &[("rows.csv", bytes.as_bytes())])
                    .await
                    .status();
                assert_eq!(status, StatusCode::CREATED, "{name}");
            }
        })
        .await;
    (token, names)
}

/// ckanext-harvest's gather stage (replayed in Python, as the harvester pages) collects
/// every dataset exactly once across more than one page of 100, with its organization
/// include and exclude filters, and incrementally only what changed since a time; a DCAT
/// crawler following the catalog's `hydra:next` links does too.
async fn harvesters_and_crawlers_gather_every_dataset_once(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    let (city_token, city) = publish_many(&app, "city", 70).await;
    let (_, hospital) = publish_many(&app, "hospital", 45).await;
    let (_, old) = publish_many(&app, "old", 20).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = chrono::Utc::now()
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // After `since`: a new dataset, and a new version of an old one.
    let token = app.publisher("late").await;
    let status = app
        .publish(&token, "late-000", "open", &[("rows.csv", b"a\n1\n")])
        .await
        .status();
    assert_eq!(status, StatusCode::CREATED);
    let status = app
        .publish(&city_token, "city-005", "open", &[("rows.csv", b"a\n2\n")])
        .await
        .status();
    assert_eq!(status, StatusCode::CREATED);

    let summary = run_python_check(
        &python,
        "ckan_harvest_gather.py",
        &[
            app.url.as_ref(),
            since.as_ref(),
            "city,hospital".as_ref(),
            "old".as_ref(),
        ],
    )
    .await;
    let ids = |gather: &str| -> Vec<String> {
        assert_eq!(summary[gather]["duplicates"], 0, "{gather}: {}", summary[gather]);
        serde_json::from_value(summary[gather]["ids"].clone()).expect("ids")
    };
    let sorted = |mut names: Vec<String>| {
        names.sort();
        names
    };
    let everything = sorted([city.clone(), hospital.clone(), old.clone(), vec!["late-000".to_owned()]].concat());
    assert_eq!(ids("full"), everything, "sorted by id, every dataset once");
    assert_eq!(summary["full"]["pages"], 3, "two pages of results and the empty one");
    assert_eq!(ids("include"), sorted([city.clone(), hospital.clone()].concat()));
    assert_eq!(
        ids("exclude"),
        sorted([city, hospital, vec!["late-000".to_owned()]].concat())
    );
    assert_eq!(ids("since"), ["city-005", "late-000"]);
    assert_eq!(ids("include_since"), ["city-005"]);

    // A DCAT crawler follows hydra:next from the first page: cursors, so each page costs
    // one page however deep, and every dataset comes once.
    let mut crawled = Vec::new();
    let mut next = Some("/catalog.jsonld".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(page["hydra:totalItems"], everything.len());
        for dataset in page["dcat:dataset"].as_array().expect("datasets") {
            crawled.push(dataset["dct:identifier"].as_str().expect("identifier").to_owned());
        }
        pages += 1;
        next = page["hydra:view"]["hydra:next"]["@id"].as_str().map(|link| {
            assert!(link.contains("?cursor="), "{link}");
            link.trim_start_matches(app.url.as_str()).to_owned()
        });
    }
    assert_eq!(pages, 2);
    assert_eq!(crawled, everything);
    let (status, _) = app.get_json("/catalog.jsonld?cursor=not-a-cursor").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get_json("/catalog.jsonld?page=1&cursor=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

/// A client generated from the served OpenAPI document by openapi-python-client calls
/// every read operation and parses each JSON answer into its generated model.
async fn a_generated_openapi_client_calls_every_read_operation(backend: Backend) {
    let Some(python) = test_python() else { return };
    let app = TestApp::spawn(backend).await;
    market(&app).await;
    let placed = place_test_order(&app, "visits").await;
    let order_id = placed["orderId"].as_str().expect("order id");
    let order_token = placed["accessToken"].as_str().expect("agreed at once: a token");
    let publisher_token = app.publisher("reader").await;
    // A demand on the board, which the board's read operations then list and show.
    let poster = shulian::crypto::KeyPair::generate();
    let node = app.ctx.node.key.did().to_string();
    let demand = crate::helpers::signed(
        crate::demands::demand(&node, &poster, 10_000, chrono::Duration::days(1)),
        &poster,
    );
    let posted = app
        .http
        .post(app.api("/api/v1/demands"))
        .json(&demand)
        .send()
        .await
        .expect("demand");
    assert_eq!(posted.status(), reqwest::StatusCode::CREATED);
    let work = tempfile::tempdir().expect("work dir");
    let summary = run_python_check(
        &python,
        "openapi_client_check.py",
        &[
            app.url.as_ref(),
            work.path().as_os_str(),
            publisher_token.as_ref(),
            order_token.as_ref(),
            order_id.as_ref(),
        ],
    )
    .await;
    let operations = summary["operations"].as_object().expect("operations");
    assert!(operations.len() >= 20, "{summary}");
    let failed: Vec<_> = operations.iter().filter(|(_, result)| *result != "ok").collect();
    assert!(failed.is_empty(), "{failed:?}");
    app.stop().await;
}
