//! Harvest benchmark (not a test): a peer node publishes many datasets (100,000 unless
//! `SHULIAN_BENCH_PEER_DATASETS` says otherwise); a city node harvests its catalog with
//! `shulian admin check-peers` run as its own process, every version verified (manifest
//! signature, digest, inclusion in the peer's log). Prints, for a city node harvesting a
//! tenth of the catalog and one harvesting all of it: the time, versions per second and
//! the harvesting process's peak resident memory (bounded memory: the two peaks are
//! alike); then a re-harvest with no change (one page of the change feed).
//!
//!     cargo bench --bench federation
//!
//! On SQLite: the figures measure the harvester, which reads the peer over HTTP.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

/// Datasets the peer publishes unless `SHULIAN_BENCH_PEER_DATASETS` says otherwise.
const DEFAULT_DATASETS: usize = 100_000;
/// Concurrent publishing clients.
const PUBLISHERS: usize = 16;

#[tokio::main]
async fn main() {
    let datasets: usize = std::env::var("SHULIAN_BENCH_PEER_DATASETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_DATASETS);
    let dir = tempfile::tempdir().expect("tempdir");
    let peer_dir = dir.path().join("peer");
    let peer_db = format!("sqlite://{}", dir.path().join("peer.db").display());
    let (_peer, peer_url, token) = common::serve_node(peer_db, peer_dir).await;
    let http = reqwest::Client::new();

    let tenth = datasets / 10;
    let started = Instant::now();
    publish(&http, &peer_url, &token, 0, tenth).await;
    println!(
        "harvest benchmark: the peer published {tenth} datasets in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let small = harvest(dir.path(), "city-small", &peer_url).await;
    report(tenth, &small);

    let started = Instant::now();
    publish(&http, &peer_url, &token, tenth, datasets).await;
    println!(
        "  the peer published {} more datasets in {:.0} s",
        datasets - tenth,
        started.elapsed().as_secs_f64()
    );
    let whole = harvest(dir.path(), "city", &peer_url).await;
    report(datasets, &whole);
    let again = check_peers(dir.path(), "city").await;
    println!(
        "  re-harvest with no change: {:.0} ms, peak RSS {:.0} MiB",
        again.0.as_secs_f64() * 1e3,
        again.1
    );
    println!(
        "  peak RSS harvesting {datasets} vs {tenth} datasets: {:.2}×",
        whole.1 / small.1
    );
}

fn report(datasets: usize, (took, peak): &(Duration, f64)) {
    println!(
        "  harvested {datasets} datasets (each manifest and inclusion proof verified) in {:.1} s: {:.0} versions/s, peak RSS {peak:.0} MiB",
        took.as_secs_f64(),
        datasets as f64 / took.as_secs_f64()
    );
}

/// Publishes datasets `from..to` (one small open file each, uploaded once) from
/// [`PUBLISHERS`] concurrent clients.
async fn publish(http: &reqwest::Client, base: &str, token: &str, from: usize, to: usize) {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(from));
    let mut clients = Vec::new();
    for _ in 0..PUBLISHERS {
        let (http, base, token, next) = (http.clone(), base.to_owned(), token.to_owned(), next.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= to {
                    break;
                }
                common::publish_answer(&http, &base, &token, &format!("d{n:07}"), "open", b"k,v\n1,2\n").await;
            }
        }));
    }
    for client in clients {
        client.await.expect("publisher");
    }
}

/// A new city node (its own database) pins the peer and harvests it: the time and the
/// harvesting process's peak resident memory in MiB.
async fn harvest(dir: &Path, city: &str, peer: &str) -> (Duration, f64) {
    let added = shulian(dir, city, &["add-peer", peer])
        .output()
        .await
        .expect("add-peer");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    check_peers(dir, city).await
}

/// Runs `shulian admin check-peers` for `city`; its time and peak resident memory (MiB).
async fn check_peers(dir: &Path, city: &str) -> (Duration, f64) {
    let started = Instant::now();
    let mut child = shulian(dir, city, &["check-peers", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("check-peers");
    let pid = child.id().expect("pid");
    let mut peak = 0.0_f64;
    let status = loop {
        peak = peak.max(peak_rss_mib(pid));
        match tokio::time::timeout(Duration::from_millis(20), child.wait()).await {
            Ok(status) => break status.expect("exit"),
            Err(_) => continue,
        }
    };
    let took = started.elapsed();
    assert!(status.success(), "check-peers failed");
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use tokio::io::AsyncReadExt as _;
        stdout.read_to_string(&mut output).await.expect("output");
    }
    let peers: serde_json::Value = serde_json::from_str(&output).expect("peers");
    assert!(peers[0]["lastError"].is_null(), "{peers}");
    (took, peak)
}

fn shulian(dir: &Path, city: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"));
    command
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(dir.join(city))
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.join(format!("{city}.db")).display()));
    command
}

/// A process's peak resident memory so far (its `VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
