//! Finding datasets: searches with filters, facets, orders and cursors answered
//! by this replica's search index, the feed that keeps that index current, and
//! download counts for "most downloaded".
//!
//! The database is the source of truth: publishing stores a dataset's search
//! document and a feed entry in the same transaction as the version. Each
//! replica's index applies the feed in order ([`spawn_index_feed`]); a new or
//! outdated replica first builds its index from the database, and says it is
//! not ready until then.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};

use super::Context;
use super::catalog::{DatasetView, manifest_metadata};
use super::tables::{inspection, table_format};
use crate::domain::demand::DemandKind;
use crate::domain::{
    DatasetId, DatasetMetadata, Facet, FacetCount, FileEntry, FilterField, PEER_DATASET_KIND, PublisherId,
    SearchFilter, SearchOrder, TimeRange,
};
use crate::error::AppError;
use crate::search::index::{IndexAnswer, IndexQuery, RankingStatistics, SearchIndex, SortPosition};
use crate::search::{SearchDocument, SearchKey, dataset_document, query_terms};
use crate::store::{PeerCatalogEntry, StoreError};

/// Page size when the client names none.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Facet values shown per facet.
const FACET_VALUES: usize = 20;

/// Longest a search waits for this replica's index to apply a change it names.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(10);

/// Feed entries applied per index commit.
const FEED_PAGE: u32 = 1_000;

/// Datasets read per page while building an index.
const BUILD_PAGE: u32 = 2_000;

/// How often a replica looks for feed entries when nothing woke it.
const FEED_POLL: Duration = Duration::from_millis(250);

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
    /// Answer only once this replica's index has applied this search-feed position
    /// (a publish's `searchSequence`): read-your-writes for the publisher's own tools.
    pub indexed: Option<u64>,
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

/// What a search found, by key, before the items are read.
#[derive(Debug)]
pub struct Found {
    /// The page's items, in order.
    pub keys: Vec<SearchKey>,
    /// Items matching in all.
    pub total: u64,
    /// Every facet value among the matches with its count.
    pub facets: Vec<FacetCount>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Runs a search for datasets.
pub async fn find(ctx: &Context, request: SearchRequest) -> Result<SearchPage, AppError> {
    let found = find_kinds(ctx, request, NOT_IN_CATALOG, true).await?;
    // Every result is a dataset of this node: neither kind nor node narrows them.
    let mut facets = group_facets(found.facets);
    facets.remove(Facet::Kind.as_str());
    facets.remove(Facet::Node.as_str());
    Ok(SearchPage {
        items: datasets_of(ctx, found.keys)
            .await?
            .into_iter()
            .filter_map(|found| match found {
                FoundDataset::Local(view) => Some(view),
                FoundDataset::Peer(_) => None,
            })
            .collect(),
        total: found.total,
        facets,
        next_cursor: found.next_cursor,
    })
}

/// Runs a search for demands on the board (of `kind`, when given): the same index,
/// analysis and ranking as the catalog's, narrowed by the `kind` facet.
pub async fn find_demands(ctx: &Context, request: SearchRequest, kind: Option<DemandKind>) -> Result<Found, AppError> {
    match kind {
        Some(kind) => find_kinds(ctx, request, &[kind.as_str()], false).await,
        None => find_kinds(ctx, request, DEMAND_KINDS, false).await,
    }
}

/// A dataset a search of this node's catalog and its peers' found.
#[derive(Debug)]
pub enum FoundDataset {
    /// One of this node's.
    Local(DatasetView),
    /// One a peer holds, at its newest version harvested.
    Peer(PeerCatalogEntry),
}

/// A page of this node's and its peers' datasets, ranked together.
#[derive(Debug)]
pub struct FoundDatasets {
    /// The page's datasets, in order.
    pub items: Vec<FoundDataset>,
    /// Datasets matching in all.
    pub total: u64,
    /// Every facet value among the matches (kind left out), grouped as answers carry them.
    pub facets: BTreeMap<String, Vec<Value>>,
}

/// Runs a search for datasets, this node's and those harvested from peers alike (for the
/// harvesters of the whole network, such as CKAN's).
pub async fn find_with_peers(ctx: &Context, request: SearchRequest) -> Result<FoundDatasets, AppError> {
    let found = find_kinds(ctx, request, DEMAND_KINDS, true).await?;
    Ok(FoundDatasets {
        items: datasets_of(ctx, found.keys).await?,
        total: found.total,
        facets: facets_but_kind(found.facets),
    })
}

/// The datasets (this node's and its peers') that search keys name, in their order; a
/// key of anything else, or of a dataset since gone, is left out.
pub async fn datasets_of(ctx: &Context, keys: Vec<SearchKey>) -> Result<Vec<FoundDataset>, AppError> {
    let ids: Vec<DatasetId> = keys.iter().filter_map(SearchKey::dataset).cloned().collect();
    let mut local: HashMap<DatasetId, _> = ctx
        .store
        .dataset_summaries(&ids)
        .await?
        .into_iter()
        .map(|summary| (summary.id.clone(), summary))
        .collect();
    let held: Vec<(String, DatasetId)> = keys
        .iter()
        .filter_map(|key| match key {
            SearchKey::Peer { url, dataset } => Some((url.clone(), dataset.clone())),
            SearchKey::Dataset(_) | SearchKey::Demand(_) => None,
        })
        .collect();
    let mut at_peers: HashMap<(String, DatasetId), PeerCatalogEntry> = ctx
        .store
        .held_remote_versions(&held)
        .await?
        .into_iter()
        .map(|entry| ((entry.peer_url.clone(), entry.version.dataset.clone()), entry))
        .collect();
    Ok(keys
        .into_iter()
        .filter_map(|key| match key {
            SearchKey::Dataset(id) => local.remove(&id).map(|summary| FoundDataset::Local(summary.into())),
            SearchKey::Peer { url, dataset } => at_peers.remove(&(url, dataset)).map(FoundDataset::Peer),
            SearchKey::Demand(_) => None,
        })
        .collect())
}

/// Runs a search for the datasets harvested from peers: the same index, analysis and
/// ranking as the catalog's, narrowed to the `peer-dataset` kind (and to the request's
/// filters, such as one `node`).
pub async fn find_peer_datasets(ctx: &Context, request: SearchRequest) -> Result<Found, AppError> {
    find_kinds(ctx, request, &[PEER_DATASET_KIND], false).await
}

/// The [`Facet::Kind`] values of the board's items.
const DEMAND_KINDS: &[&str] = &["demand", "challenge"];

/// The [`Facet::Kind`] values of items the catalog's own searches leave out: the board's,
/// and the datasets peers hold.
const NOT_IN_CATALOG: &[&str] = &["demand", "challenge", PEER_DATASET_KIND];

/// Runs a search for items of `kinds`, or (`excluded`) of any other kind.
async fn find_kinds(ctx: &Context, request: SearchRequest, kinds: &[&str], excluded: bool) -> Result<Found, AppError> {
    let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(AppError::InvalidRequest(format!("limit is 1 to {MAX_PAGE_SIZE}")));
    }
    let mut query = index_query(&request, kinds, excluded)?;
    let order = query.order;
    if let Some(cursor) = request.cursor.as_deref() {
        let (after, statistics) = decode_cursor(cursor, order)?;
        query.after = Some(after);
        query.statistics = statistics;
    }
    // The page and the one after it, past `offset` results: bounded as CKAN's `start` is.
    let wanted = (limit + 1)
        .checked_add(request.offset)
        .ok_or_else(|| AppError::InvalidRequest(format!("start: at most {}", u32::MAX - limit - 1)))?;
    query.limit = wanted as usize;
    let answer = run(ctx, query, request.indexed).await?;
    let mut hits = answer.hits;
    hits.drain(..hits.len().min(request.offset as usize));
    let next_cursor = if hits.len() > limit as usize {
        hits.truncate(limit as usize);
        hits.last()
            .map(|last| encode_cursor(order, last, answer.statistics.as_ref()))
    } else {
        None
    };
    Ok(Found {
        // Only valid keys are ever indexed; anything else is left out, not served.
        keys: hits.iter().filter_map(|hit| hit.id.parse().ok()).collect(),
        total: answer.total,
        facets: answer.facets,
        next_cursor,
    })
}

/// How many datasets match a search (ignoring order, cursor and page size) and every
/// facet value among them with its count.
pub async fn summary(ctx: &Context, request: &SearchRequest) -> Result<(u64, Vec<FacetCount>), AppError> {
    let mut query = index_query(request, NOT_IN_CATALOG, true)?;
    query.limit = 0;
    let answer = run(ctx, query, request.indexed).await?;
    Ok((answer.total, answer.facets))
}

/// The index query of `request`, narrowed to items of `kinds` or, `excluded`, to items
/// of any other kind (whatever kind the request names itself). Datasets are searched by
/// excluding the other kinds: that reads their shorter posting lists, where
/// requiring `dataset` would read one as long as the catalog on every search.
fn index_query(request: &SearchRequest, kinds: &[&str], excluded: bool) -> Result<IndexQuery, AppError> {
    let text = request.text.as_deref().map(str::trim).unwrap_or_default();
    let terms = query_terms(text).map_err(|error| AppError::InvalidRequest(format!("q: {error}")))?;
    let order = request.order.unwrap_or(if terms.is_empty() {
        SearchOrder::Name
    } else {
        SearchOrder::Relevance
    });
    Ok(IndexQuery {
        terms,
        filters: request
            .filters
            .iter()
            .filter(|filter| filter.field != FilterField::Facet(Facet::Kind))
            .cloned()
            .chain([SearchFilter {
                field: FilterField::Facet(Facet::Kind),
                values: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
                negated: excluded,
            }])
            .collect(),
        updated: request.updated,
        created: request.created,
        order,
        after: None,
        limit: 0,
        statistics: None,
    })
}

/// Runs a query on the index, off the async threads, once it is built and has applied `indexed`.
async fn run(ctx: &Context, query: IndexQuery, indexed: Option<u64>) -> Result<IndexAnswer, AppError> {
    let sequence = indexed.unwrap_or(0);
    // A position no publication has reached yet would only make the caller wait.
    if ctx.search.applied().is_some_and(|applied| applied < sequence) && sequence > ctx.store.search_feed_head().await?
    {
        return Err(AppError::InvalidRequest(format!(
            "indexed: the search feed has not reached {sequence}"
        )));
    }
    if !ctx.search.wait_for(sequence, CATCH_UP_PATIENCE).await {
        return Err(AppError::Unavailable(match ctx.search.applied() {
            None => "this replica's search index is still being built; try again".to_owned(),
            Some(_) => format!("this replica's search index has not reached change {sequence} yet; try again"),
        }));
    }
    on_index(ctx, move |index| index.search(&query)).await
}

/// The counts of every facet but `kind`, grouped as answers carry them.
pub fn facets_but_kind(counts: Vec<FacetCount>) -> BTreeMap<String, Vec<Value>> {
    let mut grouped = group_facets(counts);
    grouped.remove(Facet::Kind.as_str());
    grouped
}

/// The counts of `facets` only, grouped as answers carry them.
pub fn facets_of(counts: Vec<FacetCount>, facets: &[Facet]) -> BTreeMap<String, Vec<Value>> {
    let mut grouped = group_facets(counts);
    grouped.retain(|name, _| facets.iter().any(|facet| facet.as_str() == name));
    grouped
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

/// Most query forms a cursor's ranking statistics may name: as many as a query of the
/// longest accepted text can have, so a forged cursor cannot make a search do more.
const MAX_CURSOR_FORMS: usize = 256;

/// A cursor: the order, the last item's key and id, and the ranking statistics the
/// following pages score with (relevance only).
fn encode_cursor(order: SearchOrder, last: &SortPosition, statistics: Option<&RankingStatistics>) -> String {
    URL_SAFE_NO_PAD.encode(json!([order.as_str(), last.key, last.id, statistics]).to_string())
}

fn decode_cursor(cursor: &str, order: SearchOrder) -> Result<(SortPosition, Option<RankingStatistics>), AppError> {
    let refused = || AppError::InvalidRequest("cursor is not one this node issued for this order".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?;
    let (named, key, id, statistics): (String, i64, String, Option<RankingStatistics>) =
        serde_json::from_slice(&bytes).map_err(|_| refused())?;
    if named != order.as_str()
        || statistics
            .as_ref()
            .is_some_and(|statistics| statistics.holding.len() > MAX_CURSOR_FORMS)
    {
        return Err(refused());
    }
    Ok((SortPosition { key, id }, statistics))
}

/// The search document of a dataset version: its text, its publisher's name, its tables' column names, its facets.
pub async fn document_for(
    ctx: &Context,
    dataset: &DatasetId,
    publisher: &PublisherId,
    metadata: &DatasetMetadata,
    files: &[FileEntry],
) -> Result<SearchDocument, AppError> {
    let publisher_name = ctx.store.publisher(publisher).await?.name;
    let mut columns = Vec::new();
    for file in files.iter().filter(|file| file.derived_from.is_none()) {
        if let Some(format) = table_format(&file.media_type)
            && let Ok(profile) = inspection(ctx, &file.sha256, format).await?
        {
            columns.extend(profile.columns.into_iter().map(|column| column.name));
        }
    }
    let formats = files.iter().map(|file| file.media_type.format_name()).collect();
    let mut document = dataset_document(
        dataset,
        metadata,
        vec![publisher_name, publisher.to_string()],
        formats,
        columns,
    );
    document.facets.push((Facet::Publisher, publisher.to_string()));
    document.facets.sort();
    document.facets.dedup();
    Ok(document)
}

/// Computes the search documents of datasets published before they were stored; returns how many.
pub async fn complete_documents(ctx: &Context) -> Result<usize, AppError> {
    let mut done = 0;
    loop {
        let missing = ctx.store.datasets_without_search_document(100).await?;
        if missing.is_empty() {
            return Ok(done);
        }
        for dataset in missing {
            let (summary, _) = ctx.store.get_dataset(&dataset).await?;
            let record = ctx.store.get_version(&dataset, None).await?;
            let metadata = manifest_metadata(&record)?;
            let document = document_for(ctx, &dataset, &summary.publisher, &metadata, &record.files).await?;
            ctx.store.set_search_document(&dataset, &document).await?;
            done += 1;
        }
    }
}

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
    let (datasets, facets) = summary(ctx, &SearchRequest::default()).await?;
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

/// Lets this replica's index apply a change it wrote and waits (bounded) until it has, so
/// what a client just published or counted shows in its next search here. Other replicas
/// follow within their poll interval.
pub async fn await_indexed(ctx: &Context, sequence: u64) {
    ctx.search_written.notify_one();
    // A replica still building its index would keep the writer waiting for the whole build.
    if ctx.search.applied().is_some() && !ctx.search.wait_for(sequence, CATCH_UP_PATIENCE).await {
        tracing::warn!(
            sequence,
            "the search index has not applied a change of this replica yet"
        );
    }
}

/// Keeps this replica's index current until aborted: builds it from the database when it
/// has never been built, then applies the search feed as it grows, woken by this
/// replica's own writes and polling for the others'.
pub fn spawn_index_feed(ctx: Context) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match follow_feed(&ctx).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(%error, "search index feed failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

async fn follow_feed(ctx: &Context) -> Result<(), AppError> {
    // Searches wait until the index is settled, once per process (a retry after a failure
    // goes on from where it was): one from another database would show datasets this node
    // does not hold.
    if ctx.search.applied().is_none() {
        settle_index(ctx).await?;
    }
    let notices = ctx.store.search_feed_notices();
    loop {
        let after = ctx.search.applied().unwrap_or(0);
        let changes = ctx.store.search_changes(after, FEED_PAGE).await?;
        let Some(through) = changes.last().map(|change| change.sequence) else {
            // Nothing new: sleep until this replica writes, the database says another did, or
            // the poll comes round.
            let others = async {
                match &notices {
                    Some(notices) => notices.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = ctx.search_written.notified() => {}
                () = others => {}
                () = tokio::time::sleep(FEED_POLL) => {}
            }
            continue;
        };
        on_index(ctx, move |index| index.apply(&changes, through)).await?;
    }
}

/// Makes the index opened from disk one searches may rely on: resumed when its position is
/// one of this database's feed, rebuilt when there is none or it is ahead of the feed.
async fn settle_index(ctx: &Context) -> Result<(), AppError> {
    match ctx.search.opened_at() {
        None => build_index(ctx).await,
        // An index ahead of the feed was made from another database (a restored backup, a
        // reinitialized node): nothing in it can be trusted.
        Some(opened_at) if opened_at > ctx.store.search_feed_head().await? => {
            tracing::warn!(
                opened_at,
                "the search index is ahead of this database's feed; rebuilding it"
            );
            build_index(ctx).await
        }
        Some(opened_at) => {
            ctx.search.resume();
            tracing::info!(opened_at, "search index resumed from its last commit");
            Ok(())
        }
    }
}

/// Builds the index from the database: every dataset as it now is, then the feed from
/// the position read before the first page (changes meanwhile are applied again, which
/// is harmless: each replaces the dataset whole).
async fn build_index(ctx: &Context) -> Result<(), AppError> {
    let started = std::time::Instant::now();
    let head = ctx.store.search_feed_head().await?;
    on_index(ctx, |index| index.clear()).await?;
    let mut after: Option<DatasetId> = None;
    let mut built = 0;
    loop {
        let page = ctx.store.indexed_datasets(after.as_ref(), BUILD_PAGE).await?;
        let Some(last) = page.last().and_then(|dataset| dataset.key.dataset().cloned()) else {
            break;
        };
        built += page.len();
        on_index(ctx, move |index| index.add(&page)).await?;
        after = Some(last);
    }
    let mut after_demand: Option<String> = None;
    loop {
        let page = ctx.store.indexed_demands(after_demand.as_deref(), BUILD_PAGE).await?;
        let Some(SearchKey::Demand(last)) = page.last().map(|demand| demand.key.clone()) else {
            break;
        };
        built += page.len();
        on_index(ctx, move |index| index.add(&page)).await?;
        after_demand = Some(last);
    }
    let mut after_peer: Option<(String, DatasetId)> = None;
    loop {
        let after = after_peer.as_ref().map(|(url, dataset)| (url.as_str(), dataset));
        let page = ctx.store.indexed_peer_datasets(after, BUILD_PAGE).await?;
        let Some(SearchKey::Peer { url, dataset }) = page.last().map(|item| item.key.clone()) else {
            break;
        };
        built += page.len();
        on_index(ctx, move |index| index.add(&page)).await?;
        after_peer = Some((url, dataset));
    }
    on_index(ctx, move |index| index.finish_build(head)).await?;
    tracing::info!(
        items = built,
        seconds = started.elapsed().as_secs_f64(),
        "search index built"
    );
    Ok(())
}

/// Runs `work` on this replica's index on a blocking thread: searching and indexing are
/// CPU-bound and must not hold up the async workers.
async fn on_index<T: Send + 'static>(
    ctx: &Context,
    work: impl FnOnce(&SearchIndex) -> Result<T, crate::search::index::SearchIndexError> + Send + 'static,
) -> Result<T, AppError> {
    let index: Arc<SearchIndex> = ctx.search.clone();
    tokio::task::spawn_blocking(move || work(&index))
        .await
        .map_err(|error| AppError::Internal(anyhow::anyhow!("search index task: {error}")))?
        .map_err(|error| AppError::Internal(error.into()))
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
        let written = ctx.store.add_downloads(&batch).await;
        if let Ok(sequence) = written {
            await_indexed(ctx, sequence).await;
        }
        if let Err(error) = written {
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
