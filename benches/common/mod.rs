//! What the database benchmarks share: one measurement on a fresh SQLite file and,
//! when a PostgreSQL server is named, on a throwaway database there.

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
