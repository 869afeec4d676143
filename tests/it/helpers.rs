//! The test harness: a real node on a real port over a fresh database.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest as _;
use shulian::app::App;
use shulian::config::{Config, Settings};
use shulian::crypto::{KeyPair, sign_document};
use shulian::domain::{MediaType, PublisherId};
use shulian::service::{Context, accounts};

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

impl Backend {
    /// Its short name, for files a test leaves (screenshots).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }

    /// PostgreSQL when `SHULIAN_TEST_DATABASE_URL` is set; CI must set it.
    pub fn postgres() -> Option<Self> {
        match std::env::var("SHULIAN_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Some(Self::Postgres { admin_url }),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI must run the PostgreSQL suite: set SHULIAN_TEST_DATABASE_URL")
            }
            _ => {
                eprintln!("SHULIAN_TEST_DATABASE_URL is not set: skipping the PostgreSQL run of this test");
                None
            }
        }
    }
}

/// Runs each named test function once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        super::$name(backend).await;
                    }
                }
            )*
        }
    };
}

/// A running node.
pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub ctx: Context,
    pub config: Config,
    pub dir: tempfile::TempDir,
    database: Option<(String, String)>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns another replica of `self`'s node: the same database, blobs and key.
    pub async fn replica(&self, backend: Backend) -> Self {
        Self::spawn_with(backend, |settings| {
            settings.database_url = Some(self.config.database_url.clone());
            settings.blob_url = Some(self.config.blob_url.clone());
            settings.node_key_file = Some(self.config.node_key_file.clone());
        })
        .await
    }

    /// Spawns a node after letting the test adjust its settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::spawn_on(backend, listener, adjust).await
    }

    /// A new node (its own key, database and data directory) serving on `listener`.
    pub async fn spawn_on(
        backend: Backend,
        listener: tokio::net::TcpListener,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        if std::env::var("SHULIAN_TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("shulian=debug")
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let address = listener.local_addr().expect("address");
        let (database_url, database) = match &backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.path().join("shulian.db").display()), None),
            Backend::Postgres { admin_url } => {
                let name = format!("shulian_test_{}", uuid::Uuid::new_v4().simple());
                create_database(admin_url, &name).await;
                (with_database(admin_url, &name), Some((admin_url.clone(), name)))
            }
        };
        let mut settings = Settings {
            listen: Some(address),
            data_dir: Some(dir.path().to_owned()),
            database_url: Some(database_url),
            catalog_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("catalog")),
            // Suites write far faster than any client should; the rate limit has its own tests.
            writes_per_minute: Some(0),
            // Tests reopen a node beside the running one, which would find its index directory
            // locked; `shulian serve` processes in the suite keep theirs on disk (process.rs).
            search_index: Some("memory".into()),
            ..Settings::default()
        };
        adjust(&mut settings);
        let config = Config::resolve(settings, Settings::default()).expect("config");
        let app = App::build(&config).await.expect("app builds");
        let ctx = app.context().clone();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async {
            let _ = stop.await;
        }));
        Self {
            url: format!("http://{address}"),
            http: reqwest::Client::new(),
            ctx,
            config,
            dir,
            database,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Creates a publisher and returns its token.
    pub async fn publisher(&self, id: &str) -> String {
        let id: PublisherId = id.parse().expect("publisher id");
        let (_, token) = accounts::add_publisher(self.ctx.store.as_ref(), id, "测试发布方 Test Publisher")
            .await
            .expect("publisher created");
        token
    }

    /// Uploads bytes as a blob; returns the response.
    pub async fn upload(&self, token: &str, bytes: &[u8]) -> reqwest::Response {
        let digest = sha256_hex(bytes);
        self.http
            .put(self.api(&format!("/api/v1/blobs/{digest}")))
            .bearer_auth(token)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload request")
    }

    /// Uploads files and publishes them as the next version of `dataset`.
    pub async fn publish(
        &self,
        token: &str,
        dataset: &str,
        access: &str,
        files: &[(&str, &[u8])],
    ) -> reqwest::Response {
        let mut entries = Vec::new();
        for (name, bytes) in files {
            let status = self.upload(token, bytes).await.status();
            assert!(status.is_success(), "upload of {name} answered {status}");
            let media_type = MediaType::guess(&name.parse().expect("file name"));
            entries.push(
                json!({"name": name, "mediaType": media_type.as_str(), "size": bytes.len(), "sha256": sha256_hex(bytes)}),
            );
        }
        self.post_version(
            token,
            dataset,
            json!({"metadata": metadata(dataset, access), "files": entries}),
        )
        .await
    }

    /// Uploads files of the given media types and publishes them as the next version of `dataset`.
    /// Uploads files and publishes them as the next version of `dataset`; returns the publish answer.
    pub async fn publish_files(
        &self,
        token: &str,
        dataset: &str,
        metadata: Value,
        files: &[(&str, &str, &[u8])],
    ) -> Value {
        let mut entries = Vec::new();
        for (name, media_type, bytes) in files {
            assert!(self.upload(token, bytes).await.status().is_success());
            entries
                .push(json!({"name": name, "mediaType": media_type, "size": bytes.len(), "sha256": sha256_hex(bytes)}));
        }
        let response = self
            .post_version(token, dataset, json!({"metadata": metadata, "files": entries}))
            .await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::CREATED, "{text}");
        serde_json::from_str(&text).expect("publish answer")
    }

    pub async fn post_version(&self, token: &str, dataset: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.api(&format!("/api/v1/datasets/{dataset}/versions")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("publish request")
    }

    /// GETs a path of the node.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.api(path)).send().await.expect("request")
    }

    /// The orders the publisher holding `token` lists (`GET /api/v1/publisher/orders`).
    pub async fn publisher_orders(&self, token: &str) -> Vec<Value> {
        let listing = self
            .http
            .get(self.api("/api/v1/publisher/orders"))
            .bearer_auth(token)
            .send()
            .await;
        listing.expect("orders").json().await.expect("json")
    }

    /// The text of the web page at `path` (asked for as a browser asks).
    pub async fn page_text(&self, path: &str) -> String {
        let response = self
            .http
            .get(self.api(path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("page");
        response.text().await.expect("html")
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(self.api(path)).send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// GETs a file with an order token and returns its whole body.
    pub async fn download_with(&self, url: &str, token: &str) -> bytes::Bytes {
        let response = self.http.get(url).bearer_auth(token).send().await.expect("download");
        assert_eq!(response.status(), StatusCode::OK, "download of {url}");
        response.bytes().await.expect("body")
    }

    /// The node's current checkpoint, as the signed note it serves.
    pub async fn checkpoint_note(&self) -> String {
        let response = self
            .http
            .get(self.api("/api/v1/log/checkpoint"))
            .send()
            .await
            .expect("checkpoint");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("text")
    }

    /// Every file under the blob directory, staging and partial files included.
    pub fn blob_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        collect_files(&self.dir.path().join("blobs"), &mut found);
        found.sort();
        found
    }

    /// The catalog as listed, plus the blob files: what "nothing changed" compares.
    pub async fn snapshot(&self) -> (Value, Vec<PathBuf>) {
        let (_, datasets) = self.get_json("/api/v1/datasets?limit=100").await;
        (datasets, self.blob_files())
    }

    /// Reads one number straight from the node's database.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection as _;
        let url = &self.config.database_url;
        if url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(url).await.expect("open SQLite");
            sqlx::query_scalar(sql).fetch_one(&mut connection).await.expect("count")
        } else {
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect PostgreSQL");
            sqlx::query_scalar(sql).fetch_one(&mut connection).await.expect("count")
        }
    }

    /// Runs a statement directly on the node's database, as an intruder with database access would.
    pub async fn tamper(&self, sql: &str) {
        use sqlx::Connection as _;
        let url = &self.config.database_url;
        if url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(url).await.expect("open SQLite");
            sqlx::query(sql).execute(&mut connection).await.expect("tamper");
        } else {
            let mut connection = sqlx::PgConnection::connect(url).await.expect("connect PostgreSQL");
            sqlx::query(sql).execute(&mut connection).await.expect("tamper");
        }
    }

    pub async fn stop(mut self) {
        self.begin_shutdown();
        self.wait_stopped().await;
    }

    /// Signals a graceful shutdown, as SIGTERM does.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Waits until the server has drained and stopped.
    pub async fn wait_stopped(&mut self) {
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some((admin_url, name)) = self.database.take() {
            // Drop runs outside async: a scoped thread with its own runtime removes the database.
            std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    runtime.block_on(drop_database(&admin_url, &name));
                }
            })
            .join()
            .ok();
        }
    }
}

fn collect_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, found);
        } else {
            found.push(path);
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn metadata(dataset: &str, access: &str) -> Value {
    let mut metadata = json!({
        "title": {"zh": format!("{dataset} 数据集"), "en": format!("{dataset} dataset")},
        "description": {"zh": "测试用数据", "en": "Data for tests"},
        "keywords": ["交通", "test"],
        "license": {"id": "CC-BY-4.0"},
        "access": access,
    });
    if access == "licensed" {
        metadata["offer"] = offer();
    }
    metadata
}

/// The offer test datasets carry when licensed.
pub fn offer() -> Value {
    json!({
        "priceFen": 50_000,
        "purposes": ["research", "城市规划"],
        "maxValidityDays": 30,
        "maxDownloads": 2,
        "licenseText": "仅限约定用途使用，不得转售。Use only for the agreed purpose; no resale.",
        "autoAccept": true,
    })
}

/// An order for version 1 of `dataset` inside the test offer, unsigned.
pub fn order(node: &str, dataset: &str, manifest_digest: &str, buyer: &KeyPair) -> Value {
    json!({
        "type": "ShulianOrder",
        "node": node,
        "dataset": dataset,
        "version": 1,
        "manifestDigest": manifest_digest,
        "purpose": "research",
        "validityDays": 7,
        "maxDownloads": 2,
        "priceFen": offer()["priceFen"],
        "licenseSha256": format!("sha256:{}", sha256_hex(offer()["licenseText"].as_str().expect("text").as_bytes())),
        "buyer": buyer.public().did(),
        "nonce": uuid::Uuid::new_v4().simple().to_string(),
        "created": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

pub fn signed(document: Value, key: &KeyPair) -> Value {
    sign_document(document, key, Utc::now()).expect("sign")
}

pub async fn post_order(app: &TestApp, body: &Value) -> reqwest::Response {
    app.http
        .post(app.api("/api/v1/orders"))
        .json(body)
        .send()
        .await
        .expect("order")
}

/// Places an order for version 1 of licensed `dataset` (auto-accepted by the test offer); returns the node's answer.
pub async fn place_test_order(app: &TestApp, dataset: &str) -> Value {
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    let (_, version) = app.get_json(&format!("/api/v1/datasets/{dataset}/versions/1")).await;
    let buyer = KeyPair::generate();
    let document = order(
        node["id"].as_str().expect("did"),
        dataset,
        version["manifestDigest"].as_str().expect("digest"),
        &buyer,
    );
    post_order(app, &signed(document, &buyer))
        .await
        .json()
        .await
        .expect("json")
}

/// The node's public Delta Sharing profile, as its description links it.
pub async fn open_profile(app: &TestApp) -> Value {
    let (_, node) = app.get_json("/.well-known/shulian-node").await;
    app.http
        .get(node["endpoints"]["openDataProfile"].as_str().expect("profile url"))
        .send()
        .await
        .expect("profile")
        .json()
        .await
        .expect("json")
}

/// The receipts of an order, read with its token (or the publisher's).
pub async fn receipts(app: &TestApp, order_id: &str, access: &str) -> Vec<Value> {
    let response = app
        .http
        .get(app.api(&format!("/api/v1/orders/{order_id}/receipts")))
        .bearer_auth(access)
        .send()
        .await
        .expect("receipts");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// The Python of the venv with tests/python/requirements.txt; CI must provide it.
pub fn test_python() -> Option<String> {
    match std::env::var("SHULIAN_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI must run the Python tests: set SHULIAN_TEST_PYTHON")
        }
        _ => {
            eprintln!("SHULIAN_TEST_PYTHON is not set: skipping a Python test");
            None
        }
    }
}

/// Runs `tests/python/<script>` with `args`; asserts it succeeded and returns the JSON it printed.
pub async fn run_python_check(python: &str, script: &str, args: &[&std::ffi::OsStr]) -> Value {
    let run = tokio::process::Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script))
        .args(args)
        .output()
        .await
        .expect("python runs");
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).expect("a JSON summary")
}

/// Asserts a problem+json response of the given status and kind.
pub async fn assert_problem(response: reqwest::Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["type"], format!("urn:shulian:problem:{kind}"), "problem {body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

pub fn with_database(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("database URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

pub async fn create_database(admin_url: &str, name: &str) {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("create test database");
}

pub async fn drop_database(admin_url: &str, name: &str) {
    use sqlx::Connection as _;
    if let Ok(mut connection) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut connection)
            .await;
    }
}

/// A JSON list of base64 hashes (a proof's path), decoded.
pub fn b64_list(value: &Value) -> Vec<Vec<u8>> {
    value
        .as_array()
        .expect("proof")
        .iter()
        .map(|h| {
            base64::engine::general_purpose::STANDARD
                .decode(h.as_str().expect("b64"))
                .expect("b64")
        })
        .collect()
}

/// Asks the node at `url` for the consistency proof from `old` to `new` and checks it.
pub async fn prove_consistent(
    http: &reqwest::Client,
    url: &str,
    old: &shulian::ledger::Checkpoint,
    new: &shulian::ledger::Checkpoint,
) -> Result<(), shulian::ledger::merkle::ProofError> {
    let proof: Value = http
        .get(format!(
            "{url}/api/v1/log/proof/consistency?from={}&to={}",
            old.size, new.size
        ))
        .send()
        .await
        .expect("consistency proof")
        .json()
        .await
        .expect("JSON");
    shulian::ledger::merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &b64_list(&proof["proof"]))
}
