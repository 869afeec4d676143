//! The PostgreSQL backend, for several stateless node replicas sharing one database.
//!
//! Migrations take PostgreSQL's advisory lock, so replicas starting together
//! migrate once. Concurrent publishes of one dataset are serialised by the
//! primary keys: the loser gets `Conflict`, never a gap or a duplicate.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::Notify;

use super::StoreError;
use super::sql::impl_store_with_shared_sql;

/// Catalog metadata in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    /// The log tree's edge as this replica's last batch left it.
    right_edge: super::sql::RightEdge,
    /// Woken when any replica commits to the search feed (`LISTEN`).
    feed_notices: Option<Arc<Notify>>,
    /// The task relaying those notifications.
    listener: tokio::task::AbortHandle,
}

/// The channel every search-feed write notifies at commit.
const FEED_CHANNEL: &str = "shulian_search_feed";

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresStore {
    /// Connects to and migrates the database at a `postgres://` URL.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let notices = Arc::new(Notify::new());
        let listener = tokio::spawn(relay_feed_notices(pool.clone(), notices.clone())).abort_handle();
        Ok(Self {
            pool,
            right_edge: Default::default(),
            feed_notices: Some(notices),
            listener,
        })
    }

    /// Tells every replica's listener, at commit, that the search feed grew.
    const FEED_NOTICE: Option<&'static str> = Some("NOTIFY shulian_search_feed");

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// Listens on the feed's channel and wakes this replica's index for each notification,
/// reconnecting after a lost connection (the index polls meanwhile, so nothing is missed).
async fn relay_feed_notices(pool: PgPool, notices: Arc<Notify>) {
    loop {
        let listening = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(FEED_CHANNEL).await?;
            loop {
                listener.recv().await?;
                notices.notify_one();
            }
        };
        let error: sqlx::Error = match listening.await {
            Ok(never) => never,
            Err(error) => error,
        };
        tracing::warn!(%error, "listening for search-feed notifications failed; retrying");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl_store_with_shared_sql!(PostgresStore, Postgres, super::sql::Chaining::WithQueries);

impl PostgresStore {
    /// Every PostgreSQL batch goes through the shared SQL: its statements travel to a
    /// server, chained into few round trips, not to a thread of this process.
    pub(super) async fn integrate_reads_in_place(
        &self,
        _batch: &[super::LogWrite],
        _sign: &super::CheckpointSigner,
    ) -> Result<Option<Vec<Result<super::LogWritten, StoreError>>>, StoreError> {
        Ok(None)
    }
}
