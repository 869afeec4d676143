//! Loading the demo catalog (`catalog/`) so a fresh node's market is not empty.
//!
//! Loading is idempotent: an unchanged package re-publishes as a no-op, so
//! `serve --demo` may run on every start.

use std::path::Path;

use super::Context;
use super::accounts;
use super::publish::publish_version;
use super::uploads::store_file;
use crate::datapackage::{DESCRIPTOR, read_package};
use crate::domain::PublishRequest;
use crate::domain::PublisherId;
use crate::error::AppError;

/// The publisher that owns demo datasets.
pub const DEMO_PUBLISHER: &str = "demo";

/// Publishes every package folder under `catalog_dir`; returns how many were read.
pub async fn load_demo_catalog(ctx: &Context, catalog_dir: &Path) -> anyhow::Result<usize> {
    let publisher: PublisherId = DEMO_PUBLISHER.parse()?;
    match accounts::add_publisher(ctx.store.as_ref(), publisher.clone(), "示例数据 Demo Data").await {
        Ok(_) | Err(AppError::Conflict(_)) => {}
        Err(error) => return Err(anyhow::anyhow!("creating the demo publisher: {error}")),
    }
    let mut folders: Vec<_> = std::fs::read_dir(catalog_dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join(DESCRIPTOR).is_file())
        .collect();
    folders.sort();
    for folder in &folders {
        let package = read_package(folder)?;
        let mut files = Vec::with_capacity(package.resources.len());
        for resource in &package.resources {
            let stored = store_file(ctx, &resource.path, resource.declared_sha256, Some(&publisher)).await?;
            files.push(resource.entry(stored.size, stored.digest));
        }
        let request = PublishRequest {
            metadata: package.metadata,
            files,
        };
        let outcome = publish_version(ctx, &publisher, &package.dataset, request)
            .await
            .map_err(|error| anyhow::anyhow!("publishing demo dataset {}: {error}", package.dataset))?;
        tracing::info!(dataset = %outcome.dataset, version = outcome.version.get(), created = outcome.created, "demo dataset loaded");
    }
    Ok(folders.len())
}
