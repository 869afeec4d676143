//! Loading the demo catalog (`catalog/`) so a fresh node's market is not empty: its
//! datasets, and on an empty demand board a buyer's demand and the operator's challenge.
//!
//! Loading is idempotent: an unchanged package re-publishes as a no-op and the board is
//! seeded only while empty, so `serve --demo` may run on every start.

use std::path::Path;

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::json;

use super::Context;
use super::accounts;
use super::demands;
use super::publish::publish_version;
use super::uploads::store_file;
use crate::crypto::{KeyPair, sign_document};
use crate::datapackage::{DESCRIPTOR, read_package};
use crate::domain::PublishRequest;
use crate::domain::PublisherId;
use crate::domain::demand::DEMAND_TYPE;
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
    seed_demand_board(ctx).await?;
    Ok(folders.len())
}

/// Posts two open demands on an empty board, through the same path as any poster: a
/// buyer's (signed with a key made for it) and the operator's challenge (揭榜挂帅, signed
/// with the node's key, as challenges must be).
async fn seed_demand_board(ctx: &Context) -> anyhow::Result<()> {
    if !ctx.store.demands_page(None, None, 1).await?.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let time = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let buyer = KeyPair::generate();
    let demand = json!({
        "type": DEMAND_TYPE, "node": ctx.node.key.did(), "kind": "demand",
        "title": {"zh": "城市道路拥堵指数（按路段、按小时）", "en": "Road congestion index by segment and hour"},
        "description": {"zh": "用于物流企业路径规划，需近一年数据，按小时更新。", "en": "For logistics route planning: the last year, hourly."},
        "wanted": {"fields": ["路段编号", "时间", "拥堵指数", "平均车速"]},
        "budgetFen": 500_000, "deadline": time(now + Duration::days(90)),
        "contact": "logistics-buyer@example.com", "poster": buyer.did(),
        "nonce": uuid::Uuid::new_v4().simple().to_string(), "created": time(now),
    });
    let challenge = json!({
        "type": DEMAND_TYPE, "node": ctx.node.key.did(), "kind": "challenge",
        "title": {"zh": "揭榜挂帅：基层医院影像辅助诊断训练数据", "en": "Challenge: training data for imaging diagnosis in community hospitals"},
        "description": {"zh": "面向“AI+医疗”应用，征集经脱敏与标注的胸部影像数据集。", "en": "For AI+ healthcare: de-identified, labelled chest imaging."},
        "wanted": {"fields": ["影像编号", "部位", "诊断标签", "标注人"]},
        "budgetFen": 50_000_000, "awardFen": 20_000_000, "deadline": time(now + Duration::days(120)),
        "contact": "operator@city.example", "poster": ctx.node.key.did(),
        "nonce": uuid::Uuid::new_v4().simple().to_string(), "created": time(now),
    });
    for (document, key) in [(demand, &buyer), (challenge, &ctx.node.key)] {
        let signed = sign_document(document, key, now)?;
        demands::post_demand(ctx, &serde_json::to_vec(&signed)?)
            .await
            .map_err(|error| anyhow::anyhow!("posting a demo demand: {error}"))?;
    }
    Ok(())
}
