//! The PostgreSQL backend, for several stateless node replicas sharing one database.
//!
//! Migrations take PostgreSQL's advisory lock, so replicas starting together
//! migrate once. Concurrent publishes of one dataset are serialised by the
//! primary keys: the loser gets `Conflict`, never a gap or a duplicate.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::rows::{
    DatasetRow, FileRow, GrantRow, LogRow, ManifestRow, TokenRow, VersionRow, decode_head, decode_index, decode_leaf,
    encode_index, encode_size, encode_time, size_from_column,
};
use super::sql::impl_store_with_shared_sql;
use super::{
    DatasetFilter, DatasetHead, DatasetSummary, DeliveredRange, DeliveryProgress, LogEntry, LoggedDocument, NewOrder,
    NewVersion, OrderGrant, Publisher, ReceiptBuilder, ReceiptFacts, StoreError, StoredFile, StoredToken,
    VersionRecord, VersionSummary,
};
use crate::domain::delivery::{ByteRanges, MAX_TRACKED_RANGES};
use crate::domain::{DatasetId, FileName, Sha256Digest, VersionNumber};

/// Catalog metadata in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
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
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

impl_store_with_shared_sql!(PostgresStore, Postgres);
