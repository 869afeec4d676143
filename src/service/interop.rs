//! Descriptions in the catalog standards harvesters and data tools read:
//! W3C DCAT (as JSON-LD) for the catalog and each dataset, and a Frictionless
//! Data Package (`datapackage.json`) for each version.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::Context;
use super::catalog::{self, DatasetView, VersionDetail, file_url, manifest_metadata, not_found, publishers_by_id};
use super::network;
use super::search::{self, SearchRequest};
use super::tables::{inspection, table_format};
use crate::domain::SearchOrder;
use crate::domain::{AccessClass, DatasetId, FileEntry, ResourceName, VersionNumber};
use crate::error::AppError;
use crate::store::{PeerCatalogEntry, VersionRecord};

/// Datasets per page of `/catalog.jsonld`.
pub const CATALOG_PAGE_SIZE: u32 = 100;

/// Where `/catalog.jsonld` is served.
pub const CATALOG_PATH: &str = "/catalog.jsonld";

/// Where the catalog of the peers' datasets this node harvested is served.
pub const PEER_CATALOG_PATH: &str = "/peers/catalog.jsonld";

/// The EU Publications Office's authority tables (file types, access rights).
const EU_AUTHORITY: &str = "http://publications.europa.eu/resource/authority";

fn context() -> Value {
    json!({
        "dcat": "http://www.w3.org/ns/dcat#",
        "dct": "http://purl.org/dc/terms/",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "spdx": "http://spdx.org/rdf/terms#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "hydra": "http://www.w3.org/ns/hydra/core#",
    })
}

/// Where a page of `/catalog.jsonld` starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogPosition {
    /// Page N (from 1) by offset: reading it costs what the pages before it would.
    Page(u32),
    /// After the item a `cursor` (from a previous page's `hydra:next`) names: reading it
    /// costs one page whatever its depth, so a crawl following `hydra:next` is linear.
    After(String),
}

/// A page of the whole catalog as a `dcat:Catalog`, with hydra paging links; `hydra:next`
/// always continues by cursor.
pub async fn dcat_catalog(ctx: &Context, position: CatalogPosition) -> Result<Value, AppError> {
    let (offset, cursor) = match &position {
        CatalogPosition::Page(0) => return Err(AppError::InvalidRequest("page: pages count from 1".into())),
        CatalogPosition::Page(page) => (
            (page - 1)
                .checked_mul(CATALOG_PAGE_SIZE)
                .ok_or_else(|| AppError::InvalidRequest("page: too large".into()))?,
            None,
        ),
        CatalogPosition::After(cursor) => (0, Some(cursor.clone())),
    };
    let found = search::find(
        ctx,
        SearchRequest {
            order: Some(SearchOrder::Name),
            limit: Some(CATALOG_PAGE_SIZE),
            offset,
            cursor,
            ..SearchRequest::default()
        },
    )
    .await?;
    let publishers = publishers_by_id(ctx).await?;
    let mut datasets = Vec::with_capacity(found.items.len());
    for item in &found.items {
        let name = publishers
            .get(&item.publisher)
            .map_or("", |publisher| publisher.name.as_str());
        datasets.push(dcat_dataset_node(ctx, item, name).await?);
    }
    let base = format!("{}{CATALOG_PATH}", ctx.node.public_url);
    let last = found.total.div_ceil(u64::from(CATALOG_PAGE_SIZE)).max(1);
    let this = match &position {
        CatalogPosition::Page(page) => format!("{base}?page={page}"),
        CatalogPosition::After(cursor) => format!("{base}?cursor={cursor}"),
    };
    let mut view = json!({
        "@id": this,
        "@type": "hydra:PartialCollectionView",
        "hydra:first": {"@id": format!("{base}?page=1")},
        "hydra:last": {"@id": format!("{base}?page={last}")},
    });
    if let Some(next) = &found.next_cursor {
        view["hydra:next"] = json!({"@id": format!("{base}?cursor={next}")});
    }
    if let CatalogPosition::Page(page) = position
        && page > 1
    {
        view["hydra:previous"] = json!({"@id": format!("{base}?page={}", page - 1)});
    }
    let mut catalog = json!({
        "@context": context(),
        "@id": base,
        "@type": ["dcat:Catalog", "hydra:Collection"],
        "dct:title": ctx.node.name,
        "dct:description": "数联网 node catalog (shulian)",
        "foaf:homepage": {"@id": ctx.node.public_url, "@type": "foaf:Document"},
        "dct:publisher": node_agent(ctx),
        "hydra:totalItems": found.total,
        "hydra:view": view,
        "dcat:dataset": datasets,
    });
    // The datasets harvested from peers are a catalogue of their own: a harvester that
    // follows it finds each described as its origin describes it, and where it is held.
    if !ctx.store.peers().await?.is_empty() {
        catalog["dcat:catalog"] = json!([peer_catalog_head(ctx)]);
    }
    Ok(catalog)
}

/// This node as the `foaf:Agent` publishing its catalogues.
fn node_agent(ctx: &Context) -> Value {
    json!({
        "@id": format!("{}/.well-known/shulian-node", ctx.node.public_url),
        "@type": "foaf:Agent",
        "foaf:name": ctx.node.name,
    })
}

/// The catalogue of the peers' datasets, as a catalogue names it.
fn peer_catalog_head(ctx: &Context) -> Value {
    json!({
        "@id": format!("{}{PEER_CATALOG_PATH}", ctx.node.public_url),
        "@type": "dcat:Catalog",
        "dct:title": format!("{}: datasets at peer nodes", ctx.node.name),
        "dct:description": "Datasets this 数联网 node harvested from its peers, each verified (its manifest signed by \
                            the peer's key and included in the peer's log); downloaded and ordered at the peer that holds it.",
        "dct:publisher": node_agent(ctx),
    })
}

/// A page of the catalogue of the datasets harvested from peers (by (peer, dataset) after
/// `cursor`), each a `dcat:Dataset` under its origin's IRI, published by the peer and
/// landing at the peer's page; `hydra:next` continues by cursor.
pub async fn dcat_peer_catalog(ctx: &Context, cursor: Option<&str>) -> Result<Value, AppError> {
    let after = cursor.map(decode_peer_cursor).transpose()?;
    let entries = ctx
        .store
        .peer_catalog(
            after.as_ref().map(|(url, dataset)| (url.as_str(), dataset)),
            CATALOG_PAGE_SIZE,
        )
        .await?;
    let peers = network::peers_by_url(ctx).await?;
    let datasets: Vec<Value> = entries
        .iter()
        .filter_map(|entry| {
            let peer = peers.get(&entry.peer_url)?;
            let metadata: crate::domain::DatasetMetadata = serde_json::from_str(&entry.metadata).ok()?;
            Some(peer_dataset_node(peer, entry, &metadata))
        })
        .collect();
    let base = format!("{}{PEER_CATALOG_PATH}", ctx.node.public_url);
    let mut view = json!({
        "@id": cursor.map_or_else(|| base.clone(), |cursor| format!("{base}?cursor={cursor}")),
        "@type": "hydra:PartialCollectionView",
        "hydra:first": {"@id": base},
    });
    if entries.len() == CATALOG_PAGE_SIZE as usize
        && let Some(last) = entries.last()
    {
        let next = URL_SAFE_NO_PAD.encode(json!([last.peer_url, last.version.dataset]).to_string());
        view["hydra:next"] = json!({"@id": format!("{base}?cursor={next}")});
    }
    let mut catalog = peer_catalog_head(ctx);
    catalog["@context"] = context();
    catalog["@type"] = json!(["dcat:Catalog", "hydra:Collection"]);
    catalog["hydra:view"] = view;
    catalog["dcat:dataset"] = json!(datasets);
    Ok(catalog)
}

fn decode_peer_cursor(cursor: &str) -> Result<(String, DatasetId), AppError> {
    let refused = || AppError::InvalidRequest("cursor: not one this catalogue gave".into());
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| refused())?;
    let (url, dataset): (String, String) = serde_json::from_slice(&text).map_err(|_| refused())?;
    Ok((url, dataset.parse().map_err(|_| refused())?))
}

/// A peer's dataset as a DCAT node: its origin's IRI and description, its holder.
fn peer_dataset_node(
    peer: &crate::domain::node::Peer,
    entry: &PeerCatalogEntry,
    metadata: &crate::domain::DatasetMetadata,
) -> Value {
    let (url, version) = (&entry.peer_url, &entry.version);
    let dataset = &version.dataset;
    let iri = format!("{url}/api/v1/datasets/{dataset}");
    let identifier = peer.identifier(dataset, None).unwrap_or_else(|| dataset.to_string());
    json!({
        "@id": iri,
        "@type": "dcat:Dataset",
        "dct:identifier": identifier,
        "dct:title": localized(&metadata.title.zh, &metadata.title.en),
        "dct:description": localized(&metadata.description.zh, &metadata.description.en),
        "dcat:keyword": metadata.keywords,
        "dct:publisher": {
            "@id": format!("{url}/.well-known/shulian-node"),
            "@type": "foaf:Agent",
            "foaf:name": peer.name,
        },
        "dct:license": {"@id": license_iri(metadata, &iri), "@type": "dct:LicenseDocument"},
        "dct:accessRights": access_rights(metadata.access),
        "dct:modified": {"@value": version.published_at.to_rfc3339(), "@type": "xsd:dateTime"},
        "dcat:version": version.version.get().to_string(),
        "dcat:landingPage": {"@id": peer.dataset_page(dataset), "@type": "foaf:Document"},
    })
}

/// One dataset as a DCAT JSON-LD document.
pub async fn dcat_dataset(ctx: &Context, dataset: &DatasetId) -> Result<Value, AppError> {
    let (summary, publisher) = catalog::dataset_and_publisher(ctx, dataset).await?;
    let mut node = dcat_dataset_node(ctx, &summary, &publisher.name).await?;
    if let Value::Object(object) = &mut node {
        object.insert("@context".into(), context());
    }
    Ok(node)
}

/// A dataset's DCAT node: its newest version's metadata and files.
async fn dcat_dataset_node(ctx: &Context, summary: &DatasetView, publisher_name: &str) -> Result<Value, AppError> {
    let dataset = &summary.id;
    let record = catalog::described_version(ctx, summary).await?;
    let metadata = &summary.metadata;
    let landing = format!("{}/api/v1/datasets/{dataset}", ctx.node.public_url);
    let distributions: Vec<Value> = record
        .files
        .iter()
        .map(|file| distribution(ctx, summary, file))
        .collect();
    Ok(json!({
        "@id": landing,
        "@type": "dcat:Dataset",
        "dct:identifier": dataset,
        "dct:title": localized(&metadata.title.zh, &metadata.title.en),
        "dct:description": localized(&metadata.description.zh, &metadata.description.en),
        "dcat:keyword": metadata.keywords,
        "dct:publisher": {
            "@id": format!("{}/api/3/action/organization_show?id={}", ctx.node.public_url, summary.publisher),
            "@type": ["foaf:Agent", "foaf:Organization"],
            "foaf:name": publisher_name,
        },
        "dct:license": {"@id": license_iri(metadata, &landing), "@type": "dct:LicenseDocument"},
        "dct:accessRights": access_rights(metadata.access),
        "dct:issued": {"@value": summary.created_at.to_rfc3339(), "@type": "xsd:dateTime"},
        "dct:modified": {"@value": summary.updated_at.to_rfc3339(), "@type": "xsd:dateTime"},
        "dcat:version": summary.latest_version.get().to_string(),
        "dcat:landingPage": {"@id": landing, "@type": "foaf:Document"},
        "dcat:distribution": distributions,
    }))
}

/// A dataset's licence as an IRI: its web page, the dataset's own `#license` for a
/// `LicenseRef-` licence, else its SPDX page.
fn license_iri(metadata: &crate::domain::DatasetMetadata, dataset_iri: &str) -> String {
    match metadata.license.web_url() {
        Some(url) => url.to_owned(),
        None if metadata.license.id.starts_with("LicenseRef-") => format!("{dataset_iri}#license"),
        None => format!("https://spdx.org/licenses/{}", metadata.license.id),
    }
}

/// The EU access-right vocabulary: open data is PUBLIC, licensed data RESTRICTED (ordered
/// under a signed agreement, as the landing page explains).
fn access_rights(access: AccessClass) -> Value {
    let right = match access {
        AccessClass::Open => "PUBLIC",
        AccessClass::Licensed => "RESTRICTED",
    };
    json!({
        "@id": format!("{EU_AUTHORITY}/access-right/{right}"),
        "@type": "dct:RightsStatement",
    })
}

fn localized(zh: &Option<String>, en: &Option<String>) -> Vec<Value> {
    [(zh, "zh"), (en, "en")]
        .into_iter()
        .filter_map(|(text, language)| text.as_ref().map(|text| json!({"@value": text, "@language": language})))
        .collect()
}

fn distribution(ctx: &Context, summary: &DatasetView, file: &FileEntry) -> Value {
    let url = file_url(&ctx.node.public_url, &summary.id, summary.latest_version, &file.name);
    let mut node = json!({
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": file.name,
        "dcat:accessURL": {"@id": url},
        "dcat:mediaType": {
            "@id": format!("https://www.iana.org/assignments/media-types/{}", file.media_type.as_str()),
            "@type": "dct:MediaType",
        },
        "dct:format": {
            "@id": format!("{EU_AUTHORITY}/file-type/{}", file.media_type.format_name().to_uppercase()),
            "@type": "dct:MediaTypeOrExtent",
        },
        "dcat:byteSize": {"@value": file.size.to_string(), "@type": "xsd:nonNegativeInteger"},
        // A stable id: the same file in several documents stays one checksum once merged.
        "spdx:checksum": {
            "@id": format!("{url}#sha256"),
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256", "@type": "spdx:ChecksumAlgorithm"},
            "spdx:checksumValue": {"@value": file.sha256.to_string(), "@type": "xsd:hexBinary"},
        },
    });
    if summary.metadata.access == AccessClass::Open {
        node["dcat:downloadURL"] = json!({"@id": url});
    }
    node
}

/// A dataset version as a schema.org `Dataset` (JSON-LD), as web pages embed it for the
/// dataset search of web search engines.
pub async fn schema_org_dataset(
    ctx: &Context,
    dataset: &DatasetView,
    version: &VersionDetail,
) -> Result<Value, AppError> {
    let publisher = ctx.store.publisher(&dataset.publisher).await?;
    let metadata = &dataset.metadata;
    let id = &dataset.id;
    let name = metadata
        .title
        .preferred_text(false)
        .map_or_else(|| id.to_string(), str::to_owned);
    let description = metadata.description.joined();
    let license = match metadata.license.web_url() {
        Some(url) => url.to_owned(),
        None => format!("https://spdx.org/licenses/{}", metadata.license.id),
    };
    let distribution: Vec<Value> = version
        .files
        .iter()
        .filter(|file| file.derived_from.is_none())
        .map(|file| {
            let mut download = json!({
                "@type": "DataDownload",
                "name": file.name,
                "encodingFormat": file.media_type.as_str(),
                "contentSize": format!("{} B", file.size),
                "sha256": file.sha256.to_string(),
            });
            // Licensed files are ordered, not downloaded: like DCAT, name no download URL.
            if metadata.access == AccessClass::Open {
                download["contentUrl"] = json!(file_url(&ctx.node.public_url, id, version.entry.version, &file.name));
            }
            download
        })
        .collect();
    Ok(json!({
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": format!("{}/datasets/{id}", ctx.node.public_url),
        "url": format!("{}/datasets/{id}", ctx.node.public_url),
        "identifier": id,
        "name": name,
        "description": description,
        "keywords": metadata.keywords,
        "license": license,
        "version": version.entry.version.get().to_string(),
        "datePublished": dataset.created_at.to_rfc3339(),
        "dateModified": version.entry.published_at.to_rfc3339(),
        "isAccessibleForFree": metadata.access == AccessClass::Open,
        "creator": {"@type": "Organization", "name": publisher.name, "identifier": publisher.id},
        "publisher": {"@type": "Organization", "name": ctx.node.name, "url": ctx.node.public_url},
        "distribution": distribution,
    }))
}

/// A version as a Frictionless Data Package: remote resource paths with
/// their sha256 and, for tables, a Table Schema; the `shulian` section
/// carries what `shulian publish` needs to publish it again elsewhere.
/// Parquet copies the node derived are left out: a node derives its own.
pub async fn datapackage(
    ctx: &Context,
    dataset: &DatasetId,
    version: Option<VersionNumber>,
) -> Result<Value, AppError> {
    let record: VersionRecord = ctx
        .store
        .get_version(dataset, version)
        .await
        .map_err(|e| not_found(e, dataset))?;
    let metadata = manifest_metadata(&record)?;
    let published = record.files.iter().filter(|file| file.derived_from.is_none());
    let given: HashSet<&str> = published
        .clone()
        .filter_map(|file| file.resource.as_ref())
        .map(ResourceName::as_str)
        .collect();
    let mut resources = Vec::new();
    for file in published {
        // The publisher's own name when its descriptor gave one; else one made from the
        // file's name, distinct from every name given.
        let name = match &file.resource {
            Some(given) => given.to_string(),
            None => resource_name(&file.name.to_string(), resources.len(), &given),
        };
        let mut resource = json!({
            "name": name,
            "path": file_url(&ctx.node.public_url, dataset, record.summary.version, &file.name),
            "filename": file.name,
            "format": file.media_type.format_name().to_lowercase(),
            "mediatype": file.media_type.as_str(),
            "bytes": file.size,
            "hash": format!("sha256:{}", file.sha256),
        });
        if let Some(format) = table_format(&file.media_type)
            && let Ok(profile) = inspection(ctx, &file.sha256, format).await?
        {
            let fields: Vec<Value> = profile
                .columns
                .iter()
                .map(|column| {
                    let (kind, format) = frictionless_type(&column.data_type);
                    let mut field = json!({"name": column.name, "type": kind});
                    if let Some(format) = format {
                        field["format"] = json!(format);
                    }
                    field
                })
                .collect();
            resource["schema"] = json!({"fields": fields});
            if let Some(csv) = &profile.csv {
                resource["dialect"] = json!({"delimiter": csv.delimiter, "header": true});
            }
        }
        resources.push(resource);
    }
    let mut licenses = Map::new();
    licenses.insert("name".into(), json!(metadata.license.id));
    if let Some(title) = &metadata.license.title {
        licenses.insert("title".into(), json!(title));
    }
    if let Some(url) = metadata.license.web_url() {
        licenses.insert("path".into(), json!(url));
    }
    Ok(json!({
        "name": dataset,
        "title": metadata.title.preferred_text(false),
        "description": metadata.description.preferred_text(false),
        "version": record.summary.version.get().to_string(),
        "keywords": metadata.keywords,
        "licenses": [licenses],
        "created": record.summary.published_at.to_rfc3339(),
        "resources": resources,
        "shulian": {
            "access": metadata.access,
            "title": metadata.title,
            "description": metadata.description,
            "offer": metadata.offer,
        },
    }))
}

/// A Frictionless resource name (lower-case letters, digits, `.`, `_`, `-`) for a file,
/// unique by position and distinct from the names the publisher `given`.
fn resource_name(file: &str, position: usize, given: &HashSet<&str>) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned();
    let stem = if cleaned.is_empty() {
        "resource".to_owned()
    } else {
        cleaned
    };
    let mut name = format!("{stem}-{}", position + 1);
    while given.contains(name.as_str()) {
        name.push_str("-file");
    }
    name
}

/// A column type as a Table Schema type (and format).
fn frictionless_type(spark: &str) -> (&'static str, Option<&'static str>) {
    match spark {
        "byte" | "short" | "integer" | "long" => ("integer", None),
        "float" | "double" => ("number", None),
        "boolean" => ("boolean", None),
        "date" => ("date", None),
        // CSV timestamps come as `2024-01-01 08:00:00` as often as ISO 8601.
        "timestamp" => ("datetime", Some("any")),
        "string" => ("string", None),
        "binary" => ("string", Some("binary")),
        other if other.starts_with("decimal") => ("number", None),
        other if other.starts_with("array") => ("array", None),
        other if other.starts_with("struct") || other.starts_with("map") => ("object", None),
        _ => ("any", None),
    }
}
