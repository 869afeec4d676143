//! The crash harness: a real `shulian serve` process killed with SIGKILL at
//! seeded random points of publishes, orders, deliveries and
//! acknowledgements, restarted, and checked: `shulian audit` is clean, no
//! version is partial, every receipt handed out is in the log, and every
//! checkpoint served before the crash is consistent with the log after it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shulian::crypto::{KeyPair, canonical};
use shulian::ledger::{Checkpoint, merkle};

use crate::helpers::{Backend, create_database, metadata, order, sha256_hex, signed, with_database};
use crate::on_both_backends;

on_both_backends!(a_node_killed_at_random_points_recovers_consistent);

/// Kill cycles per backend, each at its own seeded point.
const SEEDS: [u64; 5] = [7, 1_000_003, 424_242, 31_337, 20_261_130];

/// A `shulian serve` process.
struct NodeProcess {
    child: tokio::process::Child,
    url: String,
}

/// Where a node keeps its state across restarts.
struct NodeState {
    data_dir: PathBuf,
    database_url: String,
    port: u16,
}

impl NodeState {
    fn args<'a>(&'a self, command: &[&'a str]) -> Vec<String> {
        let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
        args.extend([
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--database-url".into(),
            self.database_url.clone(),
        ]);
        args
    }

    async fn start(&self) -> NodeProcess {
        let mut args = self.args(&["serve"]);
        args.extend([
            "--listen".into(),
            format!("127.0.0.1:{}", self.port),
            "--writes-per-minute".into(),
            "0".into(),
        ]);
        let log = std::fs::File::create(self.data_dir.join("node.log")).expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("shulian serve starts");
        let url = format!("http://127.0.0.1:{}", self.port);
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(format!("{url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return NodeProcess { child, url };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = std::fs::read_to_string(self.data_dir.join("node.log")).unwrap_or_default();
        panic!("the node did not come up:\n{log}");
    }

    async fn cli(&self, command: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"))
            .args(self.args(command))
            .output()
            .await
            .expect("the binary runs")
    }
}

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
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = match &backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("shulian.db").display()),
        Backend::Postgres { admin_url } => {
            let name = format!("shulian_test_{}", uuid::Uuid::new_v4().simple());
            create_database(admin_url, &name).await;
            with_database(admin_url, &name)
        }
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let state = NodeState {
        data_dir: dir.path().to_owned(),
        database_url,
        port,
    };
    let added = state
        .cli(&["admin", "add-publisher", "崩溃测试", "--id", "crashy"])
        .await;
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let token = String::from_utf8_lossy(&added.stdout)
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_owned();

    let mut node = state.start().await;
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
        let workload = tokio::spawn(run_workload(node.url.clone(), token.clone(), seed, seen.clone()));
        let kill_after = Duration::from_millis(150 + random.next() % 900);
        tokio::time::sleep(kill_after).await;
        node.child.start_kill().expect("SIGKILL");
        node.child.wait().await.expect("reaped");
        let _ = workload.await;

        node = state.start().await;
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
    if let Backend::Postgres { admin_url } = &backend {
        drop_database(admin_url, &state.database_url).await;
    }
}

async fn drop_database(admin_url: &str, url: &str) {
    use sqlx::Connection as _;
    let name = url.rsplit('/').next().unwrap_or_default().to_owned();
    if let Ok(mut connection) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut connection)
            .await;
    }
}

/// Uploads files and publishes them; the status, or the transport error's text.
async fn publish_version(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    dataset: &str,
    access: &str,
    files: Vec<(String, Vec<u8>)>,
) -> Result<StatusCode, String> {
    let mut entries = Vec::new();
    for (name, bytes) in &files {
        let digest = sha256_hex(bytes);
        answer(
            http.put(format!("{url}/api/v1/blobs/{digest}"))
                .bearer_auth(token)
                .body(bytes.clone()),
        )
        .await?;
        entries.push(json!({"name": name, "mediaType": "text/csv", "size": bytes.len(), "sha256": digest}));
    }
    let response = answer(
        http.post(format!("{url}/api/v1/datasets/{dataset}/versions"))
            .bearer_auth(token)
            .json(&json!({"metadata": metadata(dataset, access), "files": entries})),
    )
    .await?;
    Ok(response.status())
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

async fn place_order(http: &reqwest::Client, url: &str) -> Result<(String, String, KeyPair), String> {
    let node: Value = get_json(http, &format!("{url}/.well-known/shulian-node")).await?;
    let version: Value = get_json(http, &format!("{url}/api/v1/datasets/records/versions/1")).await?;
    let buyer = KeyPair::generate();
    let document = order(
        node["id"].as_str().unwrap_or_default(),
        "records",
        version["manifestDigest"].as_str().unwrap_or_default(),
        &buyer,
    );
    let placed = json_answer(
        http.post(format!("{url}/api/v1/orders"))
            .json(&signed(document, &buyer)),
    )
    .await?;
    match (placed["orderId"].as_str(), placed["accessToken"].as_str()) {
        (Some(id), Some(token)) => Ok((id.to_owned(), token.to_owned(), buyer)),
        _ => Err(format!("order refused: {placed}")),
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    json_answer(http.get(url)).await
}

/// Sends a request; a node killed mid-way is an error the workload stops at.
async fn answer(request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    request.send().await.map_err(|e| e.to_string())
}

async fn json_answer(request: reqwest::RequestBuilder) -> Result<Value, String> {
    answer(request).await?.json().await.map_err(|e| e.to_string())
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

    let description = get_json(&http, &format!("{}/.well-known/shulian-node", node.url))
        .await
        .expect("description");
    let key = description["id"]
        .as_str()
        .and_then(|did| did.parse::<shulian::crypto::Did>().ok())
        .expect("did")
        .public_key();
    let origin = description["log"]["origin"].as_str().expect("origin").to_owned();
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
        let proof = get_json(
            &http,
            &format!(
                "{}/api/v1/log/proof/consistency?from={}&to={}",
                node.url, earlier.size, current.size
            ),
        )
        .await
        .expect("proof");
        let path: Vec<Vec<u8>> = proof["proof"]
            .as_array()
            .expect("path")
            .iter()
            .map(|h| STANDARD.decode(h.as_str().expect("b64")).expect("b64"))
            .collect();
        merkle::verify_consistency(earlier.size, current.size, &earlier.root, &current.root, &path)
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
