//! The pages' markup.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::SearchForm;
use super::i18n::{Lang, Text};
use crate::domain::SearchFilter;
use crate::domain::{AccessClass, DatasetId, Facet, Offer, PublisherId, SearchOrder, VersionNumber};
use crate::error::AppError;
use crate::search::analysis::highlight;
use crate::service::catalog::{self, DatasetView, file_url};
use crate::service::demands::{self, BoardQuery};
use crate::service::network::PeerDatasetView;
use crate::service::search::{self, SearchRequest};
use crate::service::{Context, interop, network, tables, transparency, witness};
use crate::tabular::PreviewRequest;

/// Rows a dataset page previews.
const PREVIEW_ROWS: usize = 10;

/// A page of the catalog: header, navigation, `body`.
pub(super) fn layout(lang: Lang, title: &str, body: Markup) -> Markup {
    layout_with_head(lang, title, html! {}, body)
}

/// A page whose `head` carries more than the title and styles (links, structured data, scripts).
pub(super) fn layout_with_head(lang: Lang, title: &str, head: Markup, body: Markup) -> Markup {
    let (other, other_name) = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t(Text::SiteName)) }
                link rel="stylesheet" href="/static/style.css";
                (head)
            }
            body {
                header.top {
                    a.site href="/" { (lang.t(Text::SiteName)) }
                    nav aria-label=(lang.t(Text::SiteName)) {
                        a href="/" { (lang.t(Text::Home)) }
                        a href="/search" { (lang.t(Text::Datasets)) }
                        a href="/node" { (lang.t(Text::Node)) }
                        a href="/demands" { (lang.t(Text::DemandBoard)) }
                        a href="/orders" { (lang.t(Text::MyOrders)) }
                        a href="/console" { (lang.t(Text::ConsoleNav)) }
                        a href={ "?lang=" (other) } lang=(other) { (other_name) }
                    }
                }
                main { (body) }
                script src="/static/copy.js" defer {}
            }
        }
    }
}

/// A JSON value as the text of a data block (`<script type="application/…json">`), which
/// is never executed, but which `</script>` inside would end: `<` is escaped.
fn data_block(value: &impl serde::Serialize) -> Result<PreEscaped<String>, AppError> {
    let text = serde_json::to_string(value).map_err(anyhow::Error::from)?;
    Ok(PreEscaped(text.replace('<', "\\u003c")))
}

/// What a page that orders or follows orders loads: the signing library, the market's
/// script, and the script's phrases in the reader's language.
pub(super) fn market_head(lang: Lang) -> Result<Markup, AppError> {
    Ok(html! {
        script src="/static/sign.js" defer {}
        script src="/static/market.js" defer {}
        script #market-texts type="application/json" { (data_block(&lang.script_texts())?) }
    })
}

/// The order form's fields (purpose, validity, downloads, the button and its status), with
/// the terms the offer allows; the market's script signs what they say.
pub(super) fn order_fields(lang: Lang, offer: &Offer) -> Markup {
    html! {
        p.field {
            label for="order-purpose" { (lang.t(Text::Purpose)) }
            select #order-purpose name="purpose" required {
                @for purpose in &offer.purposes { option value=(purpose) { (purpose) } }
            }
        }
        p.field {
            label for="order-days" { (lang.t(Text::ValidityDays)) }
            input #order-days name="validityDays" type="number" min="1" max=(offer.max_validity_days)
                value=(offer.max_validity_days) required;
        }
        p.field {
            label for="order-downloads" { (lang.t(Text::DownloadsAllowed)) }
            input #order-downloads name="maxDownloads" type="number" min="1" max=(offer.max_downloads)
                value=(offer.max_downloads) required;
        }
        button #order-submit type="submit" { (lang.t(Text::SignAndOrder)) }
        p #order-status role="status" aria-live="polite" {}
    }
}

fn search_box(lang: Lang, value: &str) -> Markup {
    html! {
        form.search action="/search" method="get" role="search" {
            label.visually-hidden for="q" { (lang.t(Text::SearchLabel)) }
            input id="q" type="search" name="q" value=(value) placeholder=(lang.t(Text::SearchPlaceholder));
            button type="submit" { (lang.t(Text::Search)) }
        }
    }
}

/// The open / licensed badge.
pub(super) fn access_badge(lang: Lang, access: AccessClass) -> Markup {
    match access {
        AccessClass::Open => html! { span.badge.open { (lang.t(Text::Open)) } },
        AccessClass::Licensed => html! { span.badge.licensed { (lang.t(Text::Licensed)) } },
    }
}

fn dataset_card(lang: Lang, item: &DatasetView) -> Markup {
    found_card(lang, item, "")
}

/// A dataset's card with what `query` found in its title and description highlighted.
fn found_card(lang: Lang, item: &DatasetView, query: &str) -> Markup {
    let metadata = &item.metadata;
    let marked = |text: &str| {
        html! {
            @for (piece, found) in highlight(query, text) {
                @if found { mark { (piece) } } @else { (piece) }
            }
        }
    };
    html! {
        article.card {
            h3 { a href={ "/datasets/" (item.id) } { (marked(metadata.title.preferred(lang.english()))) } }
            p.meta {
                (access_badge(lang, metadata.access)) " "
                a href={ "/publishers/" (item.publisher) } { (item.publisher) }
                " · " (lang.t(Text::Updated)) " " (item.updated_at.format("%Y-%m-%d"))
            }
            p { (marked(metadata.description.preferred(lang.english()))) }
            @for keyword in &metadata.keywords { span.tag { (keyword) } }
        }
    }
}

/// The front page.
pub async fn home(ctx: &Context, lang: Lang) -> Result<Markup, AppError> {
    let overview = search::overview(ctx).await?;
    let listed = |order| {
        search::find(
            ctx,
            SearchRequest {
                order: Some(order),
                limit: Some(5),
                ..SearchRequest::default()
            },
        )
    };
    let newest = listed(SearchOrder::Newest).await?;
    let popular = listed(SearchOrder::Downloads).await?;
    let at_peers = network::peer_datasets(ctx).await?;
    let body = html! {
        h1 { (lang.t(Text::SiteName)) }
        (search_box(lang, ""))
        section.stats aria-label=(lang.t(Text::Datasets)) {
            div { strong { (overview.datasets) } (lang.t(Text::Datasets)) }
            div { strong { (overview.open) } (lang.t(Text::Open)) }
            div { strong { (overview.licensed) } (lang.t(Text::Licensed)) }
            div { strong { (overview.publishers) } (lang.t(Text::Publishers)) }
        }
        div.columns {
            section {
                h2 { (lang.t(Text::Newest)) }
                @for item in &newest.items { (dataset_card(lang, item)) }
            }
            section {
                h2 { (lang.t(Text::MostDownloaded)) }
                @for item in &popular.items { (dataset_card(lang, item)) }
            }
        }
        @if !at_peers.is_empty() {
            section #peer-datasets {
                h2 { (lang.t(Text::PeerDatasets)) }
                p.meta { (lang.t(Text::PeerDatasetsHelp)) }
                @for item in at_peers.iter().take(10) { (peer_dataset_card(lang, item)) }
            }
        }
    };
    Ok(layout(lang, lang.t(Text::Home), body))
}

/// A dataset a peer holds: where it is hosted, its identifier, where to order it.
fn peer_dataset_card(lang: Lang, item: &PeerDatasetView) -> Markup {
    html! {
        article.card data-peer-dataset=(item.dataset) {
            h3 { a href=(item.url) rel="external" { (item.title.preferred(lang.english())) } }
            p.meta {
                (access_badge(lang, item.access)) " "
                (lang.t(Text::HostedAt)) " " a href=(item.node_url) rel="external" { (item.node_name) }
                @if let Some(identifier) = &item.identifier { " · " code { (identifier) } }
            }
            @if item.access == AccessClass::Licensed {
                p { a.order-at href=(item.url) rel="external" { (lang.t(Text::OrderAt)) " " (item.node_name) } }
            }
        }
    }
}

/// The filters of a search form, as (facet, value).
fn form_filters(form: &SearchForm) -> Vec<(Facet, String)> {
    [
        (Facet::Access, &form.access),
        (Facet::Publisher, &form.publisher),
        (Facet::License, &form.license),
        (Facet::Format, &form.format),
        (Facet::Keyword, &form.keyword),
    ]
    .into_iter()
    .filter_map(|(facet, value)| value.clone().filter(|v| !v.is_empty()).map(|v| (facet, v)))
    .collect()
}

/// A search URL with `q`, `filters` and `sort`, and optionally a cursor.
fn search_url(q: &str, filters: &[(Facet, String)], sort: Option<&str>, cursor: Option<&str>) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        url.append_pair("q", q);
    }
    for (facet, value) in filters {
        url.append_pair(facet.as_str(), value);
    }
    if let Some(sort) = sort {
        url.append_pair("sort", sort);
    }
    if let Some(cursor) = cursor {
        url.append_pair("cursor", cursor);
    }
    format!("/search?{}", url.finish())
}

fn facet_title(lang: Lang, facet: Facet) -> &'static str {
    lang.t(match facet {
        Facet::Access => Text::Access,
        Facet::Publisher => Text::Publisher,
        Facet::License => Text::License,
        Facet::Format => Text::Format,
        Facet::Keyword => Text::Keyword,
        Facet::Kind => Text::ItemKind,
        Facet::Node => Text::Node,
    })
}

fn facet_value_label(lang: Lang, facet: Facet, value: &str) -> String {
    match (facet, value) {
        (Facet::Access, "open") => lang.t(Text::Open).to_owned(),
        (Facet::Access, "licensed") => lang.t(Text::Licensed).to_owned(),
        _ => value.to_owned(),
    }
}

/// Peers' datasets a search page shows at most.
const PEER_RESULTS: u32 = 10;

/// The search page: the API's search, with facets to click, and the peers' datasets the
/// same words find.
pub async fn search(ctx: &Context, lang: Lang, form: &SearchForm) -> Result<Markup, AppError> {
    let q = form.q.clone().unwrap_or_default();
    let filters = form_filters(form);
    let sort = form.sort.as_deref().filter(|s| !s.is_empty());
    let page = search::find(
        ctx,
        SearchRequest {
            text: Some(q.clone()),
            filters: filters
                .iter()
                .map(|(facet, value)| SearchFilter::facet(*facet, value.as_str()))
                .collect(),
            order: sort.map(str::parse::<SearchOrder>).transpose()?,
            cursor: form.cursor.clone().filter(|c| !c.is_empty()),
            ..SearchRequest::default()
        },
    )
    .await?;
    // What the board holds for the same words: a link to those demands.
    let demands_matching = match q.trim() {
        "" => 0,
        text => {
            let board = BoardQuery {
                text: Some(text),
                limit: Some(1),
                ..BoardQuery::default()
            };
            demands::list(ctx, board).await?.total.unwrap_or_default()
        }
    };
    // What the peers hold for the same words, hosted and ordered there.
    let at_peers = match q.trim() {
        "" => None,
        text => Some(
            network::search_peer_datasets(
                ctx,
                SearchRequest {
                    text: Some(text.to_owned()),
                    limit: Some(PEER_RESULTS),
                    ..SearchRequest::default()
                },
            )
            .await?,
        ),
    };
    let body = html! {
        (search_box(lang, &q))
        @if demands_matching > 0 {
            p.meta #demands-matching {
                a href=(super::board::board_url(Some(q.trim()), None, None)) { (demands_matching) " " (lang.t(Text::DemandsMatch)) }
            }
        }
        div.layout {
            aside.facets aria-label=(lang.t(Text::Keywords)) {
                @for facet in Facet::ALL {
                    @if let Some(values) = page.facets.get(facet.as_str()).filter(|values| !values.is_empty()) {
                        h2 { (facet_title(lang, facet)) }
                        ul {
                            @for value in values {
                                @let value_text = value["value"].as_str().unwrap_or_default();
                                @let chosen = filters.iter().any(|(f, v)| *f == facet && v == value_text);
                                @let next: Vec<(Facet, String)> = if chosen {
                                    filters.iter().filter(|(f, _)| *f != facet).cloned().collect()
                                } else {
                                    filters.iter().filter(|(f, _)| *f != facet).cloned()
                                        .chain([(facet, value_text.to_owned())]).collect()
                                };
                                li {
                                    a href=(search_url(&q, &next, sort, None)) aria-current=[chosen.then_some("true")] {
                                        (facet_value_label(lang, facet, value_text))
                                    }
                                    " (" (value["count"]) ")"
                                }
                            }
                        }
                    }
                }
                @if !filters.is_empty() {
                    p { a href=(search_url(&q, &[], sort, None)) { (lang.t(Text::ClearFilters)) } }
                }
            }
            section aria-live="polite" {
                p.meta {
                    (page.total) " " (lang.t(Text::Results)) " · " (lang.t(Text::Sort)) ": "
                    @for (name, label) in [("relevance", Text::Relevance), ("newest", Text::Newest), ("downloads", Text::MostDownloaded)] {
                        a href=(search_url(&q, &filters, Some(name), None)) aria-current=[(sort == Some(name)).then_some("true")] { (lang.t(label)) } " "
                    }
                }
                @if page.items.is_empty() {
                    p.empty { (lang.t(Text::NoResults)) }
                }
                @for item in &page.items { (found_card(lang, item, &q)) }
                @if let Some(at_peers) = at_peers.as_ref().filter(|found| found.total > 0) {
                    section #peer-results {
                        h2 { (lang.t(Text::PeerDatasets)) " (" (at_peers.total) ")" }
                        p.meta { (lang.t(Text::PeerDatasetsHelp)) }
                        @for item in &at_peers.items { (peer_dataset_card(lang, item)) }
                    }
                }
                nav aria-label=(lang.t(Text::NextPage)) {
                    @if form.cursor.as_deref().is_some_and(|c| !c.is_empty()) {
                        a.button href=(search_url(&q, &filters, sort, None)) { (lang.t(Text::FirstPage)) } " "
                    }
                    @if let Some(next) = &page.next_cursor {
                        a.button href=(search_url(&q, &filters, sort, Some(next))) rel="next" { (lang.t(Text::NextPage)) }
                    }
                }
            }
        }
    };
    let title = if q.is_empty() {
        lang.t(Text::Datasets).to_owned()
    } else {
        q.clone()
    };
    Ok(layout(lang, &title, body))
}

/// Fen as the pages show money: `¥12.34`.
pub(super) fn yuan(fen: u64) -> String {
    format!("¥{}", yuan_amount(fen))
}

/// Fen as a number of yuan with two decimals, as a form's field takes it.
pub(super) fn yuan_amount(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// A dataset: metadata, versions, files, tables and, for licensed data, the offer.
pub async fn dataset(
    ctx: &Context,
    lang: Lang,
    id: &DatasetId,
    version: Option<VersionNumber>,
) -> Result<Markup, AppError> {
    let detail = catalog::get_dataset(ctx, id).await?;
    let shown = catalog::get_version(ctx, id, version).await?;
    let metadata = &detail.dataset.metadata;
    let open = shown.entry.access == AccessClass::Open;
    let mut table_views = Vec::new();
    for file in shown.files.iter().filter(|file| file.derived_from.is_none()) {
        if tables::table_format(&file.media_type).is_none() {
            continue;
        }
        let request = PreviewRequest {
            offset: 0,
            limit: PREVIEW_ROWS,
            columns: None,
        };
        let Ok((schema, rows)) =
            tables::schema_with_preview(ctx, id, Some(shown.entry.version), &file.name, request).await
        else {
            continue;
        };
        table_views.push((file.name.clone(), schema, rows.ok()));
    }
    let first_purpose = metadata
        .offer
        .as_ref()
        .and_then(|offer| offer.purposes.first().cloned())
        .unwrap_or_default();
    let order_command = format!(
        "shulian keygen --out buyer.json\nshulian order {id}@{} --key buyer.json --purpose '{first_purpose}' --node {}",
        shown.entry.version, ctx.node.public_url
    );
    let body = html! {
        article {
            h1 { (metadata.title.preferred(lang.english())) }
            p.meta {
                (access_badge(lang, metadata.access)) " "
                (lang.t(Text::Publisher)) ": " a href={ "/publishers/" (detail.dataset.publisher) } { (detail.dataset.publisher) }
                " · " (lang.t(Text::License)) ": "
                @if let Some(url) = metadata.license.web_url() { a href=(url) rel="license noopener" { (metadata.license.id) } }
                @else { (metadata.license.id) }
                " · " (lang.t(Text::Version)) " " (shown.entry.version)
                " · " (lang.t(Text::Published)) " " (shown.entry.published_at.format("%Y-%m-%d %H:%M UTC"))
            }
            p { (metadata.description.preferred(lang.english())) }
            @if !metadata.keywords.is_empty() {
                p { (lang.t(Text::Keywords)) ": " @for keyword in &metadata.keywords {
                    a.tag href=(search_url("", &[(Facet::Keyword, keyword.clone())], None, None)) { (keyword) }
                } }
            }
            @if let Some(offer) = &metadata.offer {
                section.card {
                    h2 { (lang.t(Text::Offer)) }
                    dl {
                        dt { (lang.t(Text::Price)) } dd { (yuan(offer.price_fen)) }
                        dt { (lang.t(Text::Purposes)) } dd { (offer.purposes.join(" · ")) }
                        dt { (lang.t(Text::Validity)) } dd { (offer.max_validity_days) " " (lang.t(Text::Days)) }
                        dt { (lang.t(Text::DownloadsAllowed)) } dd { (offer.max_downloads) }
                    }
                    p { (lang.t(Text::OrderHelp)) }
                    // Shown by the market's script where the browser can sign (WebCrypto Ed25519).
                    form #order-form hidden data-dataset=(id) data-version=(shown.entry.version)
                        data-title=(metadata.title.preferred(lang.english())) {
                        h3 { (lang.t(Text::OrderInBrowser)) }
                        p.meta { (lang.t(Text::OrderInBrowserHelp)) }
                        (order_fields(lang, offer))
                    }
                    p.meta #order-unavailable { (lang.t(Text::NeedsScript)) }
                    details {
                        summary { (lang.t(Text::OrderWithCli)) }
                        pre { code { (order_command) } }
                        button.copy type="button" data-copy=(order_command) data-done=(lang.t(Text::Copied)) { (lang.t(Text::Copy)) }
                    }
                }
            }
            section {
                h2 { (lang.t(Text::Files)) }
                @if !open { p.meta { (lang.t(Text::LicensedNoDownload)) } }
                div.scroll { table.files {
                    thead { tr { th { (lang.t(Text::File)) } th { (lang.t(Text::Format)) } th { (lang.t(Text::Size)) } th { "SHA-256" } @if open { th { (lang.t(Text::Download)) } } } }
                    tbody { @for file in &shown.files {
                        tr {
                            td { (file.name) }
                            td data-label=(lang.t(Text::Format)) { (file.media_type.format_name()) }
                            td data-label=(lang.t(Text::Size)) { (human_size(file.size)) }
                            td data-label="SHA-256" { span.hash { (file.sha256) } " "
                                button.copy type="button" data-copy=(file.sha256) data-done=(lang.t(Text::Copied))
                                    aria-label={ (lang.t(Text::Copy)) " SHA-256 " (file.name) } { (lang.t(Text::Copy)) } }
                            @if open { td { a.button href=(file_url(&ctx.node.public_url, id, shown.entry.version, &file.name)) download=(file.name.base_name()) { (lang.t(Text::Download)) } } }
                        }
                    } }
                } }
            }
            @for (name, schema, rows) in &table_views {
                section {
                    h2 { (lang.t(Text::Schema)) ": " (name) }
                    p.meta { (schema.profile.rows) " " (lang.t(Text::Rows)) }
                    div.scroll { table {
                        thead { tr { th { (lang.t(Text::Column)) } th { (lang.t(Text::Type)) } th { (lang.t(Text::Nulls)) } th { (lang.t(Text::Min)) } th { (lang.t(Text::Max)) } } }
                        tbody { @for column in &schema.profile.columns {
                            tr { td { (column.name) } td { code { (column.data_type) } }
                                td { @if let Some(n) = column.null_count { (n) } }
                                td { @if let Some(v) = &column.min { (cell(v)) } }
                                td { @if let Some(v) = &column.max { (cell(v)) } } }
                        } }
                    } }
                    h3 { (lang.t(Text::Preview)) }
                    @match rows {
                        Some(rows) => {
                            p.meta { (rows.rows.len()) " " (lang.t(Text::PreviewRows)) " " (rows.total_rows) }
                            div.scroll { table.preview {
                                thead { tr { @for column in &rows.columns { th scope="col" { (column.name) } } } }
                                tbody { @for row in &rows.rows { tr { @for value in row { td { (cell(value)) } } } } }
                            } }
                        }
                        None => { p.meta { (lang.t(Text::NoPreview)) } }
                    }
                }
            }
            section {
                h2 { (lang.t(Text::Versions)) }
                ul { @for entry in &detail.versions {
                    li { a href={ "/datasets/" (id) "?version=" (entry.version) } { (lang.t(Text::Version)) " " (entry.version) }
                        " · " (entry.published_at.format("%Y-%m-%d")) " " (access_badge(lang, entry.access)) }
                } }
            }
        }
    };
    let structured = interop::schema_org_dataset(ctx, &detail.dataset, &shown).await?;
    let head = html! {
        link rel="alternate" type="application/ld+json" title="DCAT" href={ "/api/v1/datasets/" (id) "/dcat.jsonld" };
        link rel="alternate" type="application/json" title="Data Package"
            href={ "/api/v1/datasets/" (id) "/versions/" (shown.entry.version) "/datapackage.json" };
        script type="application/ld+json" { (data_block(&structured)?) }
        @if metadata.offer.is_some() { (market_head(lang)?) }
    };
    Ok(layout_with_head(
        lang,
        metadata.title.preferred(lang.english()),
        head,
        body,
    ))
}

/// A JSON value as a table cell shows it.
fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A publisher's newest datasets (a page of them) and how many it has.
pub(super) async fn publisher_datasets(ctx: &Context, publisher: &PublisherId) -> Result<search::SearchPage, AppError> {
    search::find(
        ctx,
        SearchRequest {
            filters: vec![SearchFilter::facet(Facet::Publisher, publisher.to_string())],
            order: Some(SearchOrder::Newest),
            limit: Some(search::MAX_PAGE_SIZE),
            ..SearchRequest::default()
        },
    )
    .await
}

/// A publisher's datasets.
pub async fn publisher(ctx: &Context, lang: Lang, publisher: &PublisherId) -> Result<Markup, AppError> {
    let page = publisher_datasets(ctx, publisher).await?;
    if page.total == 0 {
        return Err(AppError::NotFound(format!("no publisher {publisher}")));
    }
    let body = html! {
        h1 { (publisher) " " (lang.t(Text::DatasetsOf)) }
        p.meta { (page.total) " " (lang.t(Text::Datasets)) }
        @for item in &page.items { (dataset_card(lang, item)) }
    };
    Ok(layout(lang, publisher.as_str(), body))
}

/// The node: its identity, latest checkpoint and machine-readable endpoints.
pub async fn node(ctx: &Context, lang: Lang) -> Result<Markup, AppError> {
    let checkpoint = transparency::checkpoint(ctx).await?;
    let peers = network::peers(ctx).await?;
    let conflicts = witness::conflicts(ctx).await?;
    let when = |time: Option<chrono::DateTime<chrono::Utc>>| match time {
        Some(time) => time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => lang.t(Text::Never).to_owned(),
    };
    let public = ctx.node.key.public();
    let base = &ctx.node.public_url;
    let links = [
        ("OpenAPI", format!("{base}/api/v1/openapi.json")),
        ("DCAT (JSON-LD)", format!("{base}/catalog.jsonld")),
        ("CKAN API", format!("{base}/api/3/action/status_show")),
        (lang.t(Text::OpenProfile), format!("{base}/delta-sharing/open.share")),
        ("/.well-known/shulian-node", format!("{base}/.well-known/shulian-node")),
    ];
    let body = html! {
        h1 { (ctx.node.name) }
        section.card {
            h2 { (lang.t(Text::NodeIdentity)) }
            dl {
                dt { "DID" } dd { code { (public.did()) } }
                dt { (lang.t(Text::PublicKey)) } dd { code { (public.multibase()) } }
                dt { (lang.t(Text::WitnessKey)) } dd { code #witness-key { (witness::cosigner_key(&public)) } }
            }
        }
        section.card {
            h2 { (lang.t(Text::Checkpoint)) }
            pre { (checkpoint) }
        }
        section.card #peers {
            h2 { (lang.t(Text::Peers)) }
            @if peers.is_empty() {
                p { (lang.t(Text::NoPeers)) }
            } @else {
                table {
                    thead { tr {
                        th { (lang.t(Text::Node)) } th { (lang.t(Text::PinnedKey)) } th { (lang.t(Text::LastSeen)) }
                        th { (lang.t(Text::LastHarvested)) } th { (lang.t(Text::WitnessesUs)) } th { (lang.t(Text::LastError)) }
                    } }
                    tbody { @for peer in &peers { tr {
                        td { a href=(peer.url) { (peer.name) } br; small { (peer.url) } }
                        td { code { (peer.did) } }
                        td { (when(peer.last_seen_at)) }
                        td { (when(peer.last_harvested_at)) }
                        td { @if peer.witnesses_us { "✓" } }
                        td.error { @if let Some(error) = &peer.last_error { (error) " (" (when(peer.last_error_at)) ")" } }
                    } } }
                }
            }
        }
        @if !conflicts.is_empty() {
            section.card #witness-conflicts {
                h2 { (lang.t(Text::WitnessConflicts)) }
                p.meta { (lang.t(Text::WitnessConflictsHelp)) }
                @for conflict in &conflicts {
                    article {
                        p { code { (conflict.origin) } " · " (conflict.reason) " (" (when(Some(conflict.recorded_at))) ")" }
                        pre { (conflict.accepted) }
                        pre { (conflict.conflicting) }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.t(Text::MachineReadable)) }
            ul { @for (label, url) in &links { li { a href=(url) { (label) } } } }
        }
    };
    Ok(layout(lang, lang.t(Text::Node), body))
}

/// The buyer's orders placed in this browser: the page is a shell the market's script fills
/// from the browser's own storage (the node keeps no list of a buyer's orders for a page).
pub fn orders(lang: Lang) -> Result<Markup, AppError> {
    let body = html! {
        h1 { (lang.t(Text::MyOrders)) }
        p.meta { (lang.t(Text::OrdersHelp)) }
        p.meta #order-unavailable { (lang.t(Text::NeedsScript)) }
        section.card #buyer-key {
            h2 { (lang.t(Text::BuyerKey)) }
            p { code #buyer-did {} }
            p.meta { (lang.t(Text::BuyerKeyHelp)) }
            p {
                button #save-key type="button" disabled { (lang.t(Text::SaveKey)) } " "
                // The input first: its focus ring is drawn on the label that stands for it.
                input.visually-hidden #import-key type="file" accept="application/json,.json";
                label.button for="import-key" { (lang.t(Text::ImportKey)) }
            }
            p #key-status role="status" aria-live="polite" {}
        }
        p.empty #no-orders hidden { (lang.t(Text::NoOrders)) }
        div #orders aria-live="polite" {}
    };
    Ok(layout_with_head(lang, lang.t(Text::MyOrders), market_head(lang)?, body))
}

/// The page for an address that names nothing.
pub fn not_found(lang: Lang) -> Markup {
    let body = html! {
        h1 { (lang.t(Text::NotFound)) }
        p { (lang.t(Text::NotFoundHelp)) }
        (search_box(lang, ""))
    };
    layout(lang, lang.t(Text::NotFound), body)
}

/// The page for a request that failed.
pub fn failure(lang: Lang, status: StatusCode) -> Markup {
    let body = html! {
        h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or_default()) }
        (search_box(lang, ""))
    };
    layout(lang, status.canonical_reason().unwrap_or_default(), body)
}
