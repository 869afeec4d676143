//! Scale-out: several `shulian serve` OS processes on one PostgreSQL database
//! take orders and deliver licensed files at once. Their sequencers integrate
//! batches one at a time through the log head's lock, so the log stays one
//! dense tree: every replica serves the same checkpoint, every receipt handed
//! out is in the log at its index, and the audit is clean.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;
use shulian::ledger::{Checkpoint, merkle};

use crate::helpers::{Backend, b64_list};
use crate::process::{
    NodeState, answer, get_json, json_answer, log_identity, place_order, publish_answer, publish_version,
};

/// Replica processes.
const REPLICAS: usize = 3;
/// Concurrent buyers per replica.
const BUYERS: usize = 4;
/// Orders (each with one delivery) per buyer.
const ROUNDS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_postgres_keep_one_dense_log() {
    let Some(backend) = Backend::postgres() else { return };
    let state = NodeState::new(&backend).await;
    let token = state.add_publisher("多副本", "replicated").await;
    let mut nodes = Vec::new();
    for _ in 0..REPLICAS {
        nodes.push(state.start(NodeState::free_port()).await);
    }
    let http = reqwest::Client::new();
    let files = vec![("records.csv".to_owned(), b"id,x\n1,2\n".to_vec())];
    assert_eq!(
        publish_version(&http, &nodes[0].url, &token, "records", "licensed", files).await,
        Ok(StatusCode::CREATED)
    );

    let receipts = Arc::new(Mutex::new(Vec::new()));
    let mut buyers = Vec::new();
    for node in &nodes {
        for _ in 0..BUYERS {
            let (url, receipts) = (node.url.clone(), receipts.clone());
            buyers.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                for _ in 0..ROUNDS {
                    let (order_id, access, _) = place_order(&http, &url).await.expect("order");
                    let file = format!("{url}/api/v1/datasets/records/versions/1/files/records.csv");
                    let response = answer(http.get(&file).bearer_auth(&access)).await.expect("delivery");
                    assert_eq!(response.status(), StatusCode::OK);
                    let listed = json_answer(
                        http.get(format!("{url}/api/v1/orders/{order_id}/receipts"))
                            .bearer_auth(&access),
                    )
                    .await
                    .expect("receipts");
                    let listed = listed.as_array().cloned().unwrap_or_default();
                    assert_eq!(listed.len(), 1, "one delivery, one receipt");
                    receipts.lock().expect("receipts").push(listed[0].clone());
                }
            }));
        }
    }
    for buyer in buyers {
        buyer.await.expect("a buyer finished");
    }

    // One manifest, then an order, an agreement and a receipt per round.
    let expected = 1 + 3 * REPLICAS * BUYERS * ROUNDS;
    let mut notes = Vec::new();
    for node in &nodes {
        let note = answer(http.get(format!("{}/api/v1/log/checkpoint", node.url)))
            .await
            .expect("checkpoint")
            .text()
            .await
            .expect("text");
        notes.push(note);
    }
    let (key, origin) = log_identity(&http, &nodes[0].url).await;
    let checkpoints: Vec<Checkpoint> = notes
        .iter()
        .map(|note| Checkpoint::verify(note, &origin, &key).expect("a replica's checkpoint verifies"))
        .collect();
    for checkpoint in &checkpoints {
        assert_eq!(checkpoint.size as usize, expected, "every write is in the log, once");
        assert_eq!(
            checkpoint.root, checkpoints[0].root,
            "every replica serves the same tree"
        );
    }

    // The tree is dense: entries 0..size, each receipt at the index it names, and each
    // entry's inclusion proof (from another replica than the one that logged it) verifies.
    let mut entries = Vec::new();
    while entries.len() < expected {
        let page = get_json(
            &http,
            &format!(
                "{}/api/v1/log/entries?start={}&end={}",
                nodes[1].url,
                entries.len(),
                expected.min(entries.len() + 1000)
            ),
        )
        .await
        .expect("entries");
        let page = page.as_array().cloned().expect("a page");
        assert!(!page.is_empty(), "the log has every index below its size");
        entries.extend(page);
    }
    for (position, entry) in entries.iter().enumerate() {
        assert_eq!(entry["index"].as_u64(), Some(position as u64));
    }
    let receipts = receipts.lock().expect("receipts").clone();
    assert_eq!(receipts.len(), REPLICAS * BUYERS * ROUNDS);
    for listed in &receipts {
        let index = listed["logIndex"].as_u64().expect("index") as usize;
        assert_eq!(
            entries[index]["entry"], listed["receipt"],
            "a receipt is in the log at its index"
        );
        let proof = get_json(
            &http,
            &format!(
                "{}/api/v1/log/proof/inclusion?index={index}&size={expected}",
                nodes[2].url
            ),
        )
        .await
        .expect("proof");
        let path = b64_list(&proof["proof"]);
        let leaf = STANDARD
            .decode(entries[index]["leafHash"].as_str().expect("leaf"))
            .expect("base64");
        merkle::verify_inclusion(index as u64, expected as u64, &leaf, &path, &checkpoints[0].root)
            .expect("the receipt's inclusion proof verifies");
    }

    let audit = state.cli(&["audit", "--json"]).await;
    assert!(
        audit.status.success(),
        "audit: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );
    let audit: Value = serde_json::from_slice(&audit.stdout).expect("audit JSON");
    assert_eq!(
        audit["entriesChecked"].as_u64(),
        Some(expected as u64),
        "audit: {audit}"
    );
    drop(nodes);
    state.drop_database(&backend).await;
}

/// Every replica process keeps its own search index on disk, fed from the shared database:
/// what one publishes, the others find (a search naming the publication waits for it);
/// a replica killed (SIGKILL) while it applies a stream of publications restarts on its
/// index, resumes from its last commit and converges; a new replica with no index builds
/// one from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_sharing_postgres_each_search_the_whole_catalog() {
    let Some(backend) = Backend::postgres() else { return };
    let state = NodeState::new(&backend).await;
    let token = state.add_publisher("多副本", "replicated").await;
    let ports = [NodeState::free_port(), NodeState::free_port()];
    let mut nodes = Vec::new();
    for port in ports {
        nodes.push(state.start(port).await);
    }
    let http = reqwest::Client::new();
    let publish = |url: String, dataset: &'static str| {
        let (http, token) = (http.clone(), token.clone());
        async move {
            let files = vec![("records.csv".to_owned(), format!("id\n{dataset}\n").into_bytes())];
            let (status, answer) = publish_answer(&http, &url, &token, dataset, "open", files)
                .await
                .expect("publish");
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            answer["searchSequence"].as_u64().expect("searchSequence")
        }
    };
    let found = |url: String, sequence: u64| {
        let http = http.clone();
        async move {
            let page = get_json(&http, &format!("{url}/api/v1/datasets?indexed={sequence}&limit=100"))
                .await
                .expect("search");
            let mut ids: Vec<String> = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["id"].as_str().map(str::to_owned))
                .collect();
            ids.sort();
            (page["total"].as_u64(), ids)
        }
    };
    publish(nodes[0].url.clone(), "first").await;
    let second = publish(nodes[1].url.clone(), "second").await;
    for node in &nodes {
        assert_eq!(
            found(node.url.clone(), second).await,
            (Some(2), vec!["first".to_owned(), "second".to_owned()]),
            "{} finds what either replica published",
            node.url
        );
    }

    // One replica is killed while the other publishes a stream it is applying; it restarts
    // on its index and catches up.
    const STREAMED: [&str; 12] = [
        "streamed-00",
        "streamed-01",
        "streamed-02",
        "streamed-03",
        "streamed-04",
        "streamed-05",
        "streamed-06",
        "streamed-07",
        "streamed-08",
        "streamed-09",
        "streamed-10",
        "streamed-11",
    ];
    let mut stopped = nodes.pop().expect("second replica");
    let stream = async {
        let mut last = 0;
        for name in STREAMED {
            last = publish(nodes[0].url.clone(), name).await;
        }
        last
    };
    // Killed once the stream is under way: somewhere in fetching, indexing or committing it.
    let kill = async {
        for _ in 0..500 {
            let page = get_json(&http, &format!("{}/api/v1/datasets?limit=1&q=streamed", stopped.url)).await;
            if page.is_ok_and(|page| page["total"].as_u64().is_some_and(|total| total >= 2)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stopped.child.kill().await.expect("kill");
    };
    let (third, ()) = tokio::join!(stream, kill);
    nodes.push(state.start(ports[1]).await);
    let mut all: Vec<String> = ["first", "second"]
        .into_iter()
        .chain(STREAMED)
        .map(str::to_owned)
        .collect();
    all.sort();
    let everything = (Some(all.len() as u64), all);
    assert_eq!(found(nodes[1].url.clone(), third).await, everything);

    // A new replica, with no index at all, builds it from the database.
    let fresh = state.start(NodeState::free_port()).await;
    assert_eq!(found(fresh.url.clone(), third).await, everything);
    let log = std::fs::read_to_string(state.data_dir.join(format!("node-{}.log", ports[1]))).expect("log");
    assert!(
        !log.contains("search index built"),
        "the restarted replica resumed its index:\n{log}"
    );
    assert!(log.contains("search index resumed"), "{log}");
}
