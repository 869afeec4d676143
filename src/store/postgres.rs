//! The PostgreSQL backend, for several stateless node replicas sharing one database.
//!
//! Migrations take PostgreSQL's advisory lock, so replicas starting together
//! migrate once. Concurrent publishes of one dataset are serialised by the
//! primary keys: the loser gets `Conflict`, never a gap or a duplicate.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::StoreError;
use super::sql::impl_store_with_shared_sql;

/// Catalog metadata in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    /// The log tree's edge as this replica's last batch left it.
    right_edge: super::sql::RightEdge,
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
        Ok(Self {
            pool,
            right_edge: Default::default(),
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

impl_store_with_shared_sql!(PostgresStore, Postgres, super::sql::Chaining::WithQueries);
