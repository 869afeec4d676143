//! Transparency-log benchmark (not a test): grows a log to 1,000 and then to
//! 1,000,000 entries through the node's own append path (its sequencer,
//! batched) and measures, over HTTP with concurrent clients, the p50/p99 of a
//! checkpoint, an inclusion proof and a consistency proof at each size. Prints
//! the large/small ratios, the append rate, and the process's memory.
//!
//!     cargo bench --bench log
//!
//! `SHULIAN_BENCH_LOG_ENTRIES` sets the large size (default 1,000,000).
//! The entries are orders placed straight through the sequencer (the same
//! batch integration an HTTP order ends in, without its signature checks),
//! each one log entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use shulian::domain::order::OrderState;
use shulian::domain::{DatasetId, Sha256Digest, VersionNumber};
use shulian::ledger::merkle;
use shulian::service::Context;
use shulian::store::{LoggedDocument, NewOrder};

mod common;

const SMALL: u64 = 1_000;
const CLIENTS: usize = 4;
const REQUESTS: usize = 1_000;
/// Orders in flight to the sequencer while the log grows: enough to fill its batches.
const SUBMITTERS: u64 = 512;

#[tokio::main]
async fn main() {
    let large: u64 = std::env::var("SHULIAN_BENCH_LOG_ENTRIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "transparency log benchmark: {SMALL} and {large} entries, {REQUESTS} requests of each kind from {CLIENTS} clients"
    );
    common::on_both_databases(move |backend, url, dir| run(backend, url, dir, large)).await;
}

async fn run(backend: &'static str, database_url: String, dir: std::path::PathBuf, large: u64) {
    let (ctx, base, token) = common::serve_node(database_url, dir).await;
    let http = reqwest::Client::new();
    common::publish_file(&http, &base, &token, "bench", "licensed", b"id\n1\n").await;

    grow(&ctx, SMALL).await;
    let small = measure(&http, &base, SMALL).await;
    let started = Instant::now();
    grow(&ctx, large).await;
    let append_rate = (large - SMALL) as f64 / started.elapsed().as_secs_f64();
    let (rss, peak) = common::resident_mib();
    let big = measure(&http, &base, large).await;
    println!(
        "  {backend}: appended {} entries at {append_rate:.0}/s; RSS {rss:.0} MiB (peak {peak:.0} MiB)",
        large - SMALL
    );
    for ((kind, small), (_, big)) in small.iter().zip(&big) {
        println!(
            "  {backend:<10} {kind:<12} {SMALL} entries p50 {:.2} ms p99 {:.2} ms | {large} entries p50 {:.2} ms p99 {:.2} ms | p50 ratio {:.2}×",
            small.0,
            small.1,
            big.0,
            big.1,
            big.0 / small.0
        );
    }
}

/// Appends orders through the sequencer until the log holds `target` entries.
async fn grow(ctx: &Context, target: u64) {
    let size = ctx.store.log_size().await.expect("size");
    let remaining = Arc::new(AtomicU64::new(target.saturating_sub(size)));
    let mut submitters = Vec::new();
    for _ in 0..SUBMITTERS {
        let (ctx, remaining) = (ctx.clone(), remaining.clone());
        submitters.push(tokio::spawn(async move {
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1))
                .is_ok()
            {
                ctx.sequencer.order(order()).await.expect("order logged");
            }
        }));
    }
    for submitter in submitters {
        submitter.await.expect("submitter");
    }
}

/// A distinct order of the benchmark dataset.
fn order() -> NewOrder {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let text = format!(r#"{{"nonce":"{id}","type":"ShulianOrder"}}"#);
    let digest = Sha256Digest::from_bytes(merkle::leaf_hash(text.as_bytes()));
    NewOrder {
        id: id.clone(),
        buyer: "did:key:bench".into(),
        nonce: id.clone(),
        dataset: "bench".parse::<DatasetId>().expect("id"),
        version: VersionNumber::FIRST,
        order: LoggedDocument {
            kind: shulian::domain::EntryKind::Order,
            text,
            leaf: digest,
        },
        order_digest: digest,
        state: OrderState::Requested,
        agreement: None,
        valid_until: None,
        max_downloads: 1,
        demand: None,
        token_id: id,
        token_secret_sha256: digest,
        created_at: Utc::now(),
    }
}

/// p50 and p99 (ms) of checkpoints, inclusion proofs and consistency proofs at `size`.
async fn measure(http: &reqwest::Client, base: &str, size: u64) -> Vec<(&'static str, (f64, f64))> {
    let mut results = Vec::new();
    for kind in ["checkpoint", "inclusion", "consistency"] {
        let next = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let (http, base, next) = (http.clone(), base.to_owned(), next.clone());
            clients.push(tokio::spawn(async move {
                let mut random = 0x9E37_79B9_7F4A_7C15_u64 ^ client as u64;
                let mut times = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS as u64 {
                    random ^= random << 13;
                    random ^= random >> 7;
                    random ^= random << 17;
                    let url = match kind {
                        "checkpoint" => format!("{base}/api/v1/log/checkpoint"),
                        "inclusion" => format!("{base}/api/v1/log/proof/inclusion?index={}&size={size}", random % size),
                        _ => format!(
                            "{base}/api/v1/log/proof/consistency?from={}&to={size}",
                            1 + random % (size - 1)
                        ),
                    };
                    let begun = Instant::now();
                    let response = http.get(&url).send().await.expect(kind);
                    assert!(response.status().is_success(), "{url}: {}", response.status());
                    response.bytes().await.expect("body");
                    times.push(begun.elapsed());
                }
                times
            }));
        }
        let mut times: Vec<Duration> = Vec::new();
        for client in clients {
            times.extend(client.await.expect("client"));
        }
        times.sort();
        results.push((
            kind,
            (common::percentile(&times, 0.5), common::percentile(&times, 0.99)),
        ));
    }
    results
}
