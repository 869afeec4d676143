//! Assembling the node from a [`Config`] and serving it on a bound listener.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::blobs::BlobStore;
use crate::config::Config;
use crate::domain::handle::HandlePrefix;
use crate::http::connections::ConnectionLimits;
use crate::search::index::SearchIndex;
use crate::service::sequencer::Sequencer;
use crate::service::tables::TableSettings;
use crate::service::{Context, NodeIdentity};
use crate::service::{identity, network, search, transparency};
use crate::{http, store};

/// A built node, ready to serve.
pub struct App {
    ctx: Context,
    router: Router,
    connections: ConnectionLimits,
    /// Keeps the search index current from the moment the node is built, serving or not.
    _index_feed: AbortOnDrop,
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl App {
    /// Opens the database (migrating it), the blob store and the node key (creating it on first start).
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = store::connect(&config.database_url).await?;
        let blobs = BlobStore::open(&config.blob_url)?;
        let mismatch = if config.reinitialize {
            identity::Mismatch::Reinitialize
        } else {
            identity::Mismatch::Refuse
        };
        let key = identity::establish(store.as_ref(), &config.node_key_file, mismatch).await?;
        let node = Arc::new(NodeIdentity {
            name: config.node_name.clone(),
            public_url: config.public_url.clone(),
            handle_prefix: config
                .handle_prefix
                .clone()
                .unwrap_or_else(|| HandlePrefix::from_public_key(&key.public().to_bytes())),
            description: Default::default(),
            key,
        });
        let ctx = Context {
            sequencer: Sequencer::start(store.clone(), node.clone())?,
            store,
            blobs,
            node,
            max_upload_bytes: config.max_upload_bytes,
            log_page_max_bytes: config.log_page_max_bytes,
            tables: Arc::new(TableSettings::from_config(config)),
            downloads: Arc::default(),
            search: Arc::new(SearchIndex::open(config.search_index.as_deref())?),
            search_written: Arc::default(),
            subtrees: Arc::default(),
            agreed_grants: Arc::default(),
            cosigning: Arc::default(),
        };
        let converted = transparency::complete_stored_tree(&ctx).await?;
        if converted > 0 {
            tracing::info!(
                entries = converted,
                "log tree stored for entries written by an older node"
            );
        }
        let documented = search::complete_documents(&ctx).await?;
        if documented > 0 {
            tracing::info!(
                datasets = documented,
                "search documents computed for datasets published by an older node"
            );
        }
        let writes = http::rate::WriteLimiter::new(config.writes_per_minute, config.write_burst);
        let router = http::router(ctx.clone(), Duration::from_secs(config.request_timeout_secs), writes);
        let connections = ConnectionLimits {
            per_address: config.max_connections_per_address,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
        };
        Ok(Self {
            _index_feed: AbortOnDrop(search::spawn_index_feed(ctx.clone())),
            ctx,
            router,
            connections,
        })
    }

    /// The service context, for work done beside serving (demo loading, tests).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let flusher = search::spawn_download_flusher(self.ctx.clone());
        let peer_checks = network::spawn_peer_checks(self.ctx.clone());
        let served = http::connections::serve(listener, self.router, self.connections, shutdown).await;
        flusher.abort();
        peer_checks.abort();
        // Counts gathered since the last tick are written before the node stops.
        if let Err(error) = self.ctx.downloads.flush(&self.ctx).await {
            tracing::warn!(%error, "download counts lost at shutdown");
        }
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
