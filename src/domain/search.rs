//! The catalog's search vocabulary, shared by the node, its protocols and its clients.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the catalog can be narrowed by and counted by: each dataset carries values of
/// each facet (one access class and publisher, its licence, its files' formats, its
/// keywords).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facet {
    /// `open` or `licensed`.
    Access,
    /// The publisher's id.
    Publisher,
    /// The licence id.
    License,
    /// A file format (`CSV`, `Parquet`, …).
    Format,
    /// A keyword.
    Keyword,
    /// What the item is: `dataset`, a dataset held at a peer (`peer-dataset`), or a demand
    /// on the board (`demand`, `challenge`).
    Kind,
    /// The identifier prefix of the peer node that holds a peer's dataset.
    Node,
}

/// The [`Facet::Kind`] of a dataset (demands carry their own kind's name).
pub const DATASET_KIND: &str = "dataset";

/// The [`Facet::Kind`] of a dataset harvested from a peer node.
pub const PEER_DATASET_KIND: &str = "peer-dataset";

impl Facet {
    /// Every facet, in the order pages and answers list them.
    pub const ALL: [Facet; 7] = [
        Self::Access,
        Self::Publisher,
        Self::License,
        Self::Format,
        Self::Keyword,
        Self::Kind,
        Self::Node,
    ];

    /// The facet's name as stored and served.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Publisher => "publisher",
            Self::License => "license",
            Self::Format => "format",
            Self::Keyword => "keyword",
            Self::Kind => "kind",
            Self::Node => "node",
        }
    }
}

impl fmt::Display for Facet {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name that is not one of the facets.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a facet (access, publisher, license, format, keyword, kind, node)")]
pub struct UnknownFacet(pub String);

impl FromStr for Facet {
    type Err = UnknownFacet;

    fn from_str(name: &str) -> Result<Self, UnknownFacet> {
        Self::ALL
            .into_iter()
            .find(|facet| facet.as_str() == name)
            .ok_or_else(|| UnknownFacet(name.to_owned()))
    }
}

/// How search results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchOrder {
    /// By id (the default without a query).
    #[default]
    Name,
    /// Best match first.
    Relevance,
    /// Most recently updated first.
    Newest,
    /// Most downloaded first.
    Downloads,
}

impl SearchOrder {
    /// Every order.
    pub const ALL: [SearchOrder; 4] = [Self::Relevance, Self::Newest, Self::Downloads, Self::Name];

    /// The order's name, as the API's `sort` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Relevance => "relevance",
            Self::Newest => "newest",
            Self::Downloads => "downloads",
        }
    }
}

/// A name that is not one of the search orders.
#[derive(Debug, thiserror::Error)]
#[error("sort: {0:?} is not relevance, newest, downloads or name")]
pub struct UnknownOrder(pub String);

impl FromStr for SearchOrder {
    type Err = UnknownOrder;

    fn from_str(name: &str) -> Result<Self, UnknownOrder> {
        Self::ALL
            .into_iter()
            .find(|order| order.as_str() == name)
            .ok_or_else(|| UnknownOrder(name.to_owned()))
    }
}

/// What a [`SearchFilter`] looks at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FilterField {
    /// One of the search facets.
    Facet(Facet),
    /// The dataset's id.
    Id,
}

/// A condition every search result meets: it carries one of `values` in `field`, or,
/// negated, none of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchFilter {
    /// What is compared.
    pub field: FilterField,
    /// Any one of these matches.
    pub values: Vec<String>,
    /// The result must match none of them instead.
    pub negated: bool,
}

impl SearchFilter {
    /// Results whose `facet` carries `value`.
    pub fn facet(facet: Facet, value: impl Into<String>) -> Self {
        Self {
            field: FilterField::Facet(facet),
            values: vec![value.into()],
            negated: false,
        }
    }
}

/// A span of time, both ends included; either may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// From this time on.
    pub since: Option<DateTime<Utc>>,
    /// Up to this time.
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// No bound at either end.
    pub fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }
}

/// How many matching datasets carry a facet value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacetCount {
    /// The facet.
    pub facet: Facet,
    /// The value.
    pub value: String,
    /// Matching datasets carrying it.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_and_order_names_round_trip() {
        for facet in Facet::ALL {
            assert_eq!(facet.as_str().parse::<Facet>().expect("facet"), facet);
            assert_eq!(serde_json::to_value(facet).expect("json"), facet.as_str());
        }
        assert!("organization".parse::<Facet>().is_err());
        for order in SearchOrder::ALL {
            assert_eq!(order.as_str().parse::<SearchOrder>().expect("order"), order);
        }
        assert!("score".parse::<SearchOrder>().is_err());
    }
}
