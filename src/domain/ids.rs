//! Identifiers parsed at the edge: dataset and publisher ids, file names, version numbers.
//!
//! None of these ever becomes part of an object-store path (blobs are
//! content-addressed), but they do appear in URLs, in Delta Sharing names and
//! in the file names `shulian get` writes, so each is parsed strictly once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {rule}")]
pub struct IdError {
    /// What was being parsed.
    pub kind: &'static str,
    /// The refused input, truncated for display.
    pub value: String,
    /// The rule it broke.
    pub rule: &'static str,
}

impl IdError {
    fn new(kind: &'static str, value: &str, rule: &'static str) -> Self {
        Self {
            kind,
            value: value.chars().take(80).collect(),
            rule,
        }
    }
}

/// The slug rule shared by dataset and publisher ids.
const SLUG_RULE: &str = "1 to 64 characters: lowercase a-z, digits, '-' or '_', starting with a letter or digit";

fn parse_slug(kind: &'static str, text: &str) -> Result<String, IdError> {
    let valid_start = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid_chars = text
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid_start && valid_chars && text.len() <= 64 {
        Ok(text.to_owned())
    } else {
        Err(IdError::new(kind, text, SLUG_RULE))
    }
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        slug_id!($(#[$doc])* $name, $kind, parse_slug);
    };
    ($(#[$doc:meta])* $name:ident, $kind:literal, $parse:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                $parse($kind, text).map(Self)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(text: String) -> Result<Self, IdError> {
                text.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// A dataset's id, unique on the node; also its Delta Sharing table name.
    DatasetId,
    "dataset id"
);
slug_id!(
    /// A publisher's id; also its Delta Sharing share name.
    PublisherId,
    "publisher id"
);

slug_id!(
    /// Names a read session of a licensed file: 1 to 64 ASCII letters, digits, `-` or `_`.
    ///
    /// Chosen by the reader (the `Shulian-Read-Session` header; `shulian get`
    /// derives one per token and file so that a rerun resumes in the same
    /// session), by the node when the reader names none, or sealed into a
    /// ticket. Sessions are scoped to one order and one file, so a name only
    /// ever identifies the reader's own sessions.
    ReadSessionId,
    "read session",
    parse_session_name
);

slug_id!(
    /// A Data Package resource's name as its publisher's descriptor gives it (Frictionless:
    /// lowercase letters, digits, `.`, `-`, `_`), kept so code written against that
    /// descriptor finds the same resources in the one the node serves.
    ResourceName,
    "resource name",
    parse_resource_name
);

fn parse_resource_name(kind: &'static str, text: &str) -> Result<String, IdError> {
    let valid = (1..=100).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(IdError::new(
            kind,
            text,
            "1 to 100 lowercase a-z, digits, '.', '-' or '_'",
        ))
    }
}

impl ReadSessionId {
    /// A new session name: a UUIDv7, so names the node gives sort in the order it gave
    /// them and each new one is indexed at the end of the sessions' index rather than on a
    /// random page of it (74 random bits keep them unique).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }
}

fn parse_session_name(kind: &'static str, text: &str) -> Result<String, IdError> {
    let valid = (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(IdError::new(kind, text, "1 to 64 ASCII letters, digits, '-' or '_'"))
    }
}

/// A file's name inside a version: a relative path of `/`-separated segments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FileName(String);

/// Whether `c` changes how text displays without showing itself: bidirectional
/// controls (which can make `exe.csv` read as `vsc.exe`), zero-width characters,
/// and other format characters a reader cannot see.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                  // soft hyphen
        | '\u{034F}'                // combining grapheme joiner
        | '\u{061C}'                // Arabic letter mark
        | '\u{115F}' | '\u{1160}'    // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'    // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'    // Mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'    // zero-width space, joiners, LRM, RLM
        | '\u{202A}'..='\u{202E}'    // bidirectional embeddings and overrides
        | '\u{2060}'..='\u{206F}'    // word joiner, invisible operators, bidirectional isolates
        | '\u{3164}'                // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'    // variation selectors
        | '\u{FEFF}'                // byte-order mark
        | '\u{FFA0}'                // half-width Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'    // interlinear annotations
        | '\u{E0000}'..='\u{E007F}'  // tags
    )
}

/// Characters refused in file names: separators and names that some file systems forbid.
const FORBIDDEN_FILE_CHARS: &[char] = &['\\', '<', '>', ':', '"', '|', '?', '*'];

impl FileName {
    /// The name's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment, used in `Content-Disposition`.
    pub fn base_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The segments, for joining onto a local directory safely.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl FromStr for FileName {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        let refuse = |rule| Err(IdError::new("file name", text, rule));
        if text.is_empty() || text.len() > 255 {
            return refuse("1 to 255 bytes");
        }
        if text
            .chars()
            .any(|c| c.is_control() || is_invisible(c) || FORBIDDEN_FILE_CHARS.contains(&c))
        {
            return refuse("no control, bidirectional-control or invisible characters and none of \\ < > : \" | ? *");
        }
        for segment in text.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return refuse("a relative path without empty, '.' or '..' segments");
            }
            if segment.trim() != segment {
                return refuse("no segment starts or ends with white space");
            }
        }
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for FileName {
    type Error = IdError;

    fn try_from(text: String) -> Result<Self, IdError> {
        text.parse()
    }
}

impl From<FileName> for String {
    fn from(name: FileName) -> String {
        name.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A published version's number: 1, 2, 3 … in publication order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct VersionNumber(u32);

impl VersionNumber {
    /// The first version of every dataset.
    pub const FIRST: Self = Self(1);

    /// The number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The version after this one.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl TryFrom<u32> for VersionNumber {
    type Error = IdError;

    fn try_from(number: u32) -> Result<Self, IdError> {
        if number == 0 {
            Err(IdError::new("version", "0", "versions count from 1"))
        } else {
            Ok(Self(number))
        }
    }
}

impl TryFrom<i64> for VersionNumber {
    type Error = IdError;

    fn try_from(number: i64) -> Result<Self, IdError> {
        u32::try_from(number)
            .map_err(|_| IdError::new("version", &number.to_string(), "versions count from 1"))
            .and_then(Self::try_from)
    }
}

impl From<VersionNumber> for u32 {
    fn from(version: VersionNumber) -> u32 {
        version.0
    }
}

impl FromStr for VersionNumber {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        text.parse::<u32>()
            .map_err(|_| IdError::new("version", text, "a positive integer"))
            .and_then(Self::try_from)
    }
}

impl fmt::Display for VersionNumber {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn traversal_and_odd_names_are_refused() {
        for bad in [
            "",
            "../x",
            "a/../b",
            "/etc/passwd",
            "a//b",
            "a\\b",
            "./a",
            "a/",
            "c:x",
            "a\u{0}b",
            " a",
            "invoice\u{202E}vsc.exe",
            "data\u{200B}.csv",
            "\u{2066}x.csv",
            "x\u{FEFF}.csv",
            "x\u{E0041}.csv",
        ] {
            assert!(bad.parse::<FileName>().is_err(), "{bad:?} must be refused");
        }
        for good in ["data.csv", "2024/交通流量.parquet", "a b.txt", "..hidden"] {
            assert!(good.parse::<FileName>().is_ok(), "{good:?} must be accepted");
        }
    }

    #[test]
    fn session_names_the_node_gives_sort_in_the_order_given_and_are_valid_names() {
        let given: Vec<ReadSessionId> = (0..2_000).map(|_| ReadSessionId::generate()).collect();
        assert!(given.windows(2).all(|pair| pair[0].as_str() < pair[1].as_str()));
        for session in &given {
            assert_eq!(
                session.as_str().parse::<ReadSessionId>().expect("a valid name"),
                *session
            );
        }
    }

    #[test]
    fn slugs_are_strict() {
        for bad in ["", "A", "-a", "a.b", "a/b", "..", "交通", &"a".repeat(65)] {
            assert!(bad.parse::<DatasetId>().is_err(), "{bad:?} must be refused");
        }
        assert!("beijing-traffic_2024".parse::<DatasetId>().is_ok());
    }

    proptest! {
        #[test]
        fn parsed_file_names_never_escape_their_directory(text in "\\PC{0,40}") {
            if let Ok(name) = text.parse::<FileName>() {
                prop_assert!(!name.as_str().starts_with('/'));
                prop_assert!(name.segments().all(|s| s != ".." && s != "." && !s.is_empty()));
            }
        }

        #[test]
        fn slug_display_round_trips(text in "[a-z0-9][a-z0-9_-]{0,63}") {
            let id: DatasetId = text.parse().expect("matches the rule");
            prop_assert_eq!(id.to_string(), text);
        }

        #[test]
        fn version_numbers_round_trip(number in 1u32..) {
            let version: VersionNumber = number.to_string().parse().expect("positive");
            prop_assert_eq!(version.get(), number);
        }
    }
}
