//! Catalog search: text analysis ([`analysis`]) and the embedded search engine
//! ([`index`]) each replica keeps of the catalog, fed from the database.

pub mod analysis;
pub mod index;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use analysis::{Field, QueryError, QueryTerm, query_terms};

use crate::domain::{DatasetId, Facet};

/// What a dataset is found by: its pieces of text, each in its field, and its facet
/// values. Computed when a version is published and stored with the dataset, so an
/// index is rebuilt from the database alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchDocument {
    /// Text and the field it sits in.
    pub texts: Vec<(Field, String)>,
    /// The dataset's value of each facet (several keywords and formats).
    pub facets: Vec<(Facet, String)>,
}

/// What the search index holds an entry for: a dataset of the catalog, a demand on the
/// board, or a dataset harvested from a peer. The index and the search feed name it by
/// [`SearchKey::text`]: a dataset by its id, a demand by `demand:` and its id, a peer's
/// dataset by `peer:<dataset>@<peer URL>` (a dataset id never holds `:` or `@`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SearchKey {
    /// A dataset.
    Dataset(DatasetId),
    /// A demand (or challenge) on the board, by its id.
    Demand(String),
    /// A dataset a peer holds, as harvested from it.
    Peer {
        /// The peer's base URL.
        url: String,
        /// The dataset, as the peer names it.
        dataset: DatasetId,
    },
}

/// How the index and the feed write a demand's key.
const DEMAND_KEY_PREFIX: &str = "demand:";

/// How the index and the feed write a peer's dataset's key.
const PEER_KEY_PREFIX: &str = "peer:";

impl SearchKey {
    /// The key as the index and the search feed hold it.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::Dataset(id) => id.as_str().into(),
            Self::Demand(id) => format!("{DEMAND_KEY_PREFIX}{id}").into(),
            Self::Peer { url, dataset } => format!("{PEER_KEY_PREFIX}{dataset}@{url}").into(),
        }
    }

    /// The dataset of this catalog, when the key is one.
    pub fn dataset(&self) -> Option<&DatasetId> {
        match self {
            Self::Dataset(id) => Some(id),
            Self::Demand(_) | Self::Peer { .. } => None,
        }
    }
}

impl std::str::FromStr for SearchKey {
    type Err = crate::domain::IdError;

    /// The key a text written by [`SearchKey::text`] stands for.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(id) = text.strip_prefix(DEMAND_KEY_PREFIX) {
            return Ok(Self::Demand(id.to_owned()));
        }
        match text.strip_prefix(PEER_KEY_PREFIX).and_then(|rest| rest.split_once('@')) {
            Some((dataset, url)) => Ok(Self::Peer {
                url: url.to_owned(),
                dataset: dataset.parse()?,
            }),
            None => text.parse().map(Self::Dataset),
        }
    }
}

/// What a demand on the board is found by: its title, description and the fields it
/// wants (as a dataset's title, description and columns), and its kind.
pub fn demand_document(kind: &str, demand: &serde_json::Value) -> SearchDocument {
    let localized = |field: &str| {
        ["zh", "en"]
            .into_iter()
            .filter_map(|lang| demand[field][lang].as_str())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let wanted = serde_json::from_value::<crate::domain::demand::Wanted>(demand["wanted"].clone())
        .map(|wanted| wanted.names())
        .unwrap_or_default();
    let texts = (localized("title").into_iter().map(|text| (Field::Title, text)))
        .chain(
            localized("description")
                .into_iter()
                .map(|text| (Field::Description, text)),
        )
        .chain(wanted.into_iter().map(|field| (Field::Column, field)))
        .collect();
    SearchDocument {
        texts,
        facets: vec![(Facet::Kind, kind.to_owned())],
    }
}

/// What a dataset version is found by: its id, title, description and keywords, its
/// publishers' names, its tables' columns, and its facets (access, licence, formats,
/// keywords). The node adds its publisher; a peer's dataset its holder and kind.
pub fn dataset_document(
    dataset: &DatasetId,
    metadata: &crate::domain::DatasetMetadata,
    publishers: Vec<String>,
    formats: Vec<String>,
    columns: Vec<String>,
) -> SearchDocument {
    let mut texts: Vec<(Field, String)> = vec![(Field::Keyword, dataset.as_str().replace('-', " "))];
    for text in [&metadata.title.zh, &metadata.title.en].into_iter().flatten() {
        texts.push((Field::Title, text.clone()));
    }
    for text in [&metadata.description.zh, &metadata.description.en]
        .into_iter()
        .flatten()
    {
        texts.push((Field::Description, text.clone()));
    }
    texts.extend(
        metadata
            .keywords
            .iter()
            .map(|keyword| (Field::Keyword, keyword.clone())),
    );
    texts.extend(publishers.into_iter().map(|name| (Field::Publisher, name)));
    texts.extend(columns.into_iter().map(|column| (Field::Column, column)));
    let mut facets = vec![
        (Facet::Access, metadata.access.as_str().to_owned()),
        (Facet::License, metadata.license.id.clone()),
    ];
    facets.extend(formats.into_iter().map(|format| (Facet::Format, format)));
    facets.extend(
        metadata
            .keywords
            .iter()
            .map(|keyword| (Facet::Keyword, keyword.clone())),
    );
    SearchDocument { texts, facets }
}

/// What a dataset held at a peer is found by: as a dataset of this catalog (its publisher
/// named by the peer's name), of kind `peer-dataset`, its node facet the peer's prefix.
pub fn peer_dataset_document(
    dataset: &DatasetId,
    metadata: &crate::domain::DatasetMetadata,
    formats: Vec<String>,
    peer_name: &str,
    peer_prefix: &str,
) -> SearchDocument {
    let mut document = dataset_document(dataset, metadata, vec![peer_name.to_owned()], formats, Vec::new());
    document
        .facets
        .push((Facet::Kind, crate::domain::PEER_DATASET_KIND.to_owned()));
    document.facets.push((Facet::Node, peer_prefix.to_owned()));
    document.facets.sort();
    document.facets.dedup();
    document
}

/// A dataset or a demand as the search index holds it.
#[derive(Clone, Debug)]
pub struct IndexedItem {
    /// What it is.
    pub key: SearchKey,
    /// What it is found by.
    pub document: SearchDocument,
    /// Its completed open downloads (a demand has none).
    pub downloads: u64,
    /// When its first version was published, or the demand posted.
    pub created_at: DateTime<Utc>,
    /// When its newest version was published, or the demand posted.
    pub updated_at: DateTime<Utc>,
}

/// One entry of the search feed: an item changed (a dataset published or downloaded, a
/// demand posted) and how it now is.
#[derive(Clone, Debug)]
pub struct SearchChange {
    /// The change's place in the feed.
    pub sequence: u64,
    /// The item changed.
    pub key: SearchKey,
    /// The item now; `None` when it is gone.
    pub item: Option<IndexedItem>,
}
