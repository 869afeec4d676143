//! Finding datasets: the search index written with each publication, queries
//! with filters, facets, orders and cursors, and download counts for "most
//! downloaded".
//!
//! The index is computed in Rust ([`crate::search`]) and stored in the
//! database, so every replica and both backends answer a query alike. A
//! dataset indexed by an older analyzer is reindexed when a node starts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};

use super::Context;
use super::catalog::{DatasetView, manifest_metadata};
use super::tables::{inspection, table_format};
use crate::domain::{DatasetId, DatasetMetadata, Facet, FileEntry, PublisherId, SearchOrder};
use crate::error::AppError;
use crate::search::{Field, index_terms, query_terms};
use crate::store::{FacetCount, SearchAfter, SearchEntries, SearchFilter, SearchQuery, SortKey, StoreError, TimeRange};

/// The analyzer's version: raise it when [`crate::search`] changes, and nodes reindex at start.
pub const ANALYZER: i64 = 3;

/// Page size when the client names none.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Facet values shown per facet.
const FACET_VALUES: usize = 20;

/// What a search asks for, parsed.
#[derive(Debug, Default, Clone)]
pub struct SearchRequest {
    /// Free text.
    pub text: Option<String>,
    /// Conditions every result meets.
    pub filters: Vec<SearchFilter>,
    /// When results were last updated.
    pub updated: TimeRange,
    /// When results were first published.
    pub created: TimeRange,
    /// The order; relevance when there is text, else by id.
    pub order: Option<SearchOrder>,
    /// A `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Skip this many results first (CKAN's `start`); not combined with a cursor.
    pub offset: u32,
}

/// A page of search results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// Datasets matching, in the requested order.
    pub items: Vec<DatasetView>,
    /// Datasets matching in all.
    pub total: u64,
    /// For each facet, its most frequent values among the matches: `{"format": [{"value": "CSV", "count": 3}]}`.
    #[schema(value_type = Object)]
    pub facets: BTreeMap<String, Vec<Value>>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Runs a search.
pub async fn find(ctx: &Context, request: SearchRequest) -> Result<SearchPage, AppError> {
    let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(AppError::InvalidRequest(format!("limit is 1 to {MAX_PAGE_SIZE}")));
    }
    let text = request.text.as_deref().map(str::trim).unwrap_or_default();
    let terms = query_terms(text).map_err(|error| AppError::InvalidRequest(format!("q: {error}")))?;
    let order = request.order.unwrap_or(if terms.is_empty() {
        SearchOrder::Name
    } else {
        SearchOrder::Relevance
    });
    let after = request
        .cursor
        .as_deref()
        .map(|cursor| decode_cursor(cursor, order))
        .transpose()?;
    let query = SearchQuery {
        terms,
        filters: request.filters,
        updated: request.updated,
        created: request.created,
        order,
        after,
        limit: (limit + 1)
            .checked_add(request.offset)
            .ok_or_else(|| AppError::InvalidRequest(format!("start: at most {}", u32::MAX - limit - 1)))?,
    };
    // The page and the summary (which ignores order, cursor and page size) are independent
    // reads: side by side, a search waits for the slower of the two, not for both.
    let page = async { ctx.store.search(&query).await.map_err(AppError::from) };
    let (mut hits, (total, counts)) = tokio::try_join!(page, summary(ctx, &query))?;
    hits.drain(..hits.len().min(request.offset as usize));
    let next_cursor = if hits.len() > limit as usize {
        hits.truncate(limit as usize);
        hits.last().map(|last| encode_cursor(order, last))
    } else {
        None
    };
    Ok(SearchPage {
        items: hits.into_iter().map(|hit| DatasetView::from(hit.summary)).collect(),
        total,
        facets: group_facets(counts),
        next_cursor,
    })
}

fn group_facets(counts: Vec<FacetCount>) -> BTreeMap<String, Vec<Value>> {
    let mut grouped: BTreeMap<String, Vec<Value>> = Facet::ALL
        .iter()
        .map(|facet| (facet.as_str().to_owned(), Vec::new()))
        .collect();
    for count in counts {
        let values = grouped.entry(count.facet.as_str().to_owned()).or_default();
        if values.len() < FACET_VALUES {
            values.push(json!({"value": count.value, "count": count.count}));
        }
    }
    grouped
}

fn encode_cursor(order: SearchOrder, last: &crate::store::SearchHit) -> String {
    let key = match order {
        SearchOrder::Name => Value::Null,
        SearchOrder::Relevance => json!(last.score),
        SearchOrder::Downloads => json!(last.downloads),
        SearchOrder::Newest => json!(last.summary.updated_at),
    };
    URL_SAFE_NO_PAD.encode(json!([order.as_str(), key, last.summary.id]).to_string())
}

fn decode_cursor(cursor: &str, order: SearchOrder) -> Result<SearchAfter, AppError> {
    let refused = || AppError::InvalidRequest("cursor is not one this node issued for this order".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?;
    let parts: (String, Value, DatasetId) = serde_json::from_slice(&bytes).map_err(|_| refused())?;
    if parts.0 != order.as_str() {
        return Err(refused());
    }
    let key = match order {
        SearchOrder::Name => SortKey::None,
        SearchOrder::Relevance | SearchOrder::Downloads => SortKey::Number(parts.1.as_i64().ok_or_else(refused)?),
        SearchOrder::Newest => SortKey::Time(serde_json::from_value(parts.1).map_err(|_| refused())?),
    };
    Ok(SearchAfter { key, id: parts.2 })
}

/// The search entries of a dataset version: its text, its publisher's name, its tables' column names.
pub async fn entries_for(
    ctx: &Context,
    dataset: &DatasetId,
    publisher: &PublisherId,
    metadata: &DatasetMetadata,
    files: &[FileEntry],
) -> Result<SearchEntries, AppError> {
    let publisher_name = ctx.store.publisher(publisher).await?.name;
    let mut columns = Vec::new();
    for file in files.iter().filter(|file| file.derived_from.is_none()) {
        if let Some(format) = table_format(&file.media_type)
            && let Ok(profile) = inspection(ctx, &file.sha256, format).await?
        {
            columns.extend(profile.columns.into_iter().map(|column| column.name));
        }
    }
    let dataset_words = dataset.as_str().replace('-', " ");
    let mut texts: Vec<(Field, &str)> = vec![(Field::Keyword, dataset_words.as_str())];
    for text in [&metadata.title.zh, &metadata.title.en].into_iter().flatten() {
        texts.push((Field::Title, text));
    }
    for text in [&metadata.description.zh, &metadata.description.en]
        .into_iter()
        .flatten()
    {
        texts.push((Field::Description, text));
    }
    texts.extend(
        metadata
            .keywords
            .iter()
            .map(|keyword| (Field::Keyword, keyword.as_str())),
    );
    texts.push((Field::Publisher, publisher_name.as_str()));
    texts.push((Field::Publisher, publisher.as_str()));
    texts.extend(columns.iter().map(|column| (Field::Column, column.as_str())));
    let mut facets = vec![
        (Facet::Access, metadata.access.as_str().to_owned()),
        (Facet::Publisher, publisher.to_string()),
        (Facet::License, metadata.license.id.clone()),
    ];
    facets.extend(files.iter().map(|file| (Facet::Format, file.media_type.format_name())));
    facets.extend(
        metadata
            .keywords
            .iter()
            .map(|keyword| (Facet::Keyword, keyword.clone())),
    );
    Ok(SearchEntries {
        terms: index_terms(texts),
        facets,
        analyzer: ANALYZER,
    })
}

/// Reindexes datasets indexed by an older analyzer (or never); returns how many.
pub async fn reindex_stale(ctx: &Context) -> Result<usize, AppError> {
    let mut done = 0;
    loop {
        let stale = ctx.store.datasets_to_reindex(ANALYZER, 100).await?;
        if stale.is_empty() {
            return Ok(done);
        }
        for dataset in stale {
            let (summary, _) = ctx.store.get_dataset(&dataset).await?;
            let record = ctx.store.get_version(&dataset, None).await?;
            let metadata = manifest_metadata(&record)?;
            let entries = entries_for(ctx, &dataset, &summary.publisher, &metadata, &record.files).await?;
            match ctx.store.reindex_dataset(&dataset, &entries).await {
                Ok(()) => done += 1,
                // A replica starting at the same time wrote this dataset's entries first.
                Err(StoreError::Conflict(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
    }
}

/// A search's total number of matches and its facet counts.
pub type Summary = (u64, Vec<FacetCount>);

/// Counts for the front page.
#[derive(Debug, Clone, Copy)]
pub struct Overview {
    /// Datasets in the catalog.
    pub datasets: u64,
    /// Open datasets.
    pub open: u64,
    /// Licensed datasets.
    pub licensed: u64,
    /// Publishers with at least one dataset.
    pub publishers: u64,
}

/// How many datasets (open and licensed) and publishers the catalog holds.
pub async fn overview(ctx: &Context) -> Result<Overview, AppError> {
    let (datasets, facets) = summary(ctx, &Default::default()).await?;
    let count = |value: &str| {
        facets
            .iter()
            .find(|count| count.facet == Facet::Access && count.value == value)
            .map_or(0, |count| count.count)
    };
    Ok(Overview {
        datasets,
        open: count("open"),
        licensed: count("licensed"),
        // Publishers with at least one dataset: those the catalog shows.
        publishers: facets.iter().filter(|count| count.facet == Facet::Publisher).count() as u64,
    })
}

/// How many matches a search has and how they spread over the facets, computed by the
/// database or taken from this replica's [`SummaryCache`] while still current.
pub async fn summary(ctx: &Context, query: &SearchQuery) -> Result<Summary, AppError> {
    let generation = ctx.store.search_generation().await?;
    let key = SummaryKey {
        terms: query.terms.clone(),
        filters: query.filters.clone(),
        updated: query.updated,
        created: query.created,
    };
    if let Some(known) = ctx.summaries.get(&key, generation) {
        return Ok(known);
    }
    // Read before computing: a write landing meanwhile advances the generation,
    // so what is stored here is never taken for the newer index.
    let computed = ctx.store.search_summary(query).await?;
    ctx.summaries.put(key, generation, computed.clone());
    Ok(computed)
}

/// Totals and facet counts of recent searches, each with the search generation it was
/// computed at. Counting facets groups every match's facet values, the costliest part of
/// a broad search, while the same searches (the home page, popular words, facet
/// clicks) come again and again between publications.
#[derive(Debug, Default)]
pub struct SummaryCache {
    entries: Mutex<HashMap<SummaryKey, (u64, Summary)>>,
}

/// How many searches' summaries a replica keeps.
const SUMMARY_CACHE_ENTRIES: usize = 512;

/// What a search's summary depends on: not its order, cursor or page size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SummaryKey {
    terms: Vec<crate::search::QueryTerm>,
    filters: Vec<SearchFilter>,
    updated: TimeRange,
    created: TimeRange,
}

impl SummaryCache {
    fn get(&self, key: &SummaryKey, generation: u64) -> Option<Summary> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(computed_at, _)| *computed_at == generation)
            .map(|(_, summary)| summary.clone())
    }

    fn put(&self, key: SummaryKey, generation: u64, summary: Summary) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= SUMMARY_CACHE_ENTRIES {
            entries.retain(|_, (computed_at, _)| *computed_at >= generation);
        }
        if entries.len() >= SUMMARY_CACHE_ENTRIES
            && let Some(evicted) = entries.keys().next().cloned()
        {
            entries.remove(&evicted);
        }
        entries.insert(key, (generation, summary));
    }
}

/// Completed open downloads, counted in memory and added to the database in
/// batches, so a busy download path costs no write per request.
#[derive(Debug, Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<DatasetId, u64>>,
}

/// How often counted downloads are written.
pub const DOWNLOAD_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

impl DownloadCounter {
    /// Counts one completed download of `dataset`.
    pub fn count(&self, dataset: &DatasetId) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry(dataset.clone()).or_default() += 1;
        }
    }

    /// Writes the counts gathered so far; on failure they are kept for the next flush.
    pub async fn flush(&self, ctx: &Context) -> Result<(), StoreError> {
        let batch: Vec<(DatasetId, u64)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Ok(()),
        };
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(error) = ctx.store.add_downloads(&batch).await {
            if let Ok(mut pending) = self.pending.lock() {
                for (dataset, count) in batch {
                    *pending.entry(dataset).or_default() += count;
                }
            }
            return Err(error);
        }
        Ok(())
    }
}

/// Writes the context's download counts every [`DOWNLOAD_FLUSH_INTERVAL`] until aborted.
pub fn spawn_download_flusher(ctx: Context) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(DOWNLOAD_FLUSH_INTERVAL);
        loop {
            ticks.tick().await;
            if let Err(error) = ctx.downloads.flush(&ctx).await {
                tracing::warn!(%error, "download counts not written yet");
            }
        }
    })
}
