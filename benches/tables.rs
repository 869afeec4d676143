//! Table benchmark (not a test), over HTTP on SQLite and local disk:
//! preview latency of a small Parquet file and of one 1000× larger, as a
//! ratio that must stay near 1 (a preview reads the footer and the pages it
//! shows, never the whole file), and the time to inspect a large CSV file
//! (type inference, Parquet copy, statistics) when it is published.
//!
//!     cargo bench --bench tables

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use parquet::arrow::ArrowWriter;
use serde_json::{Value, json};
use sha2::Digest as _;
use shulian::app::App;
use shulian::config::{Config, Settings};
use shulian::service::accounts;

const SMALL_ROWS: usize = 10_000;
const LARGE_ROWS: usize = SMALL_ROWS * 1_000;
const CSV_ROWS: usize = 2_000_000;
const PREVIEWS: usize = 40;
const DISTRICTS: [&str; 6] = ["朝阳区", "海淀区", "东城区", "西城区", "丰台区", "石景山区"];

/// Rows `start..end` of a four-column table.
fn batch_of(start: usize, end: usize) -> RecordBatch {
    let ids: Vec<i64> = (start as i64..end as i64).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(ids.clone()))),
        (
            "district",
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|&i| DISTRICTS[i as usize % 6]),
            )),
        ),
        (
            "flow",
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|&i| (i % 977) as f64 * 1.5),
            )),
        ),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                ids.iter().map(|&i| 1_704_067_200_000_000 + i * 1_000_000),
            )),
        ),
    ];
    RecordBatch::try_from_iter(columns).expect("batch")
}

/// A table of `rows` rows, written in batches so memory stays flat.
fn parquet_of(rows: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch_of(0, 1).schema(), None).expect("writer");
    for start in (0..rows).step_by(100_000) {
        writer
            .write(&batch_of(start, (start + 100_000).min(rows)))
            .expect("write");
    }
    writer.close().expect("close");
    out
}

fn csv_of(rows: usize) -> Vec<u8> {
    let mut text = String::from("站点,日期,时间,流量,均速\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{},2024-{:02}-{:02},2024-01-01 {:02}:{:02}:00,{},{}.5\n",
            DISTRICTS[i % 6],
            i % 12 + 1,
            i % 28 + 1,
            i % 24,
            i % 60,
            i % 5_000,
            i % 90
        ));
    }
    text.into_bytes()
}

struct Node {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Node {
    async fn publish(&self, dataset: &str, name: &str, media_type: &str, bytes: &[u8]) -> Duration {
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        self.http
            .put(format!("{}/api/v1/blobs/{digest}", self.base))
            .bearer_auth(&self.token)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload");
        let body = json!({
            "metadata": {"title": {"zh": dataset}, "license": {"id": "CC-BY-4.0"}, "access": "open"},
            "files": [{"name": name, "mediaType": media_type, "size": bytes.len(), "sha256": digest}],
        });
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/api/v1/datasets/{dataset}/versions", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("publish");
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap_or_default()
        );
        started.elapsed()
    }

    /// Median latency of previews of 100 rows at `offset`.
    async fn preview_median(&self, dataset: &str, name: &str, offset: usize) -> Duration {
        let url = format!(
            "{}/api/v1/datasets/{dataset}/versions/1/files/{name}/preview?offset={offset}&limit=100",
            self.base
        );
        let mut times = Vec::with_capacity(PREVIEWS);
        for _ in 0..PREVIEWS {
            let started = Instant::now();
            let rows: Value = self
                .http
                .get(&url)
                .send()
                .await
                .expect("preview")
                .json()
                .await
                .expect("json");
            times.push(started.elapsed());
            assert_eq!(rows["rows"].as_array().map(Vec::len), Some(100));
        }
        times.sort();
        times[PREVIEWS / 2]
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let settings = Settings {
        listen: Some(address),
        data_dir: Some(dir.path().to_owned()),
        ..Settings::default()
    };
    let config = Config::resolve(settings, Settings::default()).expect("config");
    let app = App::build(&config).await.expect("app");
    let (_, token) = accounts::add_publisher(app.context().store.as_ref(), "bench".parse().expect("id"), "Bench")
        .await
        .expect("publisher");
    tokio::spawn(app.serve(listener, std::future::pending()));
    let node = Node {
        base: format!("http://{address}"),
        http: reqwest::Client::new(),
        token,
    };

    let small = parquet_of(SMALL_ROWS);
    let large = parquet_of(LARGE_ROWS);
    println!(
        "preview benchmark: {SMALL_ROWS} rows ({} KiB) vs {LARGE_ROWS} rows ({} MiB), median of {PREVIEWS} previews of 100 rows",
        small.len() / 1024,
        large.len() >> 20
    );
    node.publish("small", "t.parquet", "application/vnd.apache.parquet", &small)
        .await;
    node.publish("large", "t.parquet", "application/vnd.apache.parquet", &large)
        .await;
    for (label, small_offset, large_offset) in [("first rows", 0, 0), ("middle rows", SMALL_ROWS / 2, LARGE_ROWS / 2)] {
        let small_time = node.preview_median("small", "t.parquet", small_offset).await;
        let large_time = node.preview_median("large", "t.parquet", large_offset).await;
        println!(
            "  {label:<12} small {:>8.2} ms   large {:>8.2} ms   large/small {:.2}",
            small_time.as_secs_f64() * 1e3,
            large_time.as_secs_f64() * 1e3,
            large_time.as_secs_f64() / small_time.as_secs_f64()
        );
    }

    let csv = csv_of(CSV_ROWS);
    let took = node.publish("csv", "flows.csv", "text/csv", &csv).await;
    println!(
        "CSV inspection at publish: {CSV_ROWS} rows, {} MiB: {:.2} s ({:.0} MiB/s; two passes, typed Parquet copy, statistics)",
        csv.len() >> 20,
        took.as_secs_f64(),
        (csv.len() as f64 / (1 << 20) as f64) / took.as_secs_f64()
    );
}
