//! Licensed-circulation benchmark (not a test), over HTTP with 16 concurrent
//! clients, on SQLite and, when `SHULIAN_TEST_DATABASE_URL` is set,
//! PostgreSQL: orders per second (signed, verified, countersigned, logged),
//! and deliveries of a small licensed file, each with a signed receipt in the
//! log, side by side with open downloads of the same bytes in the same run.
//! Open and receipted rounds alternate; prints the median round's ratio (and
//! every round's), the latency a delivery adds (waiting for its log batch)
//! at p50 and p99, the receipts a log batch integrates on average, and the
//! CPU time each kind of request costs this process (which shows whether the
//! ratio is bound by CPU or by waiting for batches).
//!
//!     cargo bench --bench circulation

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use sha2::Digest as _;
use shulian::crypto::{KeyPair, sign_document};

mod common;

const ORDERS: usize = 2_000;
const DOWNLOADS: usize = 4_000;
const CONCURRENCY: usize = 16;
/// Alternating rounds of open downloads and receipted deliveries.
const ROUNDS: usize = 9;
/// The file: small, so the cost measured is admission and receipts, not bytes.
const FILE_BYTES: usize = 1024;

#[tokio::main]
async fn main() {
    println!(
        "licensed circulation benchmark: {ORDERS} orders; {ROUNDS} rounds of {DOWNLOADS} open downloads then {DOWNLOADS} \
         receipted deliveries of a {FILE_BYTES}-byte file; {CONCURRENCY} concurrent clients"
    );
    common::on_both_databases(run).await;
}

async fn run(backend: &'static str, database_url: String, dir: std::path::PathBuf) {
    let (ctx, base, token) = common::serve_node(database_url, dir).await;
    let http = reqwest::Client::new();
    let file = vec![7u8; FILE_BYTES];
    common::publish_file(&http, &base, &token, "open-bench", "open", &file).await;
    let version = common::publish_file(&http, &base, &token, "bench", "licensed", &file).await;
    let node: Value = http
        .get(format!("{base}/.well-known/shulian-node"))
        .send()
        .await
        .expect("node")
        .json()
        .await
        .expect("json");
    let template = Arc::new(json!({
        "type": "ShulianOrder", "node": node["id"], "dataset": "bench", "version": 1,
        "manifestDigest": version["manifestDigest"], "purpose": "bench", "validityDays": 30, "maxDownloads": 10_000,
        "priceFen": 100,
        "licenseSha256": format!("sha256:{}", hex::encode(sha2::Sha256::digest(common::BENCH_LICENSE.as_bytes()))),
    }));

    let buyer = Arc::new(KeyPair::generate());
    let (orders, order_time) = timed(ORDERS, {
        let (http, base) = (http.clone(), base.clone());
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
    let tokens = Arc::new(orders.into_iter().map(|(_, token)| token).collect::<Vec<_>>());

    let get = |dataset: &'static str, tokens: Option<Arc<Vec<String>>>| {
        let (http, base) = (http.clone(), base.clone());
        move |index: usize| {
            let (http, base, tokens) = (http.clone(), base.clone(), tokens.clone());
            async move {
                let mut request = http.get(format!("{base}/api/v1/datasets/{dataset}/versions/1/files/f.bin"));
                if let Some(tokens) = &tokens {
                    request = request.bearer_auth(&tokens[index % tokens.len()]);
                }
                let response = request.send().await.expect("get");
                assert!(response.status().is_success(), "{dataset}: {}", response.status());
                assert_eq!(response.bytes().await.expect("body").len(), FILE_BYTES);
            }
        }
    };
    // Open and receipted rounds alternate, so a slow spell of the machine weighs on both
    // sides of a round's ratio alike; the median round is what is reported.
    let (mut open_times, mut delivery_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut open_total, mut delivery_total) = (Duration::ZERO, Duration::ZERO);
    let (mut open_cpu, mut delivery_cpu) = (Duration::ZERO, Duration::ZERO);
    let mut batches = 0;
    for _ in 0..ROUNDS {
        let started = common::process_cpu();
        let (open, open_time) = timed(DOWNLOADS, get("open-bench", None)).await;
        let (opened, log_before) = (common::process_cpu(), ctx.store.log_size().await.expect("log"));
        let (delivered, delivery_time) = timed(DOWNLOADS, get("bench", Some(tokens.clone()))).await;
        open_cpu += opened - started;
        delivery_cpu += common::process_cpu() - opened;
        let receipts = ctx.store.log_size().await.expect("log") - log_before;
        assert_eq!(receipts as usize, DOWNLOADS, "every delivery logged a receipt");
        // Each batch signs and keeps one checkpoint, so the round's checkpoints count its batches.
        batches += ctx
            .store
            .checkpoint_notes(log_before, DOWNLOADS as u32)
            .await
            .expect("checkpoints")
            .len();
        ratios.push(open_time.as_secs_f64() / delivery_time.as_secs_f64());
        open_times.extend(open.into_iter().map(|(time, ())| time));
        delivery_times.extend(delivered.into_iter().map(|(time, ())| time));
        open_total += open_time;
        delivery_total += delivery_time;
    }

    let rate = |count: usize, time: Duration| count as f64 / time.as_secs_f64();
    let (open_rate, delivery_rate) = (
        rate(DOWNLOADS * ROUNDS, open_total),
        rate(DOWNLOADS * ROUNDS, delivery_total),
    );
    let latencies = |mut times: Vec<Duration>| {
        times.sort();
        (common::percentile(&times, 0.5), common::percentile(&times, 0.99))
    };
    let ((open_p50, open_p99), (delivery_p50, delivery_p99)) = (latencies(open_times), latencies(delivery_times));
    let per_request = |cpu: Duration| cpu.as_secs_f64() * 1e6 / (DOWNLOADS * ROUNDS) as f64;
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let busy = |cpu: Duration, wall: Duration| 100.0 * cpu.as_secs_f64() / (wall.as_secs_f64() * cores);
    ratios.sort_by(f64::total_cmp);
    let rounds: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.2}")).collect();
    println!(
        "  {backend:<10} orders (verify, agree, log 2 entries): {:>6.0}/s\n  \
         {backend:<10} open downloads: {open_rate:>6.0}/s (p50 {open_p50:.1} ms, p99 {open_p99:.1} ms)   \
         receipted deliveries: {delivery_rate:>6.0}/s (p50 {delivery_p50:.1} ms, p99 {delivery_p99:.1} ms)\n  \
         {backend:<10} receipted/open ratio: median of {ROUNDS} rounds {:.2}× (rounds, sorted: {})   \
         latency a receipt adds: p50 {:+.1} ms, p99 {:+.1} ms, receipts per log batch {:.1}\n  \
         {backend:<10} CPU per request in this process (node and clients, not a database server; busy: of all cores): open {:.0} µs ({:.0}% busy), \
         receipted {:.0} µs ({:.0}% busy)",
        rate(ORDERS, order_time),
        ratios[ROUNDS / 2],
        rounds.join(" "),
        delivery_p50 - open_p50,
        delivery_p99 - open_p99,
        (DOWNLOADS * ROUNDS) as f64 / batches.max(1) as f64,
        per_request(open_cpu),
        busy(open_cpu, open_total),
        per_request(delivery_cpu),
        busy(delivery_cpu, delivery_total),
    );
}

/// Runs `count` tasks, `CONCURRENCY` at a time; each result with its own latency, and the wall time.
async fn timed<T, F, Fut>(count: usize, task: F) -> (Vec<(Duration, T)>, Duration)
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    use futures::StreamExt as _;
    let started = Instant::now();
    let results = futures::stream::iter((0..count).map(|index| {
        let work = task(index);
        async move {
            let begun = Instant::now();
            let result = work.await;
            (begun.elapsed(), result)
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    (results, started.elapsed())
}
