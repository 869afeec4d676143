//! The CKAN Action API read subset, over the catalog and its search: what
//! CKAN clients (`ckanapi`, harvesters, portals) expect to find.
//!
//! Mapping: a publisher is an organization, a dataset a package (its id is
//! also its name), the files of its newest version are its resources
//! (`hash` = sha256 hex; `url` = the download, which for licensed data
//! answers how to order), keywords are tags.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use super::Context;
use super::catalog::{self, DatasetView, file_url, publishers_by_id};
use super::network;
use super::search::{self, FoundDataset, SearchRequest};
use crate::domain::handle::Handle;
use crate::domain::node::Peer;
use crate::domain::{AccessClass, DatasetId, Facet, FileEntry, PublisherId, SearchOrder};
use crate::domain::{FilterField, SearchFilter, TimeRange};
use crate::error::AppError;
use crate::store::{PeerCatalogEntry, Publisher, StoreError};

/// The CKAN version whose Action API this subset follows.
pub const CKAN_API_VERSION: &str = "2.10.4";

/// A failed action, as CKAN names its errors.
#[derive(Debug)]
pub struct ActionError {
    /// `Not Found Error`, `Validation Error`, …
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
    /// The HTTP status CKAN answers it with.
    pub status: u16,
    /// The node's own error, when it was one (logged and hidden when internal).
    pub cause: Option<AppError>,
}

impl ActionError {
    fn validation(message: impl Into<String>) -> Self {
        Self {
            kind: "Validation Error",
            message: message.into(),
            status: 409,
            cause: None,
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: "Not Found Error",
            message: message.into(),
            status: 404,
            cause: None,
        }
    }
}

impl From<AppError> for ActionError {
    fn from(error: AppError) -> Self {
        let (kind, status) = match &error {
            AppError::NotFound(_) => ("Not Found Error", 404),
            AppError::InvalidRequest(_) => ("Validation Error", 409),
            AppError::Forbidden(_) | AppError::Unauthorized | AppError::Licensed { .. } => ("Authorization Error", 403),
            _ => ("Internal Error", 500),
        };
        Self {
            kind,
            message: error.to_string(),
            status,
            cause: Some(error),
        }
    }
}

type Answer = Result<Value, ActionError>;

/// The actions this node answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    StatusShow,
    PackageList,
    PackageSearch,
    PackageShow,
    ResourceShow,
    OrganizationList,
    OrganizationShow,
    LicenseList,
    TagList,
    GroupList,
    HelpShow,
    PackageAutocomplete,
    CurrentPackageListWithResources,
}

impl Action {
    const ALL: [Action; 13] = [
        Self::StatusShow,
        Self::PackageList,
        Self::PackageSearch,
        Self::PackageShow,
        Self::ResourceShow,
        Self::OrganizationList,
        Self::OrganizationShow,
        Self::LicenseList,
        Self::TagList,
        Self::GroupList,
        Self::HelpShow,
        Self::PackageAutocomplete,
        Self::CurrentPackageListWithResources,
    ];

    /// The action's CKAN name and what it does here.
    fn described(self) -> (&'static str, &'static str) {
        match self {
            Self::StatusShow => (
                "status_show",
                "The node's CKAN-compatible status: site URL, version, extensions.",
            ),
            Self::PackageList => ("package_list", "The ids of all datasets, by name (limit, offset)."),
            Self::PackageSearch => (
                "package_search",
                "Searches datasets: q (words, name:, title:, tags:), fq (field:value clauses), rows, start, sort, facet.field.",
            ),
            Self::PackageShow => (
                "package_show",
                "One dataset (id) with its newest version's files as resources.",
            ),
            Self::ResourceShow => ("resource_show", "One file of a dataset (id = dataset:file)."),
            Self::OrganizationList => ("organization_list", "The publishers (all_fields for details)."),
            Self::OrganizationShow => ("organization_show", "One publisher (id; include_datasets)."),
            Self::LicenseList => ("license_list", "The licences datasets use."),
            Self::TagList => ("tag_list", "The keywords datasets use."),
            Self::GroupList => ("group_list", "Groups: none on this node; publishers are organizations."),
            Self::HelpShow => ("help_show", "What an action does (name)."),
            Self::PackageAutocomplete => ("package_autocomplete", "Datasets whose words start like q (limit)."),
            Self::CurrentPackageListWithResources => (
                "current_package_list_with_resources",
                "Datasets newest first, with resources (limit, offset).",
            ),
        }
    }

    fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.described().0 == name)
    }
}

/// Runs action `name` with its parameters (query string or JSON body, as an object).
pub async fn call(ctx: &Context, name: &str, params: &Map<String, Value>) -> Answer {
    let Some(action) = Action::named(name) else {
        return Err(ActionError {
            kind: "Not Found Error",
            message: format!("Action name not known: {name}"),
            status: 400,
            cause: None,
        });
    };
    match action {
        Action::StatusShow => Ok(status_show(ctx)),
        Action::PackageList => package_list(ctx, params).await,
        Action::PackageSearch => package_search(ctx, params).await,
        Action::PackageShow => package_show(ctx, params).await,
        Action::ResourceShow => resource_show(ctx, params).await,
        Action::OrganizationList => organization_list(ctx, params).await,
        Action::OrganizationShow => organization_show(ctx, params).await,
        Action::LicenseList => facet_values(ctx, Facet::License).await.map(|values| {
            values
                .into_iter()
                .map(|id| json!({"id": id, "title": id}))
                .collect::<Vec<_>>()
                .into()
        }),
        Action::TagList => facet_values(ctx, Facet::Keyword).await.map(Value::from),
        // Publishers are organizations; the node has no groups.
        Action::GroupList => Ok(Value::Array(Vec::new())),
        Action::HelpShow => help_show(params),
        Action::PackageAutocomplete => package_autocomplete(ctx, params).await,
        Action::CurrentPackageListWithResources => current_package_list_with_resources(ctx, params).await,
    }
}

fn status_show(ctx: &Context) -> Value {
    json!({
        "site_title": ctx.node.name,
        "site_description": "数联网 node (shulian)",
        "site_url": ctx.node.public_url,
        "ckan_version": CKAN_API_VERSION,
        "error_emails_to": null,
        "locale_default": "zh_Hans_CN",
        "extensions": [],
    })
}

fn text<'a>(params: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    params
        .get(key)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
}

/// A non-negative integer parameter, given as a number or as text.
fn number(params: &Map<String, Value>, key: &str) -> Result<Option<u32>, ActionError> {
    let parsed = match params.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| ActionError::validation(format!("{key}: must be a non-negative integer")))
}

fn required<'a>(params: &'a Map<String, Value>, key: &str) -> Result<&'a str, ActionError> {
    text(params, key).ok_or_else(|| ActionError::validation(format!("{key}: Missing value")))
}

/// Every dataset id, by name, paged with `limit` and `offset`.
async fn package_list(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let offset = number(params, "offset")?.unwrap_or(0);
    let limit = number(params, "limit")?;
    let mut names = Vec::new();
    let mut request = SearchRequest {
        order: Some(SearchOrder::Name),
        limit: Some(search::MAX_PAGE_SIZE),
        ..SearchRequest::default()
    };
    loop {
        let page = search::find(ctx, request.clone()).await?;
        names.extend(page.items.into_iter().map(|item| item.id.to_string()));
        match page.next_cursor {
            Some(cursor) if limit.is_none_or(|limit| names.len() < (offset + limit) as usize) => {
                request.cursor = Some(cursor);
            }
            _ => break,
        }
    }
    let names: Vec<String> = names
        .into_iter()
        .skip(offset as usize)
        .take(limit.map_or(usize::MAX, |limit| limit as usize))
        .collect();
    Ok(names.into())
}

/// CKAN `fq`/`q` field names and the facets they filter.
const FIELD_FACETS: [(&str, Facet); 6] = [
    ("tags", Facet::Keyword),
    ("res_format", Facet::Format),
    ("organization", Facet::Publisher),
    ("owner_org", Facet::Publisher),
    ("license_id", Facet::License),
    ("access", Facet::Access),
];

/// What a Solr-style `q` or `fq` asks, in the subset CKAN clients send: `field:value`
/// and `field:"a value"` on the fields of [`FIELD_FACETS`], `name:`/`id:` (the dataset
/// id) and `title:`/`text:` (free text), `OR` between clauses on one field, negation
/// (`-field:value`, `NOT field:value`), `metadata_modified:[A TO B]` and
/// `metadata_created:[A TO B]` (either end `*`), `AND`, `*:*`, and free words.
#[derive(Debug, Default, PartialEq)]
struct SolrQuery {
    filters: Vec<SearchFilter>,
    updated: TimeRange,
    created: TimeRange,
    words: Vec<String>,
}

impl SolrQuery {
    /// Adds what `query` asks; `allow_words` is false for `fq`, which holds clauses only.
    fn parse(&mut self, query: &str, allow_words: bool) -> Result<(), ActionError> {
        let mut or_next = false;
        let mut negate_next = false;
        for token in solr_tokens(query)? {
            match token.as_str() {
                "AND" | "&&" | "*:*" => continue,
                "OR" | "||" => {
                    if or_next || self.filters.is_empty() {
                        return Err(ActionError::validation("OR joins two clauses on one field"));
                    }
                    or_next = true;
                    continue;
                }
                "NOT" | "!" => {
                    negate_next = true;
                    continue;
                }
                _ => {}
            }
            let (negated, clause) = match token.strip_prefix('-').or_else(|| token.strip_prefix('!')) {
                Some(rest) => (true, rest),
                None => (std::mem::take(&mut negate_next), token.as_str()),
            };
            let kind = match clause.split_once(':') {
                Some((field, value)) => self.field_clause(field, unquote(value), negated)?,
                None => Clause::Text,
            };
            match kind {
                Clause::Range if or_next => {
                    return Err(ActionError::validation("OR joins two clauses on one field"));
                }
                Clause::Range => {}
                Clause::Filter(filter) if or_next => {
                    let last = self
                        .filters
                        .last_mut()
                        .filter(|last| last.field == filter.field && last.negated == negated);
                    let Some(last) = last else {
                        return Err(ActionError::validation("OR joins two clauses on one field"));
                    };
                    last.values.extend(filter.values);
                }
                Clause::Filter(filter) => self.filters.push(filter),
                Clause::Text if or_next || negated => {
                    return Err(ActionError::validation(format!(
                        "{clause:?}: OR and negation apply to field:value clauses"
                    )));
                }
                Clause::Text if clause.contains(':') && !allow_words => {
                    return Err(ActionError::validation(format!(
                        "fq: {clause:?} is not a clause on {}, name, id, metadata_modified or metadata_created",
                        FIELD_FACETS.map(|(field, _)| field).join(", ")
                    )));
                }
                Clause::Text if !allow_words => {
                    return Err(ActionError::validation(format!(
                        "fq: {clause:?} is not a field:value clause"
                    )));
                }
                Clause::Text => {
                    let text = clause
                        .split_once(':')
                        .filter(|(field, _)| ["title", "text"].contains(field));
                    self.words
                        .push(text.map_or(clause, |(_, value)| unquote(value)).to_owned());
                }
            }
            or_next = false;
        }
        if or_next || negate_next {
            return Err(ActionError::validation("the query ends in OR or NOT"));
        }
        Ok(())
    }

    /// What a `field:value` clause is; a range sets its bounds here.
    fn field_clause(&mut self, field: &str, value: &str, negated: bool) -> Result<Clause, ActionError> {
        let target = match field {
            "name" | "id" => FilterField::Id,
            "metadata_modified" | "metadata_created" => {
                if negated {
                    return Err(ActionError::validation(format!(
                        "{field}: negated ranges are not supported"
                    )));
                }
                let range = time_range(field, value)?;
                let bounds = if field == "metadata_modified" {
                    &mut self.updated
                } else {
                    &mut self.created
                };
                *bounds = range;
                return Ok(Clause::Range);
            }
            _ => match FIELD_FACETS.iter().find(|(known, _)| *known == field) {
                Some((_, facet)) => FilterField::Facet(*facet),
                None => return Ok(Clause::Text),
            },
        };
        Ok(Clause::Filter(SearchFilter {
            field: target,
            values: vec![value.to_owned()],
            negated,
        }))
    }
}

/// What one clause of a Solr query is.
enum Clause {
    /// A condition on a field.
    Filter(SearchFilter),
    /// A time range (already set on the query).
    Range,
    /// Free text: a word, a `title:` value, or a word with a colon in it.
    Text,
}

/// Splits a Solr query at whitespace outside quotes and range brackets.
fn solr_tokens(query: &str) -> Result<Vec<String>, ActionError> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut closing = None;
    for character in query.chars() {
        match closing {
            Some(close) => {
                current.push(character);
                if character == close {
                    closing = None;
                }
            }
            None if character.is_whitespace() => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            None => {
                closing = match character {
                    '"' => Some('"'),
                    '[' => Some(']'),
                    '{' => Some('}'),
                    _ => None,
                };
                current.push(character);
            }
        }
    }
    if let Some(close) = closing {
        return Err(ActionError::validation(format!(
            "{current:?}: missing the closing {close}"
        )));
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

/// A value without the quotes around it.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// `[A TO B]`, both ends included, either `*`; times in ISO 8601, UTC unless they say.
fn time_range(field: &str, value: &str) -> Result<TimeRange, ActionError> {
    let refused = || {
        ActionError::validation(format!(
            "{field}: a range [FROM TO UNTIL] of ISO 8601 times or *, both ends included"
        ))
    };
    let inner = value
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(refused)?;
    let (from, until) = inner.split_once(" TO ").ok_or_else(refused)?;
    let bound = |text: &str| -> Result<Option<DateTime<Utc>>, ActionError> {
        let text = text.trim();
        if text == "*" {
            return Ok(None);
        }
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(Some(time.with_timezone(&Utc)));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|time| Some(time.and_utc()))
            .map_err(|_| refused())
    };
    Ok(TimeRange {
        since: bound(from)?,
        until: bound(until)?,
    })
}

/// CKAN's `sort` (its first key decides) as a search order.
fn sort_order(sort: &str) -> Result<SearchOrder, ActionError> {
    let first = sort.split(',').next().unwrap_or_default();
    let mut words = first.split_whitespace();
    match (words.next(), words.next().unwrap_or("asc")) {
        (Some("score"), "desc") => Ok(SearchOrder::Relevance),
        (Some("metadata_modified"), "desc") => Ok(SearchOrder::Newest),
        (Some("name" | "id"), "asc") => Ok(SearchOrder::Name),
        _ => Err(ActionError::validation(format!(
            "sort: {sort:?}; this node sorts by score desc, metadata_modified desc, name asc or id asc"
        ))),
    }
}

async fn package_search(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let mut query = SolrQuery::default();
    query.parse(text(params, "q").unwrap_or_default(), true)?;
    query.parse(text(params, "fq").unwrap_or_default(), false)?;
    let rows = number(params, "rows")?.unwrap_or(10).min(search::MAX_PAGE_SIZE);
    let start = number(params, "start")?.unwrap_or(0);
    let order = text(params, "sort").map(sort_order).transpose()?;
    let facet_fields: Vec<String> = match params.get("facet.field") {
        None => Vec::new(),
        Some(Value::String(list)) => serde_json::from_str(list)
            .map_err(|_| ActionError::validation("facet.field: a JSON list of field names"))?,
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(_) => return Err(ActionError::validation("facet.field: a JSON list of field names")),
    };
    // A harvester of this node sees its peers' datasets too, each as held at its peer.
    let page = search::find_with_peers(
        ctx,
        SearchRequest {
            text: Some(query.words.join(" ")),
            filters: query.filters,
            updated: query.updated,
            created: query.created,
            order,
            limit: Some(rows.max(1)),
            offset: start,
            ..SearchRequest::default()
        },
    )
    .await?;
    let publishers = publishers_by_id(ctx).await?;
    let peers = network::peers_by_url(ctx).await?;
    let mut results = Vec::new();
    if rows > 0 {
        let publisher_datasets = PublisherDatasets::count(ctx).await?;
        for item in &page.items {
            match item {
                FoundDataset::Local(item) => {
                    let publisher = publishers
                        .get(&item.publisher)
                        .map(|publisher| (publisher, publisher_datasets.of(publisher)));
                    results.push(package(ctx, item, publisher).await?);
                }
                FoundDataset::Peer(entry) => {
                    if let Some(peer) = peers.get(&entry.peer_url) {
                        results.push(peer_package(peer, entry)?);
                    }
                }
            }
        }
    }
    let mut facets = Map::new();
    let mut search_facets = Map::new();
    for field in facet_fields {
        let Some((_, facet)) = FIELD_FACETS.iter().find(|(known, _)| *known == field) else {
            continue;
        };
        let values = page.facets.get(facet.as_str()).cloned().unwrap_or_default();
        let counts: Map<String, Value> = values
            .iter()
            .map(|value| {
                (
                    value["value"].as_str().unwrap_or_default().to_owned(),
                    value["count"].clone(),
                )
            })
            .collect();
        let items: Vec<Value> = values
            .iter()
            .map(|value| json!({"name": value["value"], "display_name": value["value"], "count": value["count"]}))
            .collect();
        facets.insert(field.clone(), Value::Object(counts));
        search_facets.insert(field.clone(), json!({"title": field, "items": items}));
    }
    Ok(json!({
        "count": page.total,
        "results": results,
        "sort": text(params, "sort").unwrap_or("score desc, metadata_modified desc"),
        "facets": facets,
        "search_facets": search_facets,
    }))
}

fn help_show(params: &Map<String, Value>) -> Answer {
    let name = required(params, "name")?;
    Action::named(name)
        .map(|action| {
            let (name, help) = action.described();
            Value::from(format!("{name}: {help}"))
        })
        .ok_or_else(|| ActionError::not_found(format!("Action name not known: {name}")))
}

async fn package_autocomplete(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let query = required(params, "q")?;
    let limit = number(params, "limit")?.unwrap_or(10).clamp(1, search::MAX_PAGE_SIZE);
    let page = search::find(
        ctx,
        SearchRequest {
            text: Some(query.to_owned()),
            limit: Some(limit),
            ..SearchRequest::default()
        },
    )
    .await?;
    Ok(page
        .items
        .iter()
        .map(|item| {
            let title = item
                .metadata
                .title
                .zh
                .clone()
                .or_else(|| item.metadata.title.en.clone());
            json!({"name": item.id, "title": title, "match_field": "title", "match_displayed": title})
        })
        .collect::<Vec<_>>()
        .into())
}

async fn current_package_list_with_resources(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let mut search = Map::new();
    search.insert("rows".into(), json!(number(params, "limit")?.unwrap_or(10)));
    search.insert("start".into(), json!(number(params, "offset")?.unwrap_or(0)));
    search.insert("sort".into(), json!("metadata_modified desc"));
    let found = package_search(ctx, &search).await?;
    Ok(found["results"].clone())
}

async fn package_show(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let id = required(params, "id").or_else(|_| required(params, "name_or_id"))?;
    // A peer's package is shown by its id, the dataset's identifier `<peer prefix>/<dataset>`.
    if id.contains('/') {
        let handle: Handle = id.parse().map_err(|_| ActionError::not_found("Dataset not found"))?;
        return peer_package_show(ctx, &handle).await;
    }
    let dataset: DatasetId = id.parse().map_err(|_| ActionError::not_found("Dataset not found"))?;
    package_by_id(ctx, &dataset).await
}

async fn resource_show(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let id = required(params, "id")?;
    let missing = || ActionError::not_found("Resource was not found.");
    let (dataset, name) = id.split_once(RESOURCE_ID_SEPARATOR).ok_or_else(missing)?;
    let dataset: DatasetId = dataset.parse().map_err(|_| missing())?;
    let shown = package_by_id(ctx, &dataset).await?;
    shown["resources"]
        .as_array()
        .and_then(|resources| resources.iter().find(|resource| resource["name"] == name))
        .cloned()
        .ok_or_else(missing)
}

/// Licences CKAN counts as open (the Open Definition's most used), by SPDX id.
const OPEN_LICENSES: [&str; 9] = [
    "CC0-1.0",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "ODC-BY-1.0",
    "ODbL-1.0",
    "PDDL-1.0",
    "CC-BY-3.0",
    "CC-BY-SA-3.0",
    "OGL-UK-3.0",
];

/// Joins a package id and a file name into a resource id (file names never hold it).
const RESOURCE_ID_SEPARATOR: char = ':';

async fn organization_list(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let all_fields = matches!(params.get("all_fields"), Some(Value::Bool(true)))
        || text(params, "all_fields").is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let counts = PublisherDatasets::count(ctx).await?;
    let listed: Vec<Value> = publishers_by_id(ctx)
        .await?
        .values()
        .map(|publisher| {
            if all_fields {
                organization(publisher, counts.of(publisher))
            } else {
                Value::from(publisher.id.to_string())
            }
        })
        .collect();
    Ok(listed.into())
}

async fn organization_show(ctx: &Context, params: &Map<String, Value>) -> Answer {
    let id = required(params, "id")?;
    let missing = || ActionError::not_found("Organization not found");
    let publisher_id: PublisherId = id.parse().map_err(|_| missing())?;
    let publisher = match ctx.store.publisher(&publisher_id).await {
        Err(StoreError::NotFound) => return Err(missing()),
        found => found.map_err(AppError::from)?,
    };
    let datasets = PublisherDatasets::count(ctx).await?.of(&publisher);
    let mut shown = organization(&publisher, datasets);
    let include = matches!(params.get("include_datasets"), Some(Value::Bool(true)))
        || text(params, "include_datasets").is_some_and(|value| value.eq_ignore_ascii_case("true"));
    if include {
        let page = search::find(
            ctx,
            SearchRequest {
                filters: vec![SearchFilter::facet(Facet::Publisher, id)],
                order: Some(SearchOrder::Name),
                limit: Some(search::MAX_PAGE_SIZE),
                ..SearchRequest::default()
            },
        )
        .await?;
        let mut packages = Vec::new();
        for item in &page.items {
            packages.push(package(ctx, item, Some((&publisher, datasets))).await?);
        }
        shown["packages"] = packages.into();
    }
    Ok(shown)
}

fn organization(publisher: &Publisher, package_count: u64) -> Value {
    json!({
        "id": publisher.id,
        "name": publisher.id,
        "title": publisher.name,
        "display_name": publisher.name,
        "description": "",
        "type": "organization",
        "is_organization": true,
        "state": "active",
        "approval_status": "approved",
        "created": publisher.created_at.naive_utc(),
        "package_count": package_count,
    })
}

/// Every value of a facet over the whole catalog, by name.
async fn facet_values(ctx: &Context, facet: Facet) -> Result<Vec<String>, ActionError> {
    Ok(facet_counts(ctx, facet).await?.into_keys().collect())
}

async fn facet_counts(ctx: &Context, facet: Facet) -> Result<BTreeMap<String, u64>, AppError> {
    let (_, counts) = search::summary(ctx, &SearchRequest::default()).await?;
    Ok(counts
        .into_iter()
        .filter(|count| count.facet == facet)
        .map(|count| (count.value, count.count))
        .collect())
}

/// How many datasets each publisher publishes, counted once over the whole catalog.
struct PublisherDatasets(BTreeMap<String, u64>);

impl PublisherDatasets {
    async fn count(ctx: &Context) -> Result<Self, AppError> {
        Ok(Self(facet_counts(ctx, Facet::Publisher).await?))
    }

    /// The datasets `publisher` publishes (none: it has published nothing yet).
    fn of(&self, publisher: &Publisher) -> u64 {
        self.0.get(publisher.id.as_str()).copied().unwrap_or(0)
    }
}

/// One dataset as a CKAN package, found by id.
async fn package_by_id(ctx: &Context, dataset: &DatasetId) -> Answer {
    let (summary, publisher) = catalog::dataset_and_publisher(ctx, dataset).await?;
    let datasets = PublisherDatasets::count(ctx).await?.of(&publisher);
    package(ctx, &summary, Some((&publisher, datasets))).await
}

/// A dataset as a CKAN package: its newest version's metadata and files, and its
/// publisher as an organization with the number of datasets it publishes (counted once
/// by the caller, not once per package of a page).
async fn package(ctx: &Context, summary: &DatasetView, publisher: Option<(&Publisher, u64)>) -> Answer {
    let dataset = &summary.id;
    let record = catalog::described_version(ctx, summary).await?;
    let resources: Vec<Value> = record
        .files
        .iter()
        .enumerate()
        .map(|(position, file)| resource(ctx, summary, file, position, &record.summary.published_at))
        .collect();
    let metadata = &summary.metadata;
    let (title, notes) = title_and_notes(metadata);
    let mut extras = vec![
        json!({"key": "access", "value": metadata.access.as_str()}),
        json!({"key": "manifest_digest", "value": record.summary.manifest_digest.prefixed()}),
    ];
    if let Some(en) = &metadata.title.en {
        extras.push(json!({"key": "title_en", "value": en}));
    }
    if metadata.access == AccessClass::Licensed {
        extras.push(json!({"key": "how_to_order", "value": format!(
            "Licensed data: order it with `shulian order {dataset} --key KEY --purpose PURPOSE --node {}`; see /api/v1/datasets/{dataset}",
            ctx.node.public_url
        )}));
    }
    Ok(json!({
        "id": dataset,
        "name": dataset,
        "title": title,
        "notes": notes,
        "type": "dataset",
        "state": "active",
        "private": false,
        "version": summary.latest_version.get().to_string(),
        "license_id": metadata.license.id,
        "license_title": metadata.license.title.clone().unwrap_or_else(|| metadata.license.id.clone()),
        "license_url": metadata.license.web_url(),
        "owner_org": summary.publisher,
        "organization": publisher.map(|(publisher, datasets)| organization(publisher, datasets)),
        "author": publisher.map(|(publisher, _)| publisher.name.clone()),
        "author_email": Value::Null,
        "maintainer": publisher.map(|(publisher, _)| publisher.name.clone()),
        "maintainer_email": Value::Null,
        "groups": [],
        // Open in CKAN's sense: free to download and under an open licence.
        "isopen": metadata.access == AccessClass::Open && OPEN_LICENSES.iter().any(|open| metadata.license.id.eq_ignore_ascii_case(open)),
        "url": format!("{}/api/v1/datasets/{dataset}", ctx.node.public_url),
        "tags": metadata.keywords.iter().map(|keyword| json!({"name": keyword, "display_name": keyword})).collect::<Vec<_>>(),
        "num_tags": metadata.keywords.len(),
        "resources": resources,
        "num_resources": record.files.len(),
        "metadata_created": summary.created_at.naive_utc(),
        "metadata_modified": summary.updated_at.naive_utc(),
        "extras": extras,
    }))
}

async fn peer_package_show(ctx: &Context, handle: &Handle) -> Answer {
    let not_found = || ActionError::not_found("Dataset not found");
    let (peer, _) = ctx
        .store
        .remote_version(handle.prefix.as_str(), &handle.dataset, None)
        .await
        .map_err(AppError::from)?
        .ok_or_else(not_found)?;
    let entry = ctx
        .store
        .held_remote_versions(&[(peer.url.clone(), handle.dataset.clone())])
        .await
        .map_err(AppError::from)?
        .pop()
        .ok_or_else(not_found)?;
    peer_package(&peer, &entry)
}

/// A package's `title` (Chinese, else English) and `notes` (both descriptions).
fn title_and_notes(metadata: &crate::domain::DatasetMetadata) -> (String, String) {
    (
        metadata.title.preferred(false).to_owned(),
        metadata.description.joined(),
    )
}

/// A dataset a peer holds as a CKAN package, as harvested sources appear in CKAN: its
/// origin's URL (`url`), its holder as the organization, its identifier as its id, the
/// verified metadata, and no resources of this node's (its files are at the peer).
fn peer_package(peer: &Peer, entry: &PeerCatalogEntry) -> Answer {
    let (url, version) = (&entry.peer_url, &entry.version);
    let dataset = &version.dataset;
    let metadata: crate::domain::DatasetMetadata =
        serde_json::from_str(&entry.metadata).map_err(|error| AppError::Internal(error.into()))?;
    let prefix = peer.identifier_prefix.clone().unwrap_or_else(|| peer.did.clone());
    let identifier = peer
        .identifier(dataset, None)
        .unwrap_or_else(|| format!("{prefix}/{dataset}"));
    // CKAN names are lower-case letters, digits, '-' and '_': the prefix's dots become '-'.
    let organization: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let (title, notes) = title_and_notes(&metadata);
    Ok(json!({
        "id": identifier,
        "name": format!("{organization}--{dataset}"),
        "title": title,
        "notes": notes,
        "type": "dataset",
        "state": "active",
        "private": false,
        "version": version.version.get().to_string(),
        "license_id": metadata.license.id,
        "license_title": metadata.license.title.clone().unwrap_or_else(|| metadata.license.id.clone()),
        "license_url": metadata.license.web_url(),
        "owner_org": organization,
        "organization": {
            "id": organization,
            "name": organization,
            "title": peer.name,
            "type": "organization",
            "state": "active",
            "is_organization": true,
        },
        "groups": [],
        "isopen": metadata.access == AccessClass::Open && OPEN_LICENSES.iter().any(|open| metadata.license.id.eq_ignore_ascii_case(open)),
        "url": peer.dataset_page(dataset),
        "tags": metadata.keywords.iter().map(|keyword| json!({"name": keyword, "display_name": keyword})).collect::<Vec<_>>(),
        "num_tags": metadata.keywords.len(),
        "resources": [],
        "num_resources": 0,
        "metadata_modified": version.published_at.naive_utc(),
        "extras": [
            {"key": "access", "value": metadata.access.as_str()},
            {"key": "held_by", "value": url},
            {"key": "held_by_did", "value": peer.did},
            {"key": "identifier", "value": identifier},
            {"key": "manifest_digest", "value": version.manifest_digest.prefixed()},
            {"key": "log_index", "value": version.log_index.to_string()},
        ],
    }))
}

fn resource(
    ctx: &Context,
    summary: &DatasetView,
    file: &FileEntry,
    position: usize,
    published: &chrono::DateTime<chrono::Utc>,
) -> Value {
    let dataset = &summary.id;
    let url = file_url(&ctx.node.public_url, dataset, summary.latest_version, &file.name);
    json!({
        "id": format!("{dataset}{RESOURCE_ID_SEPARATOR}{}", file.name),
        "package_id": dataset,
        "name": file.name,
        "url": url,
        "format": file.media_type.format_name(),
        "mimetype": file.media_type.as_str(),
        "size": file.size,
        "hash": file.sha256.to_string(),
        "description": match &file.derived_from {
            Some(source) => format!("sha256 {}; Parquet copy the node derived from {source}", file.sha256),
            None => format!("sha256 {}", file.sha256),
        },
        "position": position,
        "state": "active",
        "url_type": null,
        "created": published.naive_utc(),
        "last_modified": published.naive_utc(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(q: &str, fq: &str) -> Result<SolrQuery, ActionError> {
        let mut query = SolrQuery::default();
        query.parse(q, true)?;
        query.parse(fq, false)?;
        Ok(query)
    }

    fn filter(field: FilterField, values: &[&str], negated: bool) -> SearchFilter {
        SearchFilter {
            field,
            values: values.iter().map(|value| (*value).to_owned()).collect(),
            negated,
        }
    }

    #[test]
    fn solr_clauses_become_filters() {
        let query = parsed(r#"tags:"交通 数据" res_format:CSV 流量 *:* title:"hourly flow""#, "").expect("parse");
        assert_eq!(
            query.filters,
            [
                filter(FilterField::Facet(Facet::Keyword), &["交通 数据"], false),
                filter(FilterField::Facet(Facet::Format), &["CSV"], false),
            ]
        );
        assert_eq!(query.words, ["流量", "hourly flow"]);
        assert!(parsed("tags:\"open", "").is_err());
    }

    #[test]
    fn what_ckanext_harvest_sends_is_understood() {
        let query = parsed(
            "",
            "organization:city OR organization:hospital -organization:old NOT res_format:XLS \
             metadata_modified:[2026-01-01T00:00:00.123456Z TO *] metadata_created:[* TO 2026-06-01T00:00:00]",
        )
        .expect("parse");
        assert_eq!(
            query.filters,
            [
                filter(FilterField::Facet(Facet::Publisher), &["city", "hospital"], false),
                filter(FilterField::Facet(Facet::Publisher), &["old"], true),
                filter(FilterField::Facet(Facet::Format), &["XLS"], true),
            ]
        );
        let since = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123456Z").expect("time");
        assert_eq!(query.updated.since, Some(since.with_timezone(&Utc)));
        assert_eq!(query.updated.until, None);
        assert_eq!(query.created.since, None);
        assert!(query.created.until.is_some());
        assert_eq!(
            parsed("name:traffic", "").expect("parse").filters,
            [filter(FilterField::Id, &["traffic"], false)]
        );
        assert_eq!(sort_order("id asc").expect("sort"), SearchOrder::Name);
        assert_eq!(
            sort_order("metadata_modified desc, id asc").expect("sort"),
            SearchOrder::Newest
        );
    }

    #[test]
    fn what_this_subset_cannot_answer_is_refused_not_guessed() {
        for (q, fq) in [
            ("", "organization:a OR tags:b"),
            ("", "organization:a OR"),
            ("", "OR organization:a"),
            ("-word", ""),
            ("", "free words"),
            ("", "unknown:field"),
            ("", "metadata_modified:{2026-01-01T00:00:00Z TO *}"),
            ("", "metadata_modified:[NOW-1DAY TO *]"),
            ("", "-metadata_modified:[* TO *]"),
            ("", "metadata_modified:[2026-01-01"),
        ] {
            assert!(parsed(q, fq).is_err(), "q={q:?} fq={fq:?}");
        }
        for sort in ["title_string asc", "name desc", "views_recent desc"] {
            assert!(sort_order(sort).is_err(), "{sort}");
        }
    }
}
