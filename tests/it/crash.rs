//! The crash harness: a real `shulian serve` process killed with SIGKILL at
//! seeded random points of publishes, orders, deliveries and
//! acknowledgements, restarted, and checked: `shulian audit` is clean, no
//! version is partial, every receipt handed out is in the log, and every
//! checkpoint served before the crash is consistent with the log after it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shulian::crypto::canonical;
use shulian::ledger::Checkpoint;

use crate::helpers::{Backend, prove_consistent, sha256_hex, signed};
use crate::on_both_backends;
use crate::process::{
    NodeProcess, NodeState, answer, get_json, json_answer, log_identity, place_order, publish_version,
};

on_both_backends!(a_node_killed_at_random_points_recovers_consistent);

/// Kill cycles per backend, each at its own seeded point.
const SEEDS: [u64; 5] = [7, 1_000_003, 424_242, 31_337, 20_261_130];

/// Clients working on the node at once.
const WORKERS: u64 = 4;

/// What the workload saw before the crash: checkpoints served and receipts handed out.
#[derive(Default)]
struct Seen {
    checkpoints: Vec<String>,
    receipts: Vec<(u64, Value)>,
}

/// A small deterministic generator (xorshift64*): the same seed, the same kill point.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

async fn a_node_killed_at_random_points_recovers_consistent(backend: Backend) {
    let state = NodeState::new(&backend).await;
    let token = state.add_publisher("崩溃测试", "crashy").await;
    let port = NodeState::free_port();
    let mut node = state.start(port).await;
    let http = reqwest::Client::new();
    let publish = |body: Vec<(String, Vec<u8>)>, dataset: &'static str, access: &'static str| {
        publish_version(&http, &node.url, &token, dataset, access, body)
    };
    assert_eq!(
        publish(
            vec![("records.csv".into(), b"id,x\n1,2\n".to_vec())],
            "records",
            "licensed"
        )
        .await,
        Ok(StatusCode::CREATED)
    );
    let mut random = Seeded(0);
    let (mut checkpoints_seen, mut receipts_seen) = (0, 0);
    for seed in SEEDS {
        random.0 = seed;
        let seen = Arc::new(Mutex::new(Seen::default()));
        // Concurrent workers, so kills land inside batches of several log writes.
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                tokio::spawn(run_workload(
                    node.url.clone(),
                    token.clone(),
                    seed + worker,
                    seen.clone(),
                ))
            })
            .collect();
        // Kill at a random point once the workload is under way (a loaded machine may
        // take a while to finish its first round).
        for _ in 0..600 {
            if !seen.lock().expect("seen").receipts.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let kill_after = Duration::from_millis(random.next() % 900);
        tokio::time::sleep(kill_after).await;
        node.child.start_kill().expect("SIGKILL");
        node.child.wait().await.expect("reaped");
        for worker in workers {
            let _ = worker.await;
        }

        node = state.start(port).await;
        check_recovered(&state, &node, &seen).await;
        let seen = seen.lock().expect("seen");
        checkpoints_seen += seen.checkpoints.len();
        receipts_seen += seen.receipts.len();
    }
    eprintln!("crash harness: {checkpoints_seen} checkpoints and {receipts_seen} receipts seen before kills");
    assert!(
        checkpoints_seen > 0 && receipts_seen > 0,
        "the workload ran before the kills"
    );
    drop(node);
    state.drop_database(&backend).await;
}

/// Publishes, orders, downloads and acknowledges until the node dies; records what it was shown.
async fn run_workload(url: String, token: String, seed: u64, seen: Arc<Mutex<Seen>>) {
    let http = reqwest::Client::new();
    for round in 0u64.. {
        let step: Result<(), String> = async {
            let body = format!("id,round\n{seed},{round}\n").into_bytes();
            let files = vec![
                ("a.csv".to_owned(), body.clone()),
                ("b.csv".to_owned(), [body.as_slice(), b"9,9\n"].concat()),
            ];
            publish_version(&http, &url, &token, "stream", "open", files).await?;
            let (order_id, access, buyer) = place_order(&http, &url).await?;
            let file = format!("{url}/api/v1/datasets/records/versions/1/files/records.csv");
            answer(http.get(&file).bearer_auth(&access))
                .await?
                .bytes()
                .await
                .map_err(|e| e.to_string())?;
            let receipts: Value = json_answer(
                http.get(format!("{url}/api/v1/orders/{order_id}/receipts"))
                    .bearer_auth(&access),
            )
            .await?;
            for listed in receipts.as_array().cloned().unwrap_or_default() {
                let index = listed["logIndex"].as_u64().unwrap_or_default();
                seen.lock()
                    .expect("seen")
                    .receipts
                    .push((index, listed["receipt"].clone()));
                let text = canonical::canonicalize(&listed["receipt"]).map_err(|e| e.to_string())?;
                let acknowledgement = signed(
                    json!({
                        "type": "ShulianReceiptAcknowledgement",
                        "order": order_id,
                        "receiptDigest": format!("sha256:{}", sha256_hex(text.as_bytes())),
                        "recipient": buyer.public().did(),
                    }),
                    &buyer,
                );
                answer(
                    http.post(format!("{url}/api/v1/orders/{order_id}/acknowledgements"))
                        .bearer_auth(&access)
                        .json(&acknowledgement),
                )
                .await?;
            }
            let note = answer(http.get(format!("{url}/api/v1/log/checkpoint")))
                .await?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            seen.lock().expect("seen").checkpoints.push(note);
            Ok(())
        }
        .await;
        if step.is_err() {
            return;
        }
    }
}

async fn check_recovered(state: &NodeState, node: &NodeProcess, seen: &Mutex<Seen>) {
    let http = reqwest::Client::new();
    let audit = state.cli(&["audit", "--json"]).await;
    assert!(
        audit.status.success(),
        "audit after the crash: {}{}",
        String::from_utf8_lossy(&audit.stdout),
        String::from_utf8_lossy(&audit.stderr)
    );

    let (key, origin) = log_identity(&http, &node.url).await;
    let current_note = http
        .get(format!("{}/api/v1/log/checkpoint", node.url))
        .send()
        .await
        .expect("checkpoint")
        .text()
        .await
        .expect("text");
    let current = Checkpoint::verify(&current_note, &origin, &key).expect("signed checkpoint");
    let (checkpoints, receipts) = {
        let seen = seen.lock().expect("seen");
        (seen.checkpoints.clone(), seen.receipts.clone())
    };
    for note in &checkpoints {
        let earlier = Checkpoint::verify(note, &origin, &key).expect("an earlier checkpoint verifies");
        assert!(earlier.size <= current.size, "the log shrank across the crash");
        if earlier.size == current.size {
            assert_eq!(earlier.root, current.root);
            continue;
        }
        prove_consistent(&http, &node.url, &earlier, &current)
            .await
            .expect("every checkpoint served before the crash is consistent with the log after it");
    }
    for (index, receipt) in &receipts {
        let entries = get_json(
            &http,
            &format!("{}/api/v1/log/entries?start={index}&end={}", node.url, index + 1),
        )
        .await
        .expect("entry");
        assert_eq!(
            &entries[0]["entry"], receipt,
            "a receipt handed out is in the log at its index"
        );
    }
    assert_versions_whole(&http, &node.url, &state.data_dir).await;
}

/// Every version lists files whose bytes the node serves in full.
async fn assert_versions_whole(http: &reqwest::Client, url: &str, data_dir: &Path) {
    let dataset = get_json(http, &format!("{url}/api/v1/datasets/stream")).await;
    let Ok(dataset) = dataset else { return };
    for version in dataset["versions"].as_array().cloned().unwrap_or_default() {
        let number = &version["version"];
        let detail = get_json(http, &format!("{url}/api/v1/datasets/stream/versions/{number}"))
            .await
            .expect("version");
        let files = detail["files"].as_array().cloned().unwrap_or_default();
        assert!(files.len() >= 2, "version {number} is whole: {detail}");
        for file in files {
            let name = file["name"].as_str().expect("name");
            let response = http
                .get(format!("{url}/api/v1/datasets/stream/versions/{number}/files/{name}"))
                .send()
                .await
                .expect("file");
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "version {number} file {name} ({})",
                data_dir.display()
            );
            let bytes = response.bytes().await.expect("bytes");
            assert_eq!(Some(sha256_hex(&bytes).as_str()), file["sha256"].as_str());
        }
    }
}
