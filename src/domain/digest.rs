//! SHA-256 digests as they appear in manifests, ETags and URLs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A SHA-256 digest. Displays as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest([u8; 32]);

/// The text was not a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sha256 digest (64 hex digits, optionally prefixed by \"sha256:\")")]
pub struct DigestError;

impl Sha256Digest {
    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `sha256:<hex>` form used for digests of documents.
    pub fn prefixed(&self) -> String {
        format!("sha256:{self}")
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "sha256:{self}")
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestError;

    /// Accepts `<hex>` or `sha256:<hex>`; upper-case hex is refused so each digest has one spelling.
    fn from_str(text: &str) -> Result<Self, DigestError> {
        let hex_text = text.strip_prefix("sha256:").unwrap_or(text);
        if hex_text.len() != 64 || hex_text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(DigestError);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_text, &mut bytes).map_err(|_| DigestError)?;
        Ok(Self(bytes))
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = DigestError;

    fn try_from(text: String) -> Result<Self, DigestError> {
        text.parse()
    }
}

impl From<Sha256Digest> for String {
    fn from(digest: Sha256Digest) -> String {
        digest.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn both_spellings_round_trip(bytes in any::<[u8; 32]>()) {
            let digest = Sha256Digest::from_bytes(bytes);
            prop_assert_eq!(digest.to_string().parse::<Sha256Digest>(), Ok(digest));
            prop_assert_eq!(digest.prefixed().parse::<Sha256Digest>(), Ok(digest));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = text.parse::<Sha256Digest>();
        }
    }

    #[test]
    fn near_misses_are_refused() {
        let good = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(good.parse::<Sha256Digest>().is_ok());
        assert!(good.to_uppercase().parse::<Sha256Digest>().is_err());
        assert!(good[1..].parse::<Sha256Digest>().is_err());
        assert!(format!("md5:{good}").parse::<Sha256Digest>().is_err());
        assert!(format!("{}g", &good[1..]).parse::<Sha256Digest>().is_err());
    }
}
