//! A network of real `shulian serve` processes, each with its own data directory,
//! database and port: peers pinned by the CLI, catalogs harvested and searched with
//! the node holding each dataset, identifiers of
//! one node resolved at the others, a buyer who finds a node's licensed data at
//! another and orders and fetches it at its origin, the evidence's checkpoint
//! cosigned by a third node witnessing the origin's log, an outage and a return, and a
//! swapped key.

use reqwest::StatusCode;
use serde_json::Value;

use crate::cli::{json, shulian};
use crate::handles::value;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::process::{NodeState, publish_version};

on_both_backends!(three_node_processes_peer_harvest_witness_and_resolve_each_others_identifiers);

async fn get_json(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `node`'s handle prefix, from its signed description.
async fn prefix_of(url: &str) -> String {
    let (_, description) = get_json(&format!("{url}/.well-known/shulian-node")).await;
    description["identifierPrefix"].as_str().expect("prefix").to_owned()
}

/// Runs a `shulian admin` command on `state`, which must succeed; its JSON output.
async fn admin(state: &NodeState, command: &[&str]) -> Value {
    let mut full = vec!["admin"];
    full.extend_from_slice(command);
    full.push("--json");
    let output = state.cli(&full).await;
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

/// The peer at `url` among what `check-peers` printed.
fn peer<'a>(checked: &'a Value, url: &str) -> &'a Value {
    checked
        .as_array()
        .expect("peers")
        .iter()
        .find(|peer| peer["url"] == url)
        .unwrap_or_else(|| panic!("no peer {url} in {checked}"))
}

/// What `resolver` answers for `handle`: the record's URL and CHECKSUM values.
async fn resolve(resolver: &str, handle: &str) -> Option<(String, String)> {
    let (status, record) = get_json(&format!("{resolver}/api/handles/{handle}")).await;
    if status != StatusCode::OK {
        return None;
    }
    Some((value(&record, "URL"), value(&record, "CHECKSUM")))
}

async fn digest(url: &str, dataset: &str, version: u32) -> String {
    let (_, detail) = get_json(&format!("{url}/api/v1/datasets/{dataset}/versions/{version}")).await;
    detail["manifestDigest"].as_str().expect("digest").to_owned()
}

async fn three_node_processes_peer_harvest_witness_and_resolve_each_others_identifiers(backend: Backend) {
    let (a, b, c) = (
        NodeState::new(&backend).await,
        NodeState::new(&backend).await,
        NodeState::new(&backend).await,
    );
    let (port_a, port_b, port_c) = (NodeState::free_port(), NodeState::free_port(), NodeState::free_port());
    let mut node_a = a.start(port_a).await;
    let node_b = b.start(port_b).await;
    let node_c = c.start(port_c).await;
    let http = reqwest::Client::new();
    let (token_a, token_c) = (
        a.add_publisher("交通委", "jtw").await,
        c.add_publisher("气象局", "qxj").await,
    );
    let csv = |text: &str| vec![("data.csv".to_owned(), text.as_bytes().to_vec())];
    for (url, token, dataset, access) in [
        (&node_a.url, &token_a, "traffic", "open"),
        (&node_a.url, &token_a, "clinic", "licensed"),
        (&node_c.url, &token_c, "air", "open"),
    ] {
        let published = publish_version(&http, url, token, dataset, access, csv("k,v\n1,2\n")).await;
        assert!(published.is_ok_and(|status| status.is_success()), "{dataset}");
    }
    let (prefix_a, prefix_c) = (prefix_of(&node_a.url).await, prefix_of(&node_c.url).await);

    // B peers with A and C, C with A; each harvests.
    admin(&b, &["add-peer", &node_a.url]).await;
    admin(&b, &["add-peer", &node_c.url]).await;
    admin(&c, &["add-peer", &node_a.url]).await;
    // C witnesses A's log: A asks C to cosign its checkpoints.
    let witnessing = admin(&a, &["add-peer", &node_c.url, "--witness"]).await;
    assert_eq!(witnessing["witnessesUs"], true, "{witnessing}");
    let checked = admin(&b, &["check-peers"]).await;
    assert!(peer(&checked, &node_a.url)["lastError"].is_null(), "{checked}");
    assert!(peer(&checked, &node_c.url)["lastError"].is_null(), "{checked}");
    admin(&c, &["check-peers"]).await;

    // B's search finds A's and C's datasets, each with the node that holds it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = loop {
        let (_, page) = get_json(&format!("{}/api/v1/peer-datasets/search?q=jiaotong", node_b.url)).await;
        if page["total"] == 3 || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(found["total"], 3, "{found}");
    let mut held: Vec<(String, String)> = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            (
                item["dataset"].as_str().unwrap_or_default().to_owned(),
                item["nodeUrl"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    held.sort();
    assert_eq!(
        held,
        [
            ("air".to_owned(), node_c.url.clone()),
            ("clinic".to_owned(), node_a.url.clone()),
            ("traffic".to_owned(), node_a.url.clone())
        ]
    );
    let mut nodes: Vec<(String, u64)> = found["facets"]["node"]
        .as_array()
        .expect("node facet")
        .iter()
        .map(|count| {
            (
                count["value"].as_str().unwrap_or_default().to_owned(),
                count["count"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    nodes.sort();
    let mut expected = vec![(prefix_a.clone(), 2), (prefix_c.clone(), 1)];
    expected.sort();
    assert_eq!(nodes, expected);

    let traffic = format!("{prefix_a}/traffic");
    let at_a = (
        format!("{}/datasets/traffic", node_a.url),
        digest(&node_a.url, "traffic", 1).await,
    );
    assert_eq!(
        resolve(&node_b.url, &traffic).await,
        Some(at_a.clone()),
        "B resolves A's identifier"
    );
    assert_eq!(
        resolve(&node_c.url, &traffic).await,
        Some(at_a.clone()),
        "C resolves A's identifier"
    );
    let air = (
        format!("{}/datasets/air", node_c.url),
        digest(&node_c.url, "air", 1).await,
    );
    assert_eq!(resolve(&node_b.url, &format!("{prefix_c}/air")).await, Some(air));
    assert!(
        resolve(&node_b.url, &format!("{prefix_a}/clinic@1")).await.is_some(),
        "licensed entries too"
    );

    // A buyer finds A's licensed data at B, orders it at A through B's record, fetches it
    // from A and verifies the evidence offline.
    let work = tempfile::tempdir().expect("dir");
    let path = |name: &str| work.path().join(name).display().to_string();
    let (key, order, files) = (path("buyer.key"), path("order"), path("files"));
    assert!(shulian(&["keygen", "--out", &key]).await.success);
    let clinic = format!("hdl:{prefix_a}/clinic@1");
    let placed = json(
        &shulian(&[
            "order",
            &clinic,
            "--key",
            &key,
            "--purpose",
            "research",
            "--node",
            &node_b.url,
            "--out",
            &order,
            "--json",
        ])
        .await,
    );
    assert_eq!(
        (placed["state"].as_str(), placed["node"].as_str()),
        (Some("AGREED"), Some(node_a.url.as_str())),
        "ordered at A"
    );
    // The order folder says where the order was placed: no --node needed.
    let fetched = json(&shulian(&["fetch", &order, "--key", &key, "--out", &files, "--json"]).await);
    // data.csv, and its Parquet copy once A has derived it: one receipt each.
    let fetched_files = fetched["files"].as_array().map(Vec::len).expect("files") as u64;
    assert!(fetched_files >= 1);
    assert_eq!(fetched["receipts"].as_u64(), Some(fetched_files), "{fetched}");
    let verified = json(&shulian(&["verify", &path("files/evidence.json"), "--files", &files, "--json"]).await);
    assert_eq!(verified["receipts"].as_u64(), Some(fetched_files));
    // The evidence's checkpoint carries C's cosignature: B's buyer, trusting C as a
    // witness, verifies it; a key that did not cosign (B's) is refused.
    let witness_key = |url: String| async move {
        let (_, described) = get_json(&format!("{url}/.well-known/shulian-node")).await;
        described["witness"]["verifierKey"]
            .as_str()
            .expect("witness key")
            .to_owned()
    };
    let (key_c, key_b) = (
        witness_key(node_c.url.clone()).await,
        witness_key(node_b.url.clone()).await,
    );
    let evidence = path("files/evidence.json");
    let witnessed = json(&shulian(&["verify", &evidence, "--witness", &key_c, "--json"]).await);
    assert_eq!(
        witnessed["witnessedBy"].as_array().map(Vec::len),
        Some(1),
        "{witnessed}"
    );
    let unwitnessed = shulian(&["verify", &evidence, "--witness", &key_b]).await;
    assert!(
        !unwitnessed.success && unwitnessed.stderr.contains("cosigned by 0"),
        "{}",
        unwitnessed.stderr
    );
    let quorum = shulian(&[
        "verify",
        &evidence,
        "--witness",
        &key_c,
        "--witness",
        &key_b,
        "--min-witnesses",
        "1",
    ])
    .await;
    assert!(quorum.success, "{}", quorum.stderr);
    assert_eq!(
        std::fs::read(work.path().join("files/data.csv")).expect("fetched"),
        b"k,v\n1,2\n"
    );

    // A goes down: B keeps what it harvested and marks A unreachable.
    node_a.child.kill().await.expect("kill A");
    let checked = admin(&b, &["check-peers"]).await;
    let error = peer(&checked, &node_a.url)["lastError"]
        .as_str()
        .expect("A is marked")
        .to_owned();
    assert!(error.contains("did not answer"), "{error}");
    assert_eq!(
        resolve(&node_b.url, &traffic).await,
        Some(at_a),
        "B still resolves what it harvested"
    );

    // A returns and publishes again: B catches up.
    node_a = a.start(port_a).await;
    let published = publish_version(&http, &node_a.url, &token_a, "traffic", "open", csv("k,v\n3,4\n")).await;
    assert!(published.is_ok_and(|status| status.is_success()));
    let checked = admin(&b, &["check-peers"]).await;
    assert!(peer(&checked, &node_a.url)["lastError"].is_null(), "{checked}");
    let newest = digest(&node_a.url, "traffic", 2).await;
    assert_eq!(
        resolve(&node_b.url, &traffic).await.map(|(_, checksum)| checksum),
        Some(newest)
    );

    // Another key answers at A's address: B refuses it and says why; the pin stays.
    let (_, described) = get_json(&format!("{}/.well-known/shulian-node", node_a.url)).await;
    let pinned = described["id"].as_str().expect("did").to_owned();
    node_a.child.kill().await.expect("kill A");
    let impostor_state = NodeState::new(&backend).await;
    let _impostor = impostor_state.start(port_a).await;
    let checked = admin(&b, &["check-peers"]).await;
    let refused = peer(&checked, &node_a.url);
    let error = refused["lastError"].as_str().expect("refused");
    assert!(
        error.contains(&format!("pinned to {pinned}")) && error.contains("signed by"),
        "{error}"
    );
    assert_eq!(refused["did"], pinned.as_str());

    for state in [&a, &b, &c, &impostor_state] {
        state.drop_database(&backend).await;
    }
}
