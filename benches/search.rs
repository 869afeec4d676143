//! Search benchmark (not a test): 100,000 generated datasets, Chinese and
//! English, and catalog searches from concurrent HTTP clients; prints p50/p99
//! latency on SQLite and, when `SHULIAN_TEST_DATABASE_URL` is set, PostgreSQL,
//! for a few popular searches repeated (summaries reused between publications)
//! and for searches that are all different (every summary computed).
//!
//!     cargo bench --bench search
//!
//! The datasets are bulk-loaded into the catalog and search tables with the
//! node's own analyzer (publishing 100,000 signed versions one by one would
//! measure the log and fsync, not search).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shulian::search::{Field, index_terms};
use shulian::service::{accounts, search::ANALYZER};

mod common;

/// Datasets generated unless `SHULIAN_BENCH_DATASETS` says otherwise.
const DEFAULT_DATASETS: usize = 100_000;
const PUBLISHERS: usize = 50;
const REQUESTS: usize = 400;
const CLIENTS: usize = 16;

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
    let (app, listener, address) = common::build_node(database_url.clone(), dir).await;
    for publisher in 0..PUBLISHERS {
        accounts::add_publisher(
            app.context().store.as_ref(),
            format!("pub-{publisher}").parse().expect("id"),
            &format!("发布方 {publisher}"),
        )
        .await
        .expect("publisher");
    }
    let started = Instant::now();
    load(&database_url).await;
    println!(
        "{backend}: loaded {} datasets in {:.1} s",
        datasets(),
        started.elapsed().as_secs_f64()
    );
    tokio::spawn(app.serve(listener, std::future::pending()));

    let base = format!("http://{address}/api/v1/datasets");
    let popular: Vec<String> = (0..REQUESTS).map(|n| QUERIES[n % QUERIES.len()].to_owned()).collect();
    measure(backend, "popular searches, repeated", &base, popular).await;
    measure(backend, "distinct searches, none repeated", &base, distinct_queries()).await;
}

/// `REQUESTS` different searches built from the generated vocabulary, so no two share a summary.
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
    assert!(queries.len() >= REQUESTS, "{} distinct queries", queries.len());
    queries.truncate(REQUESTS);
    queries
}

/// Sends `queries` from `CLIENTS` concurrent clients and prints latency percentiles.
async fn measure(backend: &str, label: &str, base: &str, queries: Vec<String>) {
    let http = reqwest::Client::new();
    let queries = Arc::new(queries);
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
                    "{base}?q={}&limit=20",
                    url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
                );
                let begun = Instant::now();
                let response = http.get(&url).send().await.expect("search");
                let status = response.status();
                let body = response.bytes().await.expect("body");
                assert!(
                    status.is_success(),
                    "{query}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                times.push(begun.elapsed());
            }
        }));
    }
    let mut times: Vec<Duration> = Vec::new();
    for client in clients {
        times.extend(client.await.expect("client"));
    }
    let wall = started.elapsed();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "{backend}, {label}: search latency p50 {:.1} ms, p99 {:.1} ms, {:.0} searches/s (results, total and facets per request)",
        at(0.50),
        at(0.99),
        times.len() as f64 / wall.as_secs_f64()
    );
}

/// The loader, once per database type (the query builders are typed by backend).
macro_rules! load_into {
    ($pool:expr, $database:ty) => {{
    let pool = &$pool;
    let now = chrono::Utc::now();
    for chunk in (0..datasets()).collect::<Vec<_>>().chunks(1_000) {
        let mut tx = pool.begin().await.expect("begin");
        let mut datasets = sqlx::QueryBuilder::<$database>::new(
            "INSERT INTO datasets (id, publisher_id, access, latest_version, metadata, created_at, updated_at, indexed_with) ",
        );
        let mut terms: Vec<(String, String, i64)> = Vec::new();
        let mut facets: Vec<(String, String, String)> = Vec::new();
        let rows: Vec<(String, String, String, String, String)> = chunk
            .iter()
            .map(|&i| {
                let (city, topic, kind) = (CITIES[i % 8], TOPICS[(i / 8) % 12], KINDS[(i / 96) % 5]);
                let id = format!("ds-{i:06}");
                let publisher = format!("pub-{}", i % PUBLISHERS);
                let access = if i % 4 == 0 { "licensed" } else { "open" };
                let title_zh = format!("{}{}{}", city.0, topic.0, kind.0);
                let title_en = format!("{} {} {}", city.1, topic.1, kind.1);
                let description = format!("{}市{}的{}，第{}批发布。", city.0, topic.0, kind.0, i % 97);
                let keywords = [topic.0[..6].to_owned(), city.0.to_owned()];
                let metadata = json!({
                    "title": {"zh": title_zh, "en": title_en},
                    "description": {"zh": description},
                    "keywords": keywords,
                    "license": {"id": "CC-BY-4.0"},
                    "access": access,
                    "offer": (access == "licensed").then(|| json!({
                        "priceFen": 10_000, "purposes": ["research"], "maxValidityDays": 30,
                        "maxDownloads": 3, "licenseText": "bench", "autoAccept": true,
                    })),
                });
                let texts = [
                    (Field::Title, title_zh.as_str()),
                    (Field::Title, title_en.as_str()),
                    (Field::Description, description.as_str()),
                    (Field::Keyword, keywords[0].as_str()),
                    (Field::Keyword, keywords[1].as_str()),
                    (Field::Publisher, publisher.as_str()),
                ];
                for (term, weight) in index_terms(texts) {
                    terms.push((id.clone(), term, weight));
                }
                for (facet, value) in [("access", access), ("publisher", &publisher), ("license", "CC-BY-4.0"), ("format", "CSV"), ("keyword", &keywords[0]), ("keyword", &keywords[1])] {
                    facets.push((id.clone(), facet.to_owned(), value.to_owned()));
                }
                (id, publisher, access.to_owned(), metadata.to_string(), (now - chrono::Duration::seconds(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            })
            .collect();
        datasets.push_values(&rows, |mut row, (id, publisher, access, metadata, at)| {
            row.push_bind(id.as_str()).push_bind(publisher.as_str()).push_bind(access.as_str()).push_bind(1i64);
            row.push_bind(metadata.as_str()).push_bind(at.as_str()).push_bind(at.as_str()).push_bind(ANALYZER);
        });
        datasets.build().execute(&mut *tx).await.expect("datasets");
        for part in terms.chunks(500) {
            let mut insert = sqlx::QueryBuilder::<$database>::new("INSERT INTO search_terms (dataset_id, term, weight) ");
            insert.push_values(part, |mut row, (id, term, weight)| {
                row.push_bind(id.as_str()).push_bind(term.as_str()).push_bind(*weight);
            });
            insert.build().execute(&mut *tx).await.expect("terms");
        }
        facets.sort();
        facets.dedup();
        for part in facets.chunks(500) {
            let mut insert = sqlx::QueryBuilder::<$database>::new("INSERT INTO dataset_facets (dataset_id, facet, value) ");
            insert.push_values(part, |mut row, (id, facet, value)| {
                row.push_bind(id.as_str()).push_bind(facet.as_str()).push_bind(value.as_str());
            });
            insert.build().execute(&mut *tx).await.expect("facets");
        }
        tx.commit().await.expect("commit");
    }
    }};
}

/// Writes the generated datasets straight into the catalog and search tables, in large transactions.
async fn load(database_url: &str) {
    if database_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(database_url).await.expect("database");
        load_into!(pool, sqlx::Postgres);
        // What autovacuum would have done by the time a catalog this size is searched:
        // statistics, and visibility maps so index-only scans need no heap visits.
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.expect("vacuum");
    } else {
        let pool = sqlx::SqlitePool::connect(database_url).await.expect("database");
        load_into!(pool, sqlx::Sqlite);
    }
}
