//! What the database benchmarks share: one measurement on a fresh SQLite file and,
//! when a PostgreSQL server is named, on a throwaway database there.

// Each benchmark binary uses its own part of what they share.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use shulian::app::App;
use shulian::config::{Config, Settings};
use tokio::net::TcpListener;

/// Runs `measure(backend name, database URL, data directory)` on a new SQLite
/// database, then on a new PostgreSQL database created on the server
/// `SHULIAN_TEST_DATABASE_URL` names and dropped afterwards.
pub async fn on_both_databases<F, Fut>(measure: F)
where
    F: Fn(&'static str, String, PathBuf) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    measure("SQLite", sqlite, dir.path().to_owned()).await;
    let Ok(admin) = std::env::var("SHULIAN_TEST_DATABASE_URL") else {
        println!("(set SHULIAN_TEST_DATABASE_URL to measure PostgreSQL too)");
        return;
    };
    use sqlx::Connection as _;
    let name = format!("shulian_bench_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("create");
    let mut url = url::Url::parse(&admin).expect("url");
    url.set_path(&format!("/{name}"));
    let pg_dir = tempfile::tempdir().expect("tempdir");
    measure("PostgreSQL", url.to_string(), pg_dir.path().to_owned()).await;
    let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut connection)
        .await;
}

/// A node on embedded defaults but for `database_url` and `dir`, with the listener it is to
/// serve on (bound to a free port) and that listener's address.
pub async fn build_node(database_url: String, dir: PathBuf) -> (App, TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let settings = Settings {
        listen: Some(address),
        data_dir: Some(dir),
        database_url: Some(database_url),
        // Benchmarks measure throughput; the write rate limit would measure itself.
        writes_per_minute: Some(0),
        ..Settings::default()
    };
    let config = Config::resolve(settings, Settings::default()).expect("config");
    (App::build(&config).await.expect("app"), listener, address)
}

/// A node serving on a free port (on `database_url` and `dir`), with a publisher `bench`:
/// its service context, base URL and the publisher's token.
pub async fn serve_node(database_url: String, dir: PathBuf) -> (shulian::service::Context, String, String) {
    let (app, listener, address) = build_node(database_url, dir).await;
    let ctx = app.context().clone();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let (_, token) =
        shulian::service::accounts::add_publisher(ctx.store.as_ref(), "bench".parse().expect("id"), "Bench")
            .await
            .expect("publisher");
    (ctx, format!("http://{address}"), token)
}

/// The licence text every benchmark offer carries.
pub const BENCH_LICENSE: &str = "bench licence";

/// Uploads `file` and publishes it as `f.bin`, the only file of version 1 of `dataset`,
/// `open` or `licensed` (orders within the offer agreed at once); returns the publish answer.
pub async fn publish_answer(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    dataset: &str,
    access: &str,
    file: &[u8],
) -> serde_json::Value {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(file));
    let uploaded = http
        .put(format!("{base}/api/v1/blobs/{digest}"))
        .bearer_auth(token)
        .body(file.to_vec())
        .send()
        .await
        .expect("upload");
    assert!(uploaded.status().is_success(), "upload: {}", uploaded.status());
    let mut metadata = serde_json::json!({"title": {"en": dataset}, "license": {"id": "x"}, "access": access});
    if access == "licensed" {
        metadata["offer"] = serde_json::json!({"priceFen": 100, "purposes": ["bench"], "maxValidityDays": 30,
            "maxDownloads": 10_000, "licenseText": BENCH_LICENSE, "autoAccept": true});
    }
    let body = serde_json::json!({"metadata": metadata, "files": [{"name": "f.bin",
        "mediaType": "application/octet-stream", "size": file.len(), "sha256": digest}]});
    let published = http
        .post(format!("{base}/api/v1/datasets/{dataset}/versions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("publish");
    assert!(published.status().is_success(), "publish: {}", published.status());
    published.json().await.expect("publish answer")
}

/// Like [`publish_answer`], but returns the version as served.
pub async fn publish_file(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    dataset: &str,
    access: &str,
    file: &[u8],
) -> serde_json::Value {
    publish_answer(http, base, token, dataset, access, file).await;
    http.get(format!("{base}/api/v1/datasets/{dataset}/versions/1"))
        .send()
        .await
        .expect("version")
        .json()
        .await
        .expect("json")
}

/// Latency percentiles in milliseconds of sorted `times`: `at(0.5)` is the median.
pub fn percentile(times: &[std::time::Duration], quantile: f64) -> f64 {
    let index = ((times.len() as f64 * quantile) as usize).min(times.len().saturating_sub(1));
    times.get(index).map_or(0.0, |time| time.as_secs_f64() * 1e3)
}

/// This process's resident memory now and at its peak, in MiB (Linux `/proc`).
pub fn resident_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time this process (node and clients alike) has used so far, user and system
/// (Linux `/proc`, in clock ticks of 10 ms: read it over runs of a second or more).
pub fn process_cpu() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields counted here follow its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |field: usize| {
        fields
            .get(field)
            .and_then(|value| value.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    std::time::Duration::from_millis((ticks(11) + ticks(12)) * 10)
}
