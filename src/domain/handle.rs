//! Global identifiers of datasets and versions, in the Handle System's form:
//! `<node prefix>/<dataset>[@<version>]`, e.g. `86.1000.zs/beijing-traffic@2`.
//!
//! The Handle System compares prefixes and suffixes without regard to ASCII
//! case, so both are kept lowercase; a dataset id is lowercase already.

use std::fmt;
use std::str::FromStr;

use super::{DatasetId, VersionNumber};

/// Where a node's resolver answers, below its base URL: `{HANDLES_PATH}/<prefix>/<suffix>`.
pub const HANDLES_PATH: &str = "/api/handles";

/// The types of a record's values, as resolvers write them and clients read them.
pub mod value_type {
    /// The dataset's page at the node that holds it.
    pub const URL: &str = "URL";
    /// The version's signed manifest digest, `sha256:<hex>`.
    pub const CHECKSUM: &str = "CHECKSUM";
    /// Where that manifest is served.
    pub const MANIFEST: &str = "SHULIAN_MANIFEST";
    /// The DID of the node that signed it (for a peer's version: the key its resolver pinned).
    pub const NODE: &str = "SHULIAN_NODE";
    /// The base URL of the node that holds it, where it is ordered and downloaded.
    pub const NODE_URL: &str = "SHULIAN_NODE_URL";
    /// The version the record names (a dataset's record: its newest known version).
    pub const VERSION: &str = "SHULIAN_VERSION";
}

/// Why a text is not a handle this node understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Not `prefix/suffix`, or a part breaks its rule.
    #[error("{0:?} is not a handle of the form <prefix>/<dataset>[@<version>]: {1}")]
    Syntax(String, &'static str),
}

/// A node's handle prefix: 1 to 64 of `a-z 0-9 . - _`, dot-separated like `86.1000.zs`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HandlePrefix(String);

const PREFIX_RULE: &str = "a prefix is 1 to 64 of a-z, 0-9, '.', '-', '_', not starting or ending with '.'";

impl FromStr for HandlePrefix {
    type Err = HandleError;

    fn from_str(text: &str) -> Result<Self, HandleError> {
        let lower = text.to_ascii_lowercase();
        let valid = !lower.is_empty()
            && lower.len() <= 64
            && !lower.starts_with('.')
            && !lower.ends_with('.')
            && lower
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
        if valid {
            Ok(Self(lower))
        } else {
            Err(HandleError::Syntax(text.chars().take(80).collect(), PREFIX_RULE))
        }
    }
}

impl HandlePrefix {
    /// The prefix of a node that configured none: `sl.` and the first five bytes of its
    /// public key in hex, so two nodes' defaults differ.
    pub fn from_public_key(key: &[u8; 32]) -> Self {
        Self(format!("sl.{}", hex::encode(&key[..5])))
    }

    /// The prefix as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HandlePrefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The handle of a dataset (its series of versions) or of one version of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handle {
    /// The prefix of the node that publishes it.
    pub prefix: HandlePrefix,
    /// The dataset.
    pub dataset: DatasetId,
    /// The version, for a version's handle.
    pub version: Option<VersionNumber>,
}

impl FromStr for Handle {
    type Err = HandleError;

    fn from_str(text: &str) -> Result<Self, HandleError> {
        let syntax = |rule| HandleError::Syntax(text.chars().take(80).collect(), rule);
        let bare = text.strip_prefix("hdl:").unwrap_or(text);
        let (prefix, suffix) = bare
            .split_once('/')
            .ok_or_else(|| syntax("no '/' between prefix and suffix"))?;
        let prefix = prefix.parse()?;
        let suffix = suffix.to_ascii_lowercase();
        let (dataset, version) = match suffix.split_once('@') {
            Some((dataset, version)) => (
                dataset,
                Some(
                    version
                        .parse()
                        .map_err(|_| syntax("the version after '@' is a number from 1"))?,
                ),
            ),
            None => (suffix.as_str(), None),
        };
        Ok(Self {
            prefix,
            dataset: dataset
                .parse()
                .map_err(|_| syntax("the suffix names no valid dataset id"))?,
            version,
        })
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.prefix, self.dataset)?;
        match self.version {
            Some(version) => write!(formatter, "@{version}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_parse_print_and_ignore_case() {
        let handle: Handle = "86.1000.ZS/Beijing-Traffic@2".parse().expect("handle");
        assert_eq!(handle.to_string(), "86.1000.zs/beijing-traffic@2");
        assert_eq!(handle.version.map(VersionNumber::get), Some(2));
        let series: Handle = "hdl:86.1000.zs/beijing-traffic".parse().expect("handle");
        assert_eq!(series.version, None);
        assert_eq!(series.to_string(), "86.1000.zs/beijing-traffic");
    }

    #[test]
    fn malformed_handles_are_refused() {
        for bad in [
            "", "noslash", "/x", ".a/x", "a./x", "a b/x", "86.1/", "86.1/x@0", "86.1/x@", "86.1/x@y", "86.1/a/b",
        ] {
            assert!(bad.parse::<Handle>().is_err(), "{bad}");
        }
    }

    #[test]
    fn default_prefixes_come_from_the_key() {
        assert_eq!(HandlePrefix::from_public_key(&[0xab; 32]).as_str(), "sl.ababababab");
    }
}
