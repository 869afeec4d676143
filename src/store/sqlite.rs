//! The embedded SQLite backend: one file, WAL, durable commits.
//!
//! `synchronous = FULL` because what this database records (versions, orders,
//! agreements, receipts) must survive a power loss. Write transactions begin
//! `IMMEDIATE` so a reader never has to upgrade its lock mid-transaction,
//! which SQLite answers with an unretried `SQLITE_BUSY`.
//!
//! The WAL is copied into the database file by a task of its own, not by the
//! commit that happens to fill it: SQLite's automatic checkpoint runs inside
//! the writer's commit (copying up to a thousand pages and syncing the
//! database file), so every few hundred log batches one waited for it. A
//! passive checkpoint runs alongside the writer and never blocks it.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};

use super::StoreError;
use super::sql::impl_store_with_shared_sql;

mod reads;

/// Catalog metadata in a SQLite database file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes: SQLite admits one writer at a time anyway, and a
    /// writer of its own never queues behind readers for a pooled connection (the log's
    /// sequencer writes back to back) nor sleeps in the busy handler behind another writer.
    writer: SqlitePool,
    /// The log tree's edge as this replica's last batch left it.
    right_edge: super::sql::RightEdge,
    /// The task that checkpoints the WAL; it ends with the store.
    checkpointer: tokio::task::AbortHandle,
    /// Always `None`: SQLite cannot notify other processes, which poll the search feed.
    feed_notices: Option<std::sync::Arc<tokio::sync::Notify>>,
}

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
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
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let checkpointer = tokio::spawn(checkpoint_wal(pool.clone())).abort_handle();
        Ok(Self {
            pool,
            writer,
            right_edge: Default::default(),
            checkpointer,
            feed_notices: None,
        })
    }

    /// SQLite has no notifications: other processes' feed writes are polled for.
    const FEED_NOTICE: Option<&'static str> = None;

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Copies committed WAL frames into the database file, passively (never waiting for, nor
/// holding up, the writer or readers), until the store is dropped.
async fn checkpoint_wal(pool: SqlitePool) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(%error, "checkpointing the SQLite WAL failed; retrying");
        }
    }
}

impl_store_with_shared_sql!(SqliteStore, Sqlite, super::sql::Chaining::Semicolons);
