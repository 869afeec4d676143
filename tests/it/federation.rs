//! Catalog federation: a node harvests a peer's change feed, keeps each version only
//! once its manifest verifies under the peer's pinned key and is included in the
//! peer's log, resolves the peer's identifiers from what it harvested, and refuses
//! (and says why) what does not verify.

use reqwest::StatusCode;
use serde_json::Value;
use shulian::client::NodeClient;
use shulian::crypto::KeyPair;
use shulian::service::network;

use crate::cli::{json, shulian};
use crate::handles::{browser_destination, expect_refusals, value};
use crate::helpers::{Backend, TestApp, signed};
use crate::on_both_backends;

/// A peer that answers too much, or too slowly, is cut off: the harvester's client is bounded.
#[tokio::test]
async fn a_peers_answers_are_bounded_in_size_and_time() {
    use axum::routing::get;
    let huge = axum::Router::new()
        .route("/huge", get(|| async { vec![b' '; 4 * 1024 * 1024] }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, huge).await });
    let client = NodeClient::for_peer(&base, std::time::Duration::from_secs(1), 1024 * 1024).expect("client");
    let error = client.get_json::<Value>("/huge").await.expect_err("too large");
    assert!(format!("{error:#}").contains("more than 1048576 bytes"), "{error:#}");
    let started = std::time::Instant::now();
    client.get_bytes(&format!("{base}/slow")).await.expect_err("too slow");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

on_both_backends!(
    a_node_harvests_its_peers_catalog_and_resolves_its_identifiers,
    a_peer_listing_what_does_not_verify_is_refused,
    a_buyer_gets_and_orders_a_peers_data_found_at_another_node,
    a_peers_demands_are_harvested_verified_and_shown_where_to_answer,
    a_peers_datasets_are_found_by_search_with_the_node_holding_them
);

async fn digest(node: &TestApp, dataset: &str, version: u32) -> String {
    let (_, detail) = node
        .get_json(&format!("/api/v1/datasets/{dataset}/versions/{version}"))
        .await;
    detail["manifestDigest"].as_str().expect("digest").to_owned()
}

/// An industry node with its handle `prefix`, and a city node that knows nothing yet.
async fn industry_and_city(backend: Backend, prefix: &'static str) -> (TestApp, TestApp) {
    let industry = TestApp::spawn_with(backend.clone(), |settings| settings.handle_prefix = Some(prefix.into())).await;
    (industry, TestApp::spawn(backend).await)
}

/// `city` pins and harvests `industry`; the peer as `city` lists it.
async fn peer_and_harvest(city: &TestApp, industry: &TestApp) -> Value {
    if city.ctx.store.peer(&industry.url).await.expect("peer").is_none() {
        network::add_peer(city.ctx.store.as_ref(), &industry.url, None, false)
            .await
            .expect("peer added");
    }
    network::check_peers(city.ctx.store.as_ref()).await.expect("checked");
    let (_, peers) = city.get_json("/api/v1/peers").await;
    peers[0].clone()
}

async fn a_node_harvests_its_peers_catalog_and_resolves_its_identifiers(backend: Backend) {
    let (industry, city) = industry_and_city(backend, "86.1000.jt").await;
    let token = industry.publisher("bjtc").await;
    for (dataset, access, content) in [
        ("traffic", "open", &b"day,count\n1,10\n"[..]),
        ("traffic", "open", b"day,count\n1,10\n2,11\n"),
        ("clinic", "licensed", b"ward,beds\na,3\n"),
    ] {
        assert!(
            industry
                .publish(&token, dataset, access, &[("data.csv", content)])
                .await
                .status()
                .is_success()
        );
    }

    let peer = peer_and_harvest(&city, &industry).await;
    assert!(peer["lastError"].is_null(), "{peer}");
    assert!(peer["lastHarvestedAt"].is_string());
    assert_eq!(peer["identifierPrefix"], "86.1000.jt");
    let through = peer["harvestedThrough"].as_u64().expect("a position in the feed");

    let (status, series) = city.get_json("/api/handles/86.1000.jt/traffic").await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(
        value(&series, "URL"),
        format!("{}/datasets/traffic", industry.url),
        "it points to the origin"
    );
    assert_eq!(value(&series, "CHECKSUM"), digest(&industry, "traffic", 2).await);
    let (_, described) = industry.get_json("/.well-known/shulian-node").await;
    assert_eq!(value(&series, "SHULIAN_NODE"), described["id"].as_str().expect("did"));
    let (status, first) = city.get_json("/api/handles/86.1000.jt/traffic@1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(value(&first, "CHECKSUM"), digest(&industry, "traffic", 1).await);
    let (status, licensed) = city.get_json("/api/handles/86.1000.jt/clinic@1").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "licensed datasets are listed too (ordered at the origin)"
    );
    assert_eq!(value(&licensed, "URL"), format!("{}/datasets/clinic", industry.url));
    expect_refusals(
        &city,
        &[
            ("/api/handles/86.1000.jt/nothing", StatusCode::NOT_FOUND, 100),
            ("/api/handles/86.1000.jt/traffic@9", StatusCode::NOT_FOUND, 100),
            ("/api/handles/21.T11148/traffic", StatusCode::BAD_REQUEST, 301),
        ],
    )
    .await;
    assert_eq!(
        browser_destination(&city, "/api/handles/86.1000.jt/traffic").await,
        format!("{}/datasets/traffic", industry.url)
    );

    // Listed at the city node, each at its newest version, where it is held and ordered.
    let (_, listed) = city.get_json("/api/v1/peer-datasets").await;
    let listed = listed.as_array().expect("list").clone();
    let entry = |dataset: &str| {
        listed
            .iter()
            .find(|entry| entry["dataset"] == dataset)
            .unwrap_or_else(|| panic!("{dataset} listed: {listed:?}"))
            .clone()
    };
    assert_eq!(listed.len(), 2, "one entry per dataset: {listed:?}");
    let traffic = entry("traffic");
    assert_eq!(traffic["version"], 2);
    assert_eq!(traffic["identifier"], "86.1000.jt/traffic@2");
    assert_eq!(traffic["nodeUrl"], industry.url.as_str());
    assert_eq!(traffic["manifestDigest"], digest(&industry, "traffic", 2).await);
    let clinic = entry("clinic");
    assert_eq!(clinic["access"], "licensed");
    assert_eq!(clinic["url"], format!("{}/datasets/clinic", industry.url));
    // The city's DOIP service retrieves the peer's version as what it verified of it.
    let retrieved: Value = city
        .http
        .get(city.api("/doip"))
        .query(&[("operationId", "0.DOIP/Op.Retrieve"), ("targetId", "86.1000.jt/clinic")])
        .send()
        .await
        .expect("doip")
        .json()
        .await
        .expect("json");
    assert_eq!(retrieved["status"], "0.DOIP/Status.001", "{retrieved}");
    let object = &retrieved["output"];
    assert_eq!(object["id"], "86.1000.jt/clinic@1");
    assert_eq!(
        object["attributes"]["manifestDigest"],
        digest(&industry, "clinic", 1).await
    );
    assert_eq!(object["attributes"]["heldBy"]["url"], industry.url.as_str());
    assert_eq!(object["attributes"]["heldBy"]["node"], described["id"]);
    assert_eq!(object["elements"], serde_json::json!([]), "the holder serves the bytes");
    let home = city.page_text("/").await;
    assert!(
        home.contains("data-peer-dataset=\"clinic\"")
            && home.contains(&format!("class=\"order-at\" href=\"{}/datasets/clinic\"", industry.url)),
        "the city's catalog shows where the peer's licensed data is ordered"
    );

    // Nothing new: the feed position stays; something new: it is picked up incrementally.
    let again = peer_and_harvest(&city, &industry).await;
    assert_eq!(again["harvestedThrough"].as_u64(), Some(through));
    let published = industry
        .publish(&token, "traffic", "open", &[("data.csv", b"day,count\n3,9\n")])
        .await;
    assert!(published.status().is_success());
    let later = peer_and_harvest(&city, &industry).await;
    assert!(
        later["harvestedThrough"].as_u64().expect("position") > through,
        "{later}"
    );
    let (_, series) = city.get_json("/api/handles/86.1000.jt/traffic").await;
    assert_eq!(value(&series, "CHECKSUM"), digest(&industry, "traffic", 3).await);
}

async fn a_peer_listing_what_does_not_verify_is_refused(backend: Backend) {
    let (industry, city) = industry_and_city(backend, "86.1000.qx").await;
    let token = industry.publisher("weather").await;
    assert!(
        industry
            .publish(&token, "rain", "open", &[("data.csv", b"h,mm\n1,2\n")])
            .await
            .status()
            .is_success()
    );
    let peer = peer_and_harvest(&city, &industry).await;
    let through = peer["harvestedThrough"].as_u64().expect("harvested");

    // The peer now serves a manifest its key did not sign (its database altered).
    assert!(
        industry
            .publish(&token, "wind", "open", &[("data.csv", b"h,ms\n1,3\n")])
            .await
            .status()
            .is_success()
    );
    industry
        .tamper("UPDATE versions SET manifest = REPLACE(manifest, 'wind dataset', 'wind dataset, altered') WHERE dataset_id = 'wind'")
        .await;
    let refused = peer_and_harvest(&city, &industry).await;
    let error = refused["lastError"].as_str().expect("the refusal is recorded");
    assert!(error.starts_with("harvest:") && error.contains("wind"), "{error}");
    assert_eq!(
        refused["harvestedThrough"].as_u64(),
        Some(through),
        "nothing past the bad version is kept"
    );
    let (status, _) = city.get_json("/api/handles/86.1000.qx/wind").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = city.get_json("/api/handles/86.1000.qx/rain").await;
    assert_eq!(status, StatusCode::OK, "what verified before stays");
}

/// A buyer names a peer's dataset by its identifier at the node that harvested it; open
/// files are downloaded from, and the order placed at, the peer that holds it (the
/// resolver never sees the order or its token), and only when that peer signs as the DID
/// the resolver pinned and serves the manifest it verified.
async fn a_buyer_gets_and_orders_a_peers_data_found_at_another_node(backend: Backend) {
    let (industry, city) = industry_and_city(backend, "86.1000.jt").await;
    let publisher = industry.publisher("bjtc").await;
    let content = &b"ward,beds\na,3\n"[..];
    for (dataset, access) in [("clinic", "licensed"), ("roads", "open")] {
        let published = industry
            .publish(&publisher, dataset, access, &[("data.csv", content)])
            .await;
        assert!(published.status().is_success());
    }
    let peer = peer_and_harvest(&city, &industry).await;
    assert!(peer["lastError"].is_null(), "{peer}");

    let work = tempfile::tempdir().expect("dir");
    let key = work.path().join("buyer.key");
    let key = key.to_str().expect("utf-8");
    assert!(shulian(&["keygen", "--out", key]).await.success);
    let out = work.path().join("order");
    let order = |target: &'static str, resolver: String, out: String| async move {
        shulian(&[
            "order",
            target,
            "--key",
            key,
            "--purpose",
            "research",
            "--node",
            &resolver,
            "--out",
            &out,
            "--json",
        ])
        .await
    };
    let roads = work.path().join("roads");
    let got = json(
        &shulian(&[
            "get",
            "86.1000.JT/roads",
            "--node",
            &city.url,
            "--out",
            &roads.display().to_string(),
            "--json",
        ])
        .await,
    );
    let (_, described) = industry.get_json("/.well-known/shulian-node").await;
    assert_eq!(got["node"], described["id"], "downloaded from the holder: {got}");
    assert_eq!(std::fs::read(roads.join("data.csv")).expect("downloaded"), content);
    let placed = json(&order("hdl:86.1000.jt/clinic", city.url.clone(), out.display().to_string()).await);
    assert_eq!(placed["state"], "AGREED", "{placed}");
    assert_eq!(placed["node"], industry.url.as_str(), "ordered where it is held");
    assert_eq!(placed["version"], 1);
    let order_id = placed["orderId"].as_str().expect("id");
    assert!(
        industry.ctx.store.get_order(order_id).await.is_ok(),
        "the order is at the origin"
    );
    assert_eq!(
        city.count("SELECT COUNT(*) FROM orders").await,
        0,
        "the resolver holds no order"
    );
    let token = std::fs::read_to_string(out.join("token")).expect("token saved");
    let file = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/datasets/clinic/versions/1/files/data.csv",
            industry.url
        ))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("download");
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.bytes().await.expect("body").as_ref(), content);

    // A resolver that names another key for the holder, or another manifest than the one
    // the holder serves, gets nothing ordered.
    let right_did = value(&city.get_json("/api/handles/86.1000.jt/clinic").await.1, "SHULIAN_NODE");
    let right_digest = digest(&industry, "clinic", 1).await;
    let other_did = shulian::crypto::KeyPair::generate().did().to_string();
    for (did, checksum, refusal) in [
        (other_did, right_digest.clone(), "answers as"),
        (right_did, format!("sha256:{}", "0".repeat(64)), "not the"),
    ] {
        let record = serde_json::json!({
            "responseCode": 1,
            "handle": "86.1000.jt/clinic",
            "values": [
                {"index": 1, "type": "SHULIAN_NODE_URL", "data": {"format": "string", "value": industry.url}},
                {"index": 2, "type": "SHULIAN_NODE", "data": {"format": "string", "value": did}},
                {"index": 3, "type": "SHULIAN_VERSION", "data": {"format": "string", "value": "1"}},
                {"index": 4, "type": "CHECKSUM", "data": {"format": "string", "value": checksum}},
            ],
        });
        let resolver = axum::Router::new().route(
            "/api/handles/86.1000.jt/clinic",
            axum::routing::get(move || async move { axum::Json(record) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, resolver).await });
        let elsewhere = work.path().join("refused");
        let refused = order("86.1000.jt/clinic", base.clone(), elsewhere.display().to_string()).await;
        assert!(!refused.success, "ordered despite a resolver that {refusal}");
        assert!(refused.stderr.contains(refusal), "{}", refused.stderr);
        let elsewhere_arg = elsewhere.display().to_string();
        let refused = shulian(&["get", "86.1000.jt/clinic", "--node", &base, "--out", &elsewhere_arg]).await;
        assert!(!refused.success, "downloaded despite a resolver that {refusal}");
        assert!(refused.stderr.contains(refusal), "{}", refused.stderr);
        assert!(!elsewhere.exists(), "nothing saved");
    }
    assert_eq!(
        industry.count("SELECT COUNT(*) FROM orders").await,
        1,
        "no other order placed"
    );
}

/// A peer's demand board is harvested with its catalog: a buyer's demand and the peer
/// operator's challenge are kept (each poster's signature checked), listed by the API
/// and on the board's page with a link to answer them at the peer; a demand whose signed
/// document the peer altered is refused, loudly, and nothing of that harvest replaces
/// what verified before.
async fn a_peers_demands_are_harvested_verified_and_shown_where_to_answer(backend: Backend) {
    let (industry, city) = industry_and_city(backend, "86.1000.xq").await;
    let (_, description) = industry.get_json("/.well-known/shulian-node").await;
    let node = description["id"].as_str().expect("did").to_owned();
    let poster = KeyPair::generate();
    let post = |document: Value| {
        let request = industry.http.post(industry.api("/api/v1/demands")).json(&document);
        async move {
            let response = request.send().await.expect("post");
            assert_eq!(response.status(), StatusCode::CREATED);
            response.json::<Value>().await.expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    };
    let wanted = post(signed(
        crate::demands::demand(&node, &poster, 30_000, chrono::Duration::days(7)),
        &poster,
    ))
    .await;
    let mut challenge = crate::demands::demand(&node, &industry.ctx.node.key, 80_000, chrono::Duration::days(30));
    challenge["kind"] = serde_json::json!("challenge");
    challenge["awardFen"] = serde_json::json!(200_000);
    let challenge = post(signed(challenge, &industry.ctx.node.key)).await;

    let peer = peer_and_harvest(&city, &industry).await;
    assert!(peer["lastError"].is_null(), "{peer}");
    let (_, listed) = city.get_json("/api/v1/peer-demands").await;
    let listed = listed.as_array().expect("list").clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    for (id, kind) in [(&wanted, "demand"), (&challenge, "challenge")] {
        let item = listed.iter().find(|item| item["id"] == id.as_str()).expect("harvested");
        assert_eq!(item["kind"], kind);
        assert_eq!(item["nodeUrl"], industry.url.as_str());
        assert_eq!(item["url"], format!("{}/demands/{id}", industry.url));
        assert_eq!(item["state"], "OPEN");
        assert!(shulian::crypto::proof::verify_document(&item["document"]).is_ok());
    }
    let page = city.page_text("/demands").await;
    assert!(
        page.contains(&format!("data-peer-demand=\"{wanted}\""))
            && page.contains(&format!("href=\"{}/demands/{wanted}\"", industry.url)),
        "the board shows where to answer a peer's demand"
    );

    // The peer alters a newer demand's signed document in its database.
    let mut altered = crate::demands::demand(&node, &poster, 10_000, chrono::Duration::days(3));
    altered["title"] = serde_json::json!({"zh": "原始标题"});
    post(signed(altered, &poster)).await;
    industry
        .tamper("UPDATE demands SET document = REPLACE(document, '原始标题', '篡改标题')")
        .await;
    let refused = peer_and_harvest(&city, &industry).await;
    let error = refused["lastError"].as_str().expect("the refusal is recorded");
    assert!(error.starts_with("harvest:") && error.contains("demand"), "{error}");
    let (_, still) = city.get_json("/api/v1/peer-demands").await;
    assert_eq!(still.as_array().map(Vec::len), Some(2), "{still}");
    assert!(!still.to_string().contains("篡改标题"));
}

/// Searches the peers' datasets at `node` until `found` holds (the index applies the
/// harvest's search changes a moment after it is kept), or fails after 10 s.
async fn peer_search_until(node: &TestApp, query: &str, found: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, page) = node.get_json(&format!("/api/v1/peer-datasets/search?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        if found(&page) {
            return page;
        }
        assert!(std::time::Instant::now() < deadline, "{query}: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn a_peers_datasets_are_found_by_search_with_the_node_holding_them(backend: Backend) {
    let (industry, city) = industry_and_city(backend, "86.1000.jt").await;
    let token = industry.publisher("bjtc").await;
    for (dataset, access) in [("traffic", "open"), ("clinic", "licensed")] {
        let published = industry
            .publish(&token, dataset, access, &[("data.csv", b"k,v\n1,2\n")])
            .await;
        assert!(published.status().is_success());
    }
    let local = city.publisher("city").await;
    assert!(
        city.publish(&local, "parks", "open", &[("data.csv", b"k,v\n1,2\n")])
            .await
            .status()
            .is_success()
    );
    peer_and_harvest(&city, &industry).await;

    // Found by English words and by the pinyin of their Chinese keyword, with their holder.
    let page = peer_search_until(&city, "q=traffic", |page| page["total"] == 1).await;
    let found = &page["items"][0];
    assert_eq!(found["dataset"], "traffic");
    assert_eq!(found["nodeUrl"], industry.url.as_str());
    assert_eq!(found["identifier"], "86.1000.jt/traffic@1");
    assert_eq!(found["url"], format!("{}/datasets/traffic", industry.url));
    assert_eq!(found["manifestDigest"], digest(&industry, "traffic", 1).await.as_str());
    assert_eq!(
        page["facets"]["node"],
        serde_json::json!([{"value": "86.1000.jt", "count": 1}])
    );
    let page = peer_search_until(&city, "q=jiaotong", |page| page["total"] == 2).await;
    assert_eq!(page["facets"]["access"].as_array().map(Vec::len), Some(2), "{page}");
    let page = peer_search_until(&city, "q=jiaotong&access=licensed", |page| page["total"] == 1).await;
    assert_eq!(page["items"][0]["dataset"], "clinic");
    peer_search_until(&city, "q=jiaotong&node=86.1000.qx", |page| page["total"] == 0).await;

    // The catalog's own searches (and everything built on them) list this node's datasets only.
    let (_, own) = city.get_json("/api/v1/datasets?q=jiaotong").await;
    assert_eq!(own["total"], 1, "{own}");
    assert_eq!(own["items"][0]["id"], "parks");
    assert!(own["facets"].get("node").is_none(), "{own}");
    // The web search shows both, the peer's hosted at the peer, licensed data ordered there.
    let html = city.page_text("/search?q=jiaotong").await;
    let peer_results = html
        .split("id=\"peer-results\"")
        .nth(1)
        .expect("a section of peers' datasets");
    assert!(
        peer_results.contains(&format!("href=\"{}/datasets/clinic\"", industry.url)),
        "{peer_results}"
    );
    assert!(peer_results.contains("order-at"), "{peer_results}");

    // DCAT: the peers' datasets are a catalogue of the node's catalogue, each under its
    // origin's IRI, published by the peer and landing at its page; DCAT-AP 3 conformant.
    let (_, catalog) = city.get_json("/catalog.jsonld").await;
    let peers_catalog = format!("{}/peers/catalog.jsonld", city.url);
    assert_eq!(catalog["dcat:catalog"][0]["@id"], peers_catalog.as_str(), "{catalog}");
    let (status, peers_page) = city.get_json("/peers/catalog.jsonld").await;
    assert_eq!(status, StatusCode::OK);
    let listed = peers_page["dcat:dataset"].as_array().expect("datasets");
    assert_eq!(listed.len(), 2, "{peers_page}");
    let clinic = listed
        .iter()
        .find(|node| node["dct:identifier"] == "86.1000.jt/clinic")
        .expect("clinic");
    assert_eq!(clinic["@id"], format!("{}/api/v1/datasets/clinic", industry.url));
    assert_eq!(
        clinic["dcat:landingPage"]["@id"],
        format!("{}/datasets/clinic", industry.url)
    );
    let (_, described) = industry.get_json("/.well-known/shulian-node").await;
    assert_eq!(clinic["dct:publisher"]["foaf:name"], described["name"]);
    assert!(
        clinic["dct:accessRights"]["@id"]
            .as_str()
            .is_some_and(|right| right.ends_with("RESTRICTED"))
    );
    assert!(peers_page["hydra:view"].get("hydra:next").is_none(), "one page");
    let refused = city.get("/peers/catalog.jsonld?cursor=nonsense").await;
    crate::helpers::assert_problem(refused, StatusCode::BAD_REQUEST, "invalid-request").await;
    if let Some(python) = crate::helpers::test_python() {
        let shapes =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dcat-ap-3.0.1/dcat-ap-SHACL.ttl");
        let args: Vec<&std::ffi::OsStr> = vec![
            city.url.as_ref(),
            shapes.as_os_str(),
            "/catalog.jsonld".as_ref(),
            "/peers/catalog.jsonld".as_ref(),
        ];
        let summary = crate::helpers::run_python_check(&python, "dcat_ap_check.py", &args).await;
        assert_eq!(summary["conforms"], true, "{summary}");
    }

    // CKAN: a harvester of this node finds the peer's datasets among its own, each a package
    // with the peer's identifier, its origin's URL and its holder as the organization.
    let (_, found) = city.get_json("/api/3/action/package_search?q=jiaotong&rows=10").await;
    assert_eq!(found["result"]["count"], 3, "{found}");
    let packages = found["result"]["results"].as_array().expect("results");
    let clinic = packages
        .iter()
        .find(|package| package["id"] == "86.1000.jt/clinic")
        .expect("the peer's package");
    assert_eq!(clinic["url"], format!("{}/datasets/clinic", industry.url));
    assert_eq!(clinic["organization"]["title"], described["name"]);
    assert_eq!(clinic["name"], "86-1000-jt--clinic");
    assert_eq!(clinic["num_resources"], 0);
    let extra = |package: &Value, key: &str| {
        package["extras"]
            .as_array()
            .and_then(|extras| extras.iter().find(|extra| extra["key"] == key))
            .map(|extra| extra["value"].clone())
    };
    assert_eq!(extra(clinic, "held_by"), Some(Value::from(industry.url.as_str())));
    assert_eq!(extra(clinic, "access"), Some(Value::from("licensed")));
    assert!(packages.iter().any(|package| package["id"] == "parks"), "its own too");
    let (status, shown) = city.get_json("/api/3/action/package_show?id=86.1000.jt/clinic").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["result"], *clinic);
    let (status, _) = city.get_json("/api/3/action/package_show?id=86.1000.jt/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A new version at the peer: the index holds the newest harvested.
    let published = industry
        .publish(&token, "traffic", "open", &[("data.csv", b"k,v\n3,4\n")])
        .await;
    assert!(published.status().is_success());
    peer_and_harvest(&city, &industry).await;
    peer_search_until(&city, "q=traffic", |page| page["items"][0]["version"] == 2).await;

    // A peer removed takes its datasets out of the index.
    network::remove_peer(city.ctx.store.as_ref(), &industry.url)
        .await
        .expect("removed");
    peer_search_until(&city, "q=jiaotong", |page| page["total"] == 0).await;
    for node in [industry, city] {
        node.stop().await;
    }
}
