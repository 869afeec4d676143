//! Real `shulian` processes: a node's state on disk and in its database, the
//! `serve` processes started on it (one or several replicas), and its CLI.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shulian::crypto::KeyPair;

use crate::helpers::{Backend, create_database, drop_database, metadata, order, sha256_hex, signed, with_database};

/// A `shulian serve` process; killed when dropped.
pub struct NodeProcess {
    pub child: tokio::process::Child,
    pub url: String,
}

/// Where a node keeps its state across restarts, shared by its replicas.
pub struct NodeState {
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Holds the data directory for the test's lifetime.
    _dir: tempfile::TempDir,
}

impl NodeState {
    /// Fresh state on `backend`: a temporary data directory and an empty database.
    pub async fn new(backend: &Backend) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("shulian.db").display()),
            Backend::Postgres { admin_url } => {
                let name = format!("shulian_test_{}", uuid::Uuid::new_v4().simple());
                create_database(admin_url, &name).await;
                with_database(admin_url, &name)
            }
        };
        Self {
            data_dir: dir.path().to_owned(),
            database_url,
            _dir: dir,
        }
    }

    /// Drops the PostgreSQL database (nothing for SQLite, whose file goes with the directory).
    pub async fn drop_database(&self, backend: &Backend) {
        if let Backend::Postgres { admin_url } = backend {
            let name = self.database_url.rsplit('/').next().unwrap_or_default();
            drop_database(admin_url, name).await;
        }
    }

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

    /// A free loopback port.
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port()
    }

    /// Starts `shulian serve` on `port` (without write rate limits) and waits until it answers.
    pub async fn start(&self, port: u16) -> NodeProcess {
        // Each process is a replica with its own search index; a restart on the same port resumes it.
        self.start_on_index(port, &self.data_dir.join(format!("search-{port}")))
            .await
    }

    /// Starts `shulian serve` on `port` keeping its search index in `index`.
    pub async fn start_on_index(&self, port: u16, index: &std::path::Path) -> NodeProcess {
        self.start_with(port, index, &[]).await
    }

    /// Starts `shulian serve` on `port` keeping its search index in `index`, with more flags.
    pub async fn start_with(&self, port: u16, index: &std::path::Path, flags: &[String]) -> NodeProcess {
        let mut args = self.args(&["serve"]);
        args.extend_from_slice(flags);
        args.extend([
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--writes-per-minute".into(),
            "0".into(),
            "--search-index".into(),
            index.display().to_string(),
        ]);
        let log_path = self.data_dir.join(format!("node-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("shulian serve starts");
        let url = format!("http://127.0.0.1:{port}");
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
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("the node did not come up:\n{log}");
    }

    /// Runs a `shulian` command on this state.
    pub async fn cli(&self, command: &[&str]) -> std::process::Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"))
            .args(self.args(command))
            .output()
            .await
            .expect("the binary runs")
    }

    /// Adds a publisher through the CLI; returns its token.
    pub async fn add_publisher(&self, name: &str, id: &str) -> String {
        let added = self.cli(&["admin", "add-publisher", name, "--id", id]).await;
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
        String::from_utf8_lossy(&added.stdout)
            .lines()
            .last()
            .expect("token")
            .trim()
            .to_owned()
    }
}

/// Uploads files and publishes them; the status, or the transport error's text.
pub async fn publish_version(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    dataset: &str,
    access: &str,
    files: Vec<(String, Vec<u8>)>,
) -> Result<StatusCode, String> {
    Ok(publish_answer(http, url, token, dataset, access, files).await?.0)
}

/// Publishes `files` as the next version of `dataset`; returns the status and the answer's JSON.
pub async fn publish_answer(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    dataset: &str,
    access: &str,
    files: Vec<(String, Vec<u8>)>,
) -> Result<(StatusCode, Value), String> {
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
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

pub async fn place_order(http: &reqwest::Client, url: &str) -> Result<(String, String, KeyPair), String> {
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

pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    json_answer(http.get(url)).await
}

/// Sends a request; a node killed mid-way is an error the workload stops at.
pub async fn answer(request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    request.send().await.map_err(|e| e.to_string())
}

pub async fn json_answer(request: reqwest::RequestBuilder) -> Result<Value, String> {
    answer(request).await?.json().await.map_err(|e| e.to_string())
}

/// The key that signs a node's checkpoints and its log's origin, from its description.
pub async fn log_identity(http: &reqwest::Client, url: &str) -> (shulian::crypto::PublicKey, String) {
    let description = get_json(http, &format!("{url}/.well-known/shulian-node"))
        .await
        .expect("description");
    let key = description["id"]
        .as_str()
        .and_then(|did| did.parse::<shulian::crypto::Did>().ok())
        .expect("did")
        .public_key();
    (key, description["log"]["origin"].as_str().expect("origin").to_owned())
}
