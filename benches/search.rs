//! Search benchmark (not a test): generated datasets, Chinese and English, and
//! catalog searches from 16 concurrent HTTP clients — results, total and facets
//! in every answer. Prints the index build time, index size, resident memory,
//! and p50/p99 latency and throughput on SQLite and, when
//! `SHULIAN_TEST_DATABASE_URL` is set, PostgreSQL, for popular searches repeated
//! (a second time while a publisher publishes a matching dataset every 100 ms), for
//! distinct searches, and for the whole catalog's counts (CKAN `organization_list`). When datasette is installed
//! (`SHULIAN_BENCH_DATASETTE`, default `.venv/bin/datasette`), the same records
//! and the same English queries are served by datasette (SQLite FTS5, `_search`
//! with two facets) in the same run, and shulian's figures are printed as ratios
//! to its. On PostgreSQL, two `shulian serve` processes then share the database
//! and the catalog: the time from a publish answered by one to the other finding
//! it (its index caught up) is printed as p50/p99.
//!
//!     cargo bench --bench search                                  # 100,000 datasets
//!     SHULIAN_BENCH_DATASETS=1000000 cargo bench --bench search
//!
//! The datasets are bulk-loaded into the catalog tables with their search
//! documents (publishing 100,000 signed versions one by one would measure the
//! log and fsync, not search); a node then builds its index from the database
//! exactly as a new replica does.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shulian::domain::Facet;
use shulian::search::{Field, SearchDocument};
use shulian::service::accounts;

mod common;

/// Datasets generated unless `SHULIAN_BENCH_DATASETS` says otherwise.
const DEFAULT_DATASETS: usize = 100_000;
const PUBLISHERS: usize = 50;
const REQUESTS: usize = 2_000;
const CLIENTS: usize = 16;
/// Requests for the whole catalog's counts.
const SUMMARY_REQUESTS: usize = 500;
/// How often a dataset is published while popular searches are measured a second time.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// Publications whose catch-up lag is measured across two replica processes.
const LAG_PUBLICATIONS: usize = 100;

const CITIES: [(&str, &str); 8] = [
    ("北京", "Beijing"),
    ("上海", "Shanghai"),
    ("广州", "Guangzhou"),
    ("深圳", "Shenzhen"),
    ("杭州", "Hangzhou"),
    ("成都", "Chengdu"),
    ("武汉", "Wuhan"),
    ("西安", "Xi'an"),
];
const TOPICS: [(&str, &str); 12] = [
    ("交通流量", "traffic flow"),
    ("医疗服务", "medical services"),
    ("空气质量", "air quality"),
    ("公交线路", "bus routes"),
    ("教育资源", "education resources"),
    ("人口统计", "population statistics"),
    ("能源消耗", "energy consumption"),
    ("水务监测", "water monitoring"),
    ("气象观测", "weather observations"),
    ("企业登记", "company registrations"),
    ("医院门诊", "hospital visits"),
    ("道路施工", "road works"),
];
const KINDS: [(&str, &str); 5] = [
    ("日报", "daily report"),
    ("月度汇总", "monthly summary"),
    ("实时数据", "real-time data"),
    ("年度统计", "annual statistics"),
    ("明细", "records"),
];
const QUERIES: [&str; 10] = [
    "交通",
    "医疗",
    "北京 空气",
    "公交线路",
    "traffic",
    "hosp",
    "monthly summary",
    "上海 traffic",
    "气象观测 日报",
    "energy",
];

fn datasets() -> usize {
    std::env::var("SHULIAN_BENCH_DATASETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_DATASETS)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    let datasets = datasets();
    println!("search benchmark: {datasets} datasets, {REQUESTS} searches from {CLIENTS} concurrent clients");
    common::on_both_databases(run).await;
}

async fn run(backend: &'static str, database_url: String, dir: std::path::PathBuf) {
    let mut token = String::new();
    {
        // A first node creates the schema and the publishers; the catalog is then loaded
        // behind its back, and a second node builds its index from the database.
        let (app, _, _) = common::build_node(database_url.clone(), dir.clone()).await;
        for publisher in 0..PUBLISHERS {
            (_, token) = accounts::add_publisher(
                app.context().store.as_ref(),
                format!("pub-{publisher}").parse().expect("id"),
                &format!("发布方 {publisher}"),
            )
            .await
            .expect("publisher");
        }
    }
    let started = Instant::now();
    let records = records();
    load(&database_url, &records).await;
    println!(
        "{backend}: loaded {} datasets in {:.1} s",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    let index_dir = dir.join("search");
    let _ = std::fs::remove_dir_all(&index_dir);
    let started = Instant::now();
    let (app, listener, address) = common::build_node(database_url.clone(), dir.clone()).await;
    // Stopped before the benchmark's database is dropped, so its feed does not outlive it.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let built = started.elapsed();
    let (rss, peak) = common::resident_mib();
    println!(
        "{backend}: index built from the database in {:.1} s; {:.0} MiB on disk; bench process (node and clients) RSS {rss:.0} MiB, peak {peak:.0} MiB",
        built.as_secs_f64(),
        directory_bytes(&index_dir) as f64 / f64::from(1 << 20),
    );

    let base = format!("http://{address}/api/v1/datasets?limit=20&q=");
    let popular: Vec<String> = (0..REQUESTS).map(|n| QUERIES[n % QUERIES.len()].to_owned()).collect();
    measure(backend, "popular searches, repeated", &base, &popular).await;
    let publishing = keep_publishing(format!("http://{address}"), token.clone());
    measure(backend, "popular searches, repeated, while publishing", &base, &popular).await;
    println!(
        "{backend}: {} publications during those searches",
        publishing.stop().await
    );
    let distinct = distinct_queries();
    measure(backend, "distinct searches, none repeated", &base, &distinct).await;
    // Counts of the whole catalog (CKAN's organizations with their dataset counts; the
    // same summary the home page and a CKAN package's organization show).
    let organizations = format!("http://{address}/api/3/action/organization_list?all_fields=true&q=");
    measure(
        backend,
        "CKAN organization_list, each publisher's datasets counted",
        &organizations,
        &popular[..SUMMARY_REQUESTS],
    )
    .await;
    if backend == "SQLite" {
        let english: Vec<String> = distinct.into_iter().filter(|query| query.is_ascii()).collect();
        let shulian = measure(backend, "distinct English searches", &base, &english).await;
        compare_with_datasette(&dir, &records, &english, shulian).await;
    } else {
        catch_up_lag(&database_url, &dir, &token).await;
    }
    let _ = stop.send(());
    server.await.expect("server task").expect("server stopped cleanly");
}

/// A publisher publishing one dataset after another on the node at `base` until stopped.
struct Publishing {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<usize>,
}

/// Starts publishing datasets matching the popular query `traffic`, one every
/// `PUBLISH_EVERY`: each is a new segment of the index (and its commit), as on a market
/// where publishers are at work while buyers search.
fn keep_publishing(base: String, token: String) -> Publishing {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut published = 0;
        while !*stopped.borrow() {
            let dataset = format!("traffic-live-{published:05}");
            common::publish_answer(&http, &base, &token, &dataset, "open", dataset.as_bytes()).await;
            published += 1;
            let _ = tokio::time::timeout(PUBLISH_EVERY, stopped.changed()).await;
        }
        published
    });
    Publishing { stop, task }
}

impl Publishing {
    /// Stops publishing; how many were published.
    async fn stop(self) -> usize {
        let _ = self.stop.send(true);
        self.task.await.expect("publishing task")
    }
}

/// A `shulian serve` process on `database_url`, sharing `dir` with the others but keeping
/// its own search index; answers once its index is built.
async fn replica(database_url: &str, dir: &Path, name: &str) -> (tokio::process::Child, String) {
    let port = free_port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_shulian"))
        .args(["serve", "--database-url", database_url, "--writes-per-minute", "0"])
        .arg("--data-dir")
        .arg(dir)
        .arg("--search-index")
        .arg(dir.join(format!("search-{name}")))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("shulian serve starts");
    let url = format!("http://127.0.0.1:{port}");
    wait_until_ok(&format!("{url}/readyz")).await;
    (child, url)
}

/// Waits until a GET of `url` succeeds (a server started, an index built).
async fn wait_until_ok(url: &str) {
    let http = reqwest::Client::new();
    while !http
        .get(url)
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("port")
        .port()
}

/// Two replica processes on one database: each publication answered by the first is timed
/// until the second finds it (a search naming the publication's `searchSequence`, which
/// waits until that replica's index has applied it).
async fn catch_up_lag(database_url: &str, dir: &Path, token: &str) {
    let ((_writer, writer), (_reader, reader)) = tokio::join!(
        replica(database_url, dir, "writer"),
        replica(database_url, dir, "reader")
    );
    let http = reqwest::Client::new();
    let mut lags = Vec::new();
    for n in 0..LAG_PUBLICATIONS {
        let dataset = format!("lag{n:03}");
        let answer = common::publish_answer(&http, &writer, token, &dataset, "open", dataset.as_bytes()).await;
        let published = Instant::now();
        let sequence = answer["searchSequence"].as_u64().expect("searchSequence");
        let found: serde_json::Value = http
            .get(format!(
                "{reader}/api/v1/datasets?limit=1&q={dataset}&indexed={sequence}"
            ))
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("answer");
        lags.push(published.elapsed());
        assert_eq!(found["items"][0]["id"], dataset.as_str(), "{found}");
    }
    lags.sort();
    println!(
        "PostgreSQL, catch-up lag from a publish on one replica process to a search on another: {} publications, p50 {:.1} ms, p99 {:.1} ms",
        lags.len(),
        common::percentile(&lags, 0.50),
        common::percentile(&lags, 0.99)
    );
}

/// Total bytes of the files under `directory`.
fn directory_bytes(directory: &Path) -> u64 {
    std::fs::read_dir(directory)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// One generated dataset.
struct Record {
    id: String,
    publisher: String,
    access: &'static str,
    title_zh: String,
    title_en: String,
    description: String,
    keywords: [String; 2],
}

fn records() -> Vec<Record> {
    (0..datasets())
        .map(|i| {
            let (city, topic, kind) = (CITIES[i % 8], TOPICS[(i / 8) % 12], KINDS[(i / 96) % 5]);
            Record {
                id: format!("ds-{i:07}"),
                publisher: format!("pub-{}", i % PUBLISHERS),
                access: if i % 4 == 0 { "licensed" } else { "open" },
                title_zh: format!("{}{}{}", city.0, topic.0, kind.0),
                title_en: format!("{} {} {} {}", city.1, topic.1, kind.1, i % 997),
                description: format!("{}市{}的{}，第{}批发布。", city.0, topic.0, kind.0, i % 97),
                keywords: [topic.0[..6].to_owned(), city.0.to_owned()],
            }
        })
        .collect()
}

/// `REQUESTS` different searches built from the generated vocabulary: no answer can be reused.
fn distinct_queries() -> Vec<String> {
    let head = |text: &str| text.chars().take(2).collect::<String>();
    let first_word = |text: &str| text.split(' ').next().unwrap_or(text).to_owned();
    let mut queries = Vec::new();
    for (city_zh, city_en) in CITIES {
        for (topic_zh, topic_en) in TOPICS {
            queries.push(format!("{city_zh} {}", head(topic_zh)));
            queries.push(format!("{city_en} {}", first_word(topic_en)));
        }
        for (kind_zh, kind_en) in KINDS {
            queries.push(format!("{city_zh} {kind_zh}"));
            queries.push(format!("{city_en} {}", first_word(kind_en)));
        }
    }
    for (topic_zh, topic_en) in TOPICS {
        queries.push(topic_zh.to_owned());
        for (kind_zh, kind_en) in KINDS {
            queries.push(format!("{topic_zh} {kind_zh}"));
            queries.push(format!("{topic_en} {kind_en}"));
        }
    }
    // Then a city and a number of the English titles: each matches a dozen or so datasets.
    let mut number = 0;
    while queries.len() < REQUESTS {
        queries.push(format!("{} {}", CITIES[number % CITIES.len()].1, number % 997));
        number += 1;
    }
    queries.truncate(REQUESTS);
    queries
}

/// Sends `queries` (appended to `base`) from `CLIENTS` concurrent clients, checks each answer
/// holds results, and prints and returns throughput and p99 latency.
async fn measure(backend: &str, label: &str, base: &str, queries: &[String]) -> (f64, f64) {
    let http = reqwest::Client::new();
    let queries = Arc::new(queries.to_vec());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (http, base, next, queries) = (http.clone(), base.to_owned(), next.clone(), queries.clone());
        clients.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(query) = queries.get(n) else {
                    return times;
                };
                let url = format!(
                    "{base}{}",
                    url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
                );
                let begun = Instant::now();
                let response = http.get(&url).send().await.expect("search");
                let status = response.status();
                let body = response.bytes().await.expect("body");
                times.push(begun.elapsed());
                assert!(
                    status.is_success(),
                    "{query}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                let answer: serde_json::Value = serde_json::from_slice(&body).expect("json");
                let rows = answer
                    .get("items")
                    .or_else(|| answer.get("rows"))
                    .or_else(|| answer.get("result"))
                    .and_then(|rows| rows.as_array());
                assert!(rows.is_some_and(|rows| !rows.is_empty()), "{query}: no results");
            }
        }));
    }
    let mut times: Vec<Duration> = Vec::new();
    for client in clients {
        times.extend(client.await.expect("client"));
    }
    let wall = started.elapsed();
    times.sort();
    let (p50, p99) = (common::percentile(&times, 0.50), common::percentile(&times, 0.99));
    let rate = times.len() as f64 / wall.as_secs_f64();
    println!(
        "{backend}, {label}: {} searches, p50 {p50:.1} ms, p99 {p99:.1} ms, {rate:.0} searches/s (results, total and facets in each)",
        times.len()
    );
    (rate, p99)
}

/// Serves the same records with datasette (SQLite FTS5) and runs the same English queries
/// with two facets; prints shulian's throughput and p99 as ratios to datasette's.
async fn compare_with_datasette(dir: &Path, records: &[Record], queries: &[String], shulian: (f64, f64)) {
    let datasette = std::env::var("SHULIAN_BENCH_DATASETTE").unwrap_or_else(|_| ".venv/bin/datasette".into());
    if !Path::new(&datasette).exists() {
        println!("(datasette not found at {datasette}: pip install datasette into .venv to compare)");
        return;
    }
    let file = dir.join("datasette.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", file.display()))
        .await
        .expect("datasette database");
    sqlx::query(
        "CREATE TABLE datasets (id TEXT PRIMARY KEY, title TEXT, title_en TEXT, description TEXT, \
         keywords TEXT, publisher TEXT, access TEXT)",
    )
    .execute(&pool)
    .await
    .expect("table");
    for chunk in records.chunks(1_000) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO datasets (id, title, title_en, description, keywords, publisher, access) ",
        );
        insert.push_values(chunk, |mut row, record| {
            row.push_bind(&record.id)
                .push_bind(&record.title_zh)
                .push_bind(&record.title_en)
                .push_bind(&record.description)
                .push_bind(record.keywords.join(" "))
                .push_bind(&record.publisher)
                .push_bind(record.access);
        });
        insert.build().execute(&pool).await.expect("rows");
    }
    // What `sqlite-utils enable-fts` sets up: an external-content FTS5 table over the text
    // columns, which datasette's `_search` finds by its name.
    for statement in [
        "CREATE VIRTUAL TABLE datasets_fts USING fts5 (title, title_en, description, keywords, publisher, content=datasets)",
        "INSERT INTO datasets_fts (rowid, title, title_en, description, keywords, publisher) \
         SELECT rowid, title, title_en, description, keywords, publisher FROM datasets",
        "CREATE INDEX datasets_access ON datasets (access)",
        "CREATE INDEX datasets_publisher ON datasets (publisher)",
    ] {
        sqlx::query(statement).execute(&pool).await.expect("fts");
    }
    pool.close().await;
    let port = free_port();
    let mut server = tokio::process::Command::new(&datasette)
        .arg("serve")
        .arg(&file)
        .args(["--port", &port.to_string()])
        .args([
            "--setting",
            "facet_time_limit_ms",
            "10000",
            "--setting",
            "sql_time_limit_ms",
            "10000",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("datasette starts");
    let table = format!("http://127.0.0.1:{port}/datasette/datasets.json");
    wait_until_ok(&table).await;
    let base = format!("{table}?_size=20&_facet=access&_facet=publisher&_search=");
    let datasette = measure("datasette", "the same distinct English searches", &base, queries).await;
    println!(
        "shulian / datasette, same records and English queries: throughput {:.1}x, p99 {:.2}x (below 1 is faster)",
        shulian.0 / datasette.0,
        shulian.1 / datasette.1
    );
    let _ = server.kill().await;
}

/// The loader, once per database type (the query builders are typed by backend).
macro_rules! load_into {
    ($pool:expr, $database:ty, $records:expr) => {{
        let now = chrono::Utc::now();
        for chunk in $records.chunks(1_000) {
            let rows: Vec<(&Record, String, String, String)> = chunk.iter().map(|record| row(record, now)).collect();
            let mut insert = sqlx::QueryBuilder::<$database>::new(
                "INSERT INTO datasets (id, publisher_id, access, latest_version, metadata, created_at, updated_at, search_document) ",
            );
            insert.push_values(&rows, |mut row, (record, metadata, document, at)| {
                row.push_bind(record.id.as_str())
                    .push_bind(record.publisher.as_str())
                    .push_bind(record.access)
                    .push_bind(1i64);
                row.push_bind(metadata.as_str())
                    .push_bind(at.as_str())
                    .push_bind(at.as_str())
                    .push_bind(document.as_str());
            });
            insert.build().execute(&$pool).await.expect("datasets");
        }
    }};
}

/// A record's catalog row: its metadata, search document and time, as JSON and text.
fn row(record: &Record, now: chrono::DateTime<chrono::Utc>) -> (&Record, String, String, String) {
    let metadata = json!({
        "title": {"zh": record.title_zh, "en": record.title_en},
        "description": {"zh": record.description},
        "keywords": record.keywords,
        "license": {"id": "CC-BY-4.0"},
        "access": record.access,
        "offer": (record.access == "licensed").then(|| json!({
            "priceFen": 10_000, "purposes": ["research"], "maxValidityDays": 30,
            "maxDownloads": 3, "licenseText": "bench", "autoAccept": true,
        })),
    });
    let document = SearchDocument {
        texts: vec![
            (Field::Keyword, record.id.replace('-', " ")),
            (Field::Title, record.title_zh.clone()),
            (Field::Title, record.title_en.clone()),
            (Field::Description, record.description.clone()),
            (Field::Keyword, record.keywords[0].clone()),
            (Field::Keyword, record.keywords[1].clone()),
            (Field::Publisher, record.publisher.clone()),
        ],
        facets: vec![
            (Facet::Access, record.access.to_owned()),
            (Facet::Publisher, record.publisher.clone()),
            (Facet::License, "CC-BY-4.0".to_owned()),
            (Facet::Format, "CSV".to_owned()),
            (Facet::Keyword, record.keywords[0].clone()),
            (Facet::Keyword, record.keywords[1].clone()),
        ],
    };
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    (
        record,
        metadata.to_string(),
        serde_json::to_string(&document).expect("json"),
        at,
    )
}

/// Writes the generated datasets straight into the catalog tables.
async fn load(database_url: &str, records: &[Record]) {
    if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(database_url).await.expect("database");
        load_into!(pool, sqlx::Postgres, records);
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.expect("vacuum");
    } else {
        let pool = sqlx::SqlitePool::connect(database_url).await.expect("database");
        load_into!(pool, sqlx::Sqlite, records);
    }
}
