//! Licensed-circulation benchmark (not a test): orders per second and
//! deliveries-with-receipt per second over HTTP, on SQLite and, when
//! `SHULIAN_TEST_DATABASE_URL` is set, PostgreSQL.
//!
//!     cargo bench --bench circulation

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};
use sha2::Digest as _;
use shulian::crypto::{KeyPair, sign_document};
use shulian::service::accounts;

mod common;

const ORDERS: usize = 400;
const DELIVERIES: usize = 400;
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    println!(
        "licensed circulation benchmark: {ORDERS} orders, {DELIVERIES} deliveries, {CONCURRENCY} concurrent clients"
    );
    common::on_both_databases(run).await;
}

async fn run(backend: &'static str, database_url: String, dir: std::path::PathBuf) {
    let (app, listener, address) = common::build_node(database_url, dir).await;
    let ctx = app.context().clone();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let (_, token) = accounts::add_publisher(ctx.store.as_ref(), "bench".parse().expect("id"), "Bench")
        .await
        .expect("publisher");

    let file = vec![7u8; 64 * 1024];
    let digest = hex::encode(sha2::Sha256::digest(&file));
    http.put(format!("{base}/api/v1/blobs/{digest}"))
        .bearer_auth(&token)
        .body(file.clone())
        .send()
        .await
        .expect("upload");
    let license = "bench licence";
    let metadata = json!({"title": {"en": "bench"}, "license": {"id": "x"}, "access": "licensed",
        "offer": {"priceFen": 100, "purposes": ["bench"], "maxValidityDays": 30, "maxDownloads": 10000, "licenseText": license, "autoAccept": true}});
    let body = json!({"metadata": metadata, "files": [{"name": "f.bin", "mediaType": "application/octet-stream", "size": file.len(), "sha256": digest}]});
    http.post(format!("{base}/api/v1/datasets/bench/versions"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("publish");
    let node: Value = http
        .get(format!("{base}/.well-known/shulian-node"))
        .send()
        .await
        .expect("node")
        .json()
        .await
        .expect("json");
    let version: Value = http
        .get(format!("{base}/api/v1/datasets/bench/versions/1"))
        .send()
        .await
        .expect("version")
        .json()
        .await
        .expect("json");
    let template = Arc::new(json!({
        "type": "ShulianOrder", "node": node["id"], "dataset": "bench", "version": 1,
        "manifestDigest": version["manifestDigest"], "purpose": "bench", "validityDays": 30, "maxDownloads": 10000,
        "priceFen": 100, "licenseSha256": format!("sha256:{}", hex::encode(sha2::Sha256::digest(license.as_bytes()))),
    }));

    let buyer = Arc::new(KeyPair::generate());
    let started = Instant::now();
    let tokens = concurrently(ORDERS, {
        let (http, base, template, buyer) = (http.clone(), base.clone(), template.clone(), buyer.clone());
        move |_| {
            let (http, base, template, buyer) = (http.clone(), base.clone(), template.clone(), buyer.clone());
            async move {
                let mut order = (*template).clone();
                order["buyer"] = json!(buyer.public().did());
                order["nonce"] = json!(uuid::Uuid::new_v4().simple().to_string());
                order["created"] = json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                let signed = sign_document(order, &buyer, Utc::now()).expect("sign");
                let placed: Value = http
                    .post(format!("{base}/api/v1/orders"))
                    .json(&signed)
                    .send()
                    .await
                    .expect("order")
                    .json()
                    .await
                    .expect("json");
                placed["accessToken"].as_str().expect("agreed").to_owned()
            }
        }
    })
    .await;
    let orders_per_second = ORDERS as f64 / started.elapsed().as_secs_f64();

    let access = Arc::new(tokens);
    let log_before = ctx.store.log_size().await.expect("log");
    let started = Instant::now();
    concurrently(DELIVERIES, {
        let (http, base, access) = (http.clone(), base.clone(), access.clone());
        move |index| {
            let (http, base, access) = (http.clone(), base.clone(), access.clone());
            async move {
                let token = &access[index % access.len()];
                let bytes = http
                    .get(format!("{base}/api/v1/datasets/bench/versions/1/files/f.bin"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body");
                assert_eq!(bytes.len(), 64 * 1024);
            }
        }
    })
    .await;
    let deliveries_per_second = DELIVERIES as f64 / started.elapsed().as_secs_f64();
    let receipts = ctx.store.log_size().await.expect("log") - log_before;
    assert_eq!(receipts as usize, DELIVERIES, "every delivery logged a receipt");
    println!(
        "  {backend:<10} orders (verify, agree, log 2 entries): {orders_per_second:>7.0}/s   deliveries with signed, logged receipt (64 KiB): {deliveries_per_second:>7.0}/s"
    );
}

async fn concurrently<T, F, Fut>(count: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    use futures::StreamExt as _;
    futures::stream::iter((0..count).map(task))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}
