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

/// A dataset as the search index holds it.
#[derive(Clone, Debug)]
pub struct IndexedDataset {
    /// Its id.
    pub id: DatasetId,
    /// What it is found by.
    pub document: SearchDocument,
    /// Its completed open downloads.
    pub downloads: u64,
    /// When its first version was published.
    pub created_at: DateTime<Utc>,
    /// When its newest version was published.
    pub updated_at: DateTime<Utc>,
}

/// One entry of the search feed: a dataset changed (published, downloaded) and how it now is.
#[derive(Clone, Debug)]
pub struct SearchChange {
    /// The change's place in the feed.
    pub sequence: u64,
    /// The dataset changed.
    pub id: DatasetId,
    /// The dataset now; `None` when it is gone.
    pub dataset: Option<IndexedDataset>,
}
