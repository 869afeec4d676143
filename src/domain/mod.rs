//! Pure types and rules of the data market; imports nothing from axum, sqlx or object_store.

pub mod dataset;
pub mod delivery;
pub mod demand;
pub mod digest;
pub mod doip;
pub mod handle;
pub mod ids;
pub mod log;
pub mod manifest;
pub mod node;
pub mod order;
pub mod search;

pub use dataset::{
    AccessClass, DatasetMetadata, FileEntry, License, LocalizedText, MediaType, MetadataError, Offer, PublishRequest,
};
pub use digest::{DigestError, Sha256Digest};
pub use ids::{DatasetId, FileName, IdError, PublisherId, ReadSessionId, ResourceName, VersionNumber};
pub use log::EntryKind;
pub use search::{
    DATASET_KIND, Facet, FacetCount, FilterField, PEER_DATASET_KIND, SearchFilter, SearchOrder, TimeRange,
    UnknownFacet, UnknownOrder,
};
