//! The embedded SQLite backend: one file, WAL, durable commits.
//!
//! `synchronous = FULL` because what this database records (versions now;
//! orders, agreements and receipts later) must survive a power loss. Write
//! transactions begin `IMMEDIATE` so a reader never has to upgrade its lock
//! mid-transaction, which SQLite answers with an unretried `SQLITE_BUSY`.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};

use super::StoreError;
use super::sql::impl_store_with_shared_sql;

/// Catalog metadata in a SQLite database file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes: SQLite admits one writer at a time anyway, and a
    /// writer of its own never queues behind readers for a pooled connection (the log's
    /// sequencer writes back to back) nor sleeps in the busy handler behind another writer.
    writer: SqlitePool,
    /// The log tree's edge as this replica's last batch left it.
    right_edge: super::sql::RightEdge,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at a `sqlite://` URL.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(parent) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        // A connection to a local file does not go stale: the health check sqlx runs before
        // handing one out (a round trip to the connection's thread) would only cost time.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer,
            right_edge: Default::default(),
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl_store_with_shared_sql!(SqliteStore, Sqlite);
