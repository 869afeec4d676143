//! Datasets, their metadata and the files of a version.
//!
//! Metadata is validated once, when it is parsed; everything downstream
//! (manifests, catalog listings, downloads) may rely on its limits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::digest::Sha256Digest;
use super::ids::{FileName, ResourceName, is_invisible};

/// Who may download a dataset's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessClass {
    /// Anyone, anonymously, for free.
    Open,
    /// Only a buyer holding an order for it.
    Licensed,
}

impl AccessClass {
    /// The lowercase name used in URLs, the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Licensed => "licensed",
        }
    }
}

impl FromStr for AccessClass {
    type Err = MetadataError;

    fn from_str(text: &str) -> Result<Self, MetadataError> {
        match text {
            "open" => Ok(Self::Open),
            "licensed" => Ok(Self::Licensed),
            _ => Err(MetadataError::new("access", "must be \"open\" or \"licensed\"")),
        }
    }
}

impl fmt::Display for AccessClass {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A metadata field broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct MetadataError {
    /// The field's JSON name.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: &'static str,
}

impl MetadataError {
    fn new(field: &'static str, rule: &'static str) -> Self {
        Self { field, rule }
    }
}

/// Text in Simplified Chinese and/or English; at least one is present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocalizedText {
    /// Simplified Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zh: Option<String>,
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl LocalizedText {
    /// Text in the preferred language, falling back to the other one; empty if neither.
    pub fn preferred(&self, english_first: bool) -> &str {
        self.preferred_text(english_first).unwrap_or_default()
    }

    /// Text in the preferred language, falling back to the other one; `None` if neither.
    pub fn preferred_text(&self, english_first: bool) -> Option<&str> {
        let (first, second) = if english_first {
            (&self.en, &self.zh)
        } else {
            (&self.zh, &self.en)
        };
        first.as_deref().or(second.as_deref())
    }

    /// Both texts, Chinese first, separated by a blank line: one text for formats
    /// (CKAN `notes`, schema.org `description`) that hold a single language.
    pub fn joined(&self) -> String {
        [&self.zh, &self.en]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    fn is_empty(&self) -> bool {
        self.zh.is_none() && self.en.is_none()
    }

    /// Trims both texts, drops empty ones and enforces a length limit.
    fn normalized(self, field: &'static str, max_chars: usize, rule: &'static str) -> Result<Self, MetadataError> {
        let clean = |text: Option<String>| -> Result<Option<String>, MetadataError> {
            match text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
                Some(text) if text.chars().count() > max_chars => Err(MetadataError::new(field, rule)),
                other => Ok(other),
            }
        };
        Ok(Self {
            zh: clean(self.zh)?,
            en: clean(self.en)?,
        })
    }
}

/// The licence a dataset is published under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct License {
    /// An SPDX identifier (`CC-BY-4.0`) or the publisher's own licence name.
    pub id: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Where the licence text can be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The terms under which a licensed dataset may be ordered, set by its publisher.
///
/// Part of the version's metadata, so the node's signature on the manifest
/// covers it; an order must fit inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Offer {
    /// Price of one order in fen (1/100 CNY).
    pub price_fen: u64,
    /// Purposes an order may name.
    pub purposes: Vec<String>,
    /// Longest validity an order may ask for, in days.
    pub max_validity_days: u32,
    /// Most completed downloads of each file an order may ask for.
    pub max_downloads: u32,
    /// The licence text buyers agree to.
    pub license_text: String,
    /// Whether orders that fit the offer are agreed at once, without the publisher's decision.
    pub auto_accept: bool,
    /// Rows of each table anyone may preview without an order (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rows: Option<u32>,
    /// Whether column minimums and maximums are shown to anyone: they are literal data
    /// values (a name, an id), so licensed tables show them only when the publisher says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_statistics: bool,
}

/// Bounds that keep offers meaningful and small.
const MAX_PURPOSES: usize = 16;
const MAX_PURPOSE_CHARS: usize = 64;
const MAX_VALIDITY_DAYS: u32 = 3650;
const MAX_DOWNLOADS: u32 = 10_000;
const MAX_LICENSE_TEXT_CHARS: usize = 50_000;
const MAX_SAMPLE_ROWS: u32 = 1_000;

impl Offer {
    fn check(&self) -> Result<(), MetadataError> {
        let purposes_ok = !self.purposes.is_empty()
            && self.purposes.len() <= MAX_PURPOSES
            && self.purposes.iter().all(|p| {
                !p.trim().is_empty()
                    && p.trim() == p
                    && p.chars().count() <= MAX_PURPOSE_CHARS
                    && !p.chars().any(|c| c.is_control() || is_invisible(c))
            });
        if !purposes_ok {
            return Err(MetadataError::new(
                "offer.purposes",
                "1 to 16 purposes of 1 to 64 printable characters",
            ));
        }
        if self.sample_rows.is_some_and(|rows| rows > MAX_SAMPLE_ROWS) {
            return Err(MetadataError::new("offer.sampleRows", "at most 1000 rows"));
        }
        if !(1..=MAX_VALIDITY_DAYS).contains(&self.max_validity_days) {
            return Err(MetadataError::new("offer.maxValidityDays", "1 to 3650 days"));
        }
        if !(1..=MAX_DOWNLOADS).contains(&self.max_downloads) {
            return Err(MetadataError::new("offer.maxDownloads", "1 to 10000 downloads"));
        }
        if self.license_text.trim().is_empty() || self.license_text.chars().count() > MAX_LICENSE_TEXT_CHARS {
            return Err(MetadataError::new("offer.licenseText", "1 to 50000 characters"));
        }
        // Prices travel in signed documents as JSON integers: keep them exact in every language.
        if self.price_fen > (1 << 53) {
            return Err(MetadataError::new("offer.priceFen", "at most 2^53 fen"));
        }
        Ok(())
    }
}

impl License {
    /// Where the licence text can be read, when that is an absolute `http`/`https` URL: the
    /// only form any page or catalog document shows as a link (older versions may hold others).
    pub fn web_url(&self) -> Option<&str> {
        self.url.as_deref().filter(|url| is_web_url(url))
    }
}

/// A version's descriptive metadata, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "MetadataInput")]
pub struct DatasetMetadata {
    /// The title, in Chinese and/or English.
    pub title: LocalizedText,
    /// The description, in Chinese and/or English; may be empty.
    pub description: LocalizedText,
    /// Keywords, trimmed and de-duplicated, in the publisher's order.
    pub keywords: Vec<String>,
    /// The licence.
    pub license: License,
    /// Open or licensed.
    pub access: AccessClass,
    /// For licensed data, the terms an order must fit; open data has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
}

impl DatasetMetadata {
    /// Checks what only a new publication must satisfy: its licence URL, if any, is an
    /// absolute `http`/`https` URL (it becomes a link on the catalog's pages).
    ///
    /// Not part of parsing, so versions stored before the rule still read.
    pub fn check_for_publication(&self) -> Result<(), MetadataError> {
        if self.license.url.as_deref().is_some_and(|url| !is_web_url(url)) {
            return Err(MetadataError::new("license.url", "an absolute http or https URL"));
        }
        Ok(())
    }
}

/// Metadata as submitted, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataInput {
    title: LocalizedText,
    #[serde(default)]
    description: LocalizedText,
    #[serde(default)]
    keywords: Vec<String>,
    license: License,
    access: AccessClass,
    #[serde(default)]
    offer: Option<Offer>,
}

/// Limits on metadata sizes, so a catalog page stays small.
const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 20_000;
const MAX_KEYWORDS: usize = 32;
const MAX_KEYWORD_CHARS: usize = 50;
const MAX_LICENSE_CHARS: usize = 200;

/// Whether `text` is an absolute `http`/`https` URL: the only links the catalog shows.
fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        && !text.chars().any(char::is_control)
}

impl TryFrom<MetadataInput> for DatasetMetadata {
    type Error = MetadataError;

    fn try_from(input: MetadataInput) -> Result<Self, MetadataError> {
        let title = input
            .title
            .normalized("title", MAX_TITLE_CHARS, "at most 200 characters per language")?;
        if title.is_empty() {
            return Err(MetadataError::new("title", "give a title in zh, en or both"));
        }
        let description = input.description.normalized(
            "description",
            MAX_DESCRIPTION_CHARS,
            "at most 20000 characters per language",
        )?;
        let mut keywords: Vec<String> = Vec::new();
        for keyword in input.keywords {
            let keyword = keyword.trim().to_owned();
            if keyword.is_empty()
                || keyword.chars().count() > MAX_KEYWORD_CHARS
                || keyword.chars().any(|c| c.is_control() || is_invisible(c))
            {
                return Err(MetadataError::new(
                    "keywords",
                    "each keyword has 1 to 50 printable characters",
                ));
            }
            if !keywords.contains(&keyword) {
                keywords.push(keyword);
            }
        }
        if keywords.len() > MAX_KEYWORDS {
            return Err(MetadataError::new("keywords", "at most 32 keywords"));
        }
        let license = input.license;
        let license_fields = [Some(&license.id), license.title.as_ref(), license.url.as_ref()];
        if license.id.trim().is_empty()
            || license_fields
                .iter()
                .flatten()
                .any(|f| f.chars().count() > MAX_LICENSE_CHARS)
        {
            return Err(MetadataError::new("license", "an id of 1 to 200 characters"));
        }
        match (input.access, &input.offer) {
            (AccessClass::Licensed, Some(offer)) => offer.check()?,
            (AccessClass::Licensed, None) => {
                return Err(MetadataError::new(
                    "offer",
                    "licensed data needs an offer: price, purposes, validity, downloads, licence",
                ));
            }
            (AccessClass::Open, Some(_)) => {
                return Err(MetadataError::new("offer", "open data is free: it takes no offer"));
            }
            (AccessClass::Open, None) => {}
        }
        Ok(Self {
            title,
            description,
            keywords,
            license,
            access: input.access,
            offer: input.offer,
        })
    }
}

/// An IANA media type such as `text/csv`, lowercased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "text/csv")]
pub struct MediaType(String);

impl MediaType {
    /// The generic type for bytes of unknown format.
    pub fn octet_stream() -> Self {
        Self("application/octet-stream".into())
    }

    /// The media type's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short format name catalogs show (`CSV`, `Parquet`, `JSON` …).
    pub fn format_name(&self) -> String {
        let known = match self.0.as_str() {
            "text/csv" => "CSV",
            "text/tab-separated-values" => "TSV",
            "application/json" => "JSON",
            "application/geo+json" => "GeoJSON",
            "application/x-ndjson" => "NDJSON",
            "application/vnd.apache.parquet" | "application/x-parquet" => "Parquet",
            "text/plain" => "TXT",
            "application/xml" => "XML",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "XLSX",
            "application/vnd.ms-excel" => "XLS",
            "application/zip" => "ZIP",
            "application/gzip" => "GZIP",
            "application/pdf" => "PDF",
            "image/png" => "PNG",
            "image/jpeg" => "JPEG",
            other => {
                let subtype = other.rsplit('/').next().unwrap_or(other);
                return subtype.trim_start_matches("x-").to_ascii_uppercase();
            }
        };
        known.to_owned()
    }

    /// A media type guessed from a file name's extension.
    pub fn guess(name: &FileName) -> Self {
        let extension = name
            .base_name()
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        let known = match extension.as_str() {
            "csv" => "text/csv",
            "tsv" => "text/tab-separated-values",
            "json" => "application/json",
            "geojson" => "application/geo+json",
            "ndjson" | "jsonl" => "application/x-ndjson",
            "parquet" => "application/vnd.apache.parquet",
            "txt" | "md" => "text/plain",
            "xml" => "application/xml",
            "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xls" => "application/vnd.ms-excel",
            "zip" => "application/zip",
            "gz" => "application/gzip",
            "pdf" => "application/pdf",
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            _ => "application/octet-stream",
        };
        Self(known.into())
    }
}

impl FromStr for MediaType {
    type Err = MetadataError;

    fn from_str(text: &str) -> Result<Self, MetadataError> {
        let is_token = |part: &str| {
            !part.is_empty()
                && part.len() <= 100
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
        };
        match text.split_once('/') {
            Some((kind, subtype)) if is_token(kind) && is_token(subtype) => Ok(Self(text.to_ascii_lowercase())),
            _ => Err(MetadataError::new("mediaType", "a media type such as text/csv")),
        }
    }
}

impl TryFrom<String> for MediaType {
    type Error = MetadataError;

    fn try_from(text: String) -> Result<Self, MetadataError> {
        text.parse()
    }
}

impl From<MediaType> for String {
    fn from(media_type: MediaType) -> String {
        media_type.0
    }
}

/// One file of a version: what a manifest lists and a download serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// The file's name inside the version.
    #[schema(value_type = String, example = "flows.csv")]
    pub name: FileName,
    /// Its media type.
    pub media_type: MediaType,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, 64 lowercase hex digits.
    #[schema(value_type = String)]
    pub sha256: Sha256Digest,
    /// For a copy the node derived (Parquet from CSV), the file it was derived from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub derived_from: Option<FileName>,
    /// The Data Package resource the publisher's descriptor names this file as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "hourly-flow")]
    pub resource: Option<ResourceName>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_in_one_language_is_chinese_first_then_english() {
        let both = LocalizedText {
            zh: Some("交通流量".into()),
            en: Some("Traffic flow".into()),
        };
        assert_eq!(both.preferred(false), "交通流量");
        assert_eq!(both.preferred(true), "Traffic flow");
        assert_eq!(both.joined(), "交通流量\n\nTraffic flow");
        let english = LocalizedText {
            zh: None,
            en: Some("Traffic flow".into()),
        };
        assert_eq!(english.preferred(false), "Traffic flow");
        assert_eq!(english.joined(), "Traffic flow");
        assert_eq!(LocalizedText::default().joined(), "");
        assert_eq!(LocalizedText::default().preferred_text(false), None);
    }

    #[test]
    fn metadata_is_normalized_and_bounded() {
        let parsed: DatasetMetadata = serde_json::from_value(json!({
            "title": {"zh": " 交通流量 ", "en": ""},
            "keywords": ["交通", "交通", " traffic "],
            "license": {"id": "CC-BY-4.0"},
            "access": "open"
        }))
        .expect("valid metadata");
        assert_eq!(parsed.title.zh.as_deref(), Some("交通流量"));
        assert_eq!(parsed.title.en, None);
        assert_eq!(parsed.keywords, vec!["交通", "traffic"]);

        let no_title = json!({"title": {"en": "  "}, "license": {"id": "x"}, "access": "open"});
        assert!(serde_json::from_value::<DatasetMetadata>(no_title).is_err());
        let long_title = json!({"title": {"zh": "数".repeat(201)}, "license": {"id": "x"}, "access": "open"});
        assert!(serde_json::from_value::<DatasetMetadata>(long_title).is_err());
        let bad_access = json!({"title": {"zh": "a"}, "license": {"id": "x"}, "access": "secret"});
        assert!(serde_json::from_value::<DatasetMetadata>(bad_access).is_err());
    }

    #[test]
    fn media_types_are_checked_and_guessed() {
        assert!("text/csv".parse::<MediaType>().is_ok());
        assert!("text".parse::<MediaType>().is_err());
        assert!("text/csv\r\nX-Evil: 1".parse::<MediaType>().is_err());
        let name: FileName = "a/B.PARQUET".parse().expect("name");
        assert_eq!(MediaType::guess(&name).as_str(), "application/vnd.apache.parquet");
    }
}

/// What a publisher submits to publish a version: the node's API takes it, the CLI sends it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The version's metadata.
    pub metadata: DatasetMetadata,
    /// The version's files, each uploaded beforehand with `PUT /api/v1/blobs/{sha256}`.
    pub files: Vec<FileEntry>,
}
