//! Ed25519 key pairs, their multibase encodings and `did:key` identifiers.
//!
//! Key files use the W3C Multikey JSON shape
//! (`{"publicKeyMultibase": …, "privateKeyMultibase": …}`) so that keys move
//! between shulian and other Data Integrity tools unchanged. Secret bytes are
//! never formatted by `Debug` or `Display`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::base58;

/// Multicodec varint prefix of an Ed25519 public key (`ed25519-pub`, 0xed).
const ED25519_PUB_PREFIX: [u8; 2] = [0xed, 0x01];
/// Multicodec varint prefix of an Ed25519 secret key (`ed25519-priv`, 0x1300).
const ED25519_PRIV_PREFIX: [u8; 2] = [0x80, 0x26];
/// Bytes of an Ed25519 signature.
pub(super) const SIGNATURE_BYTES: usize = ed25519_dalek::SIGNATURE_LENGTH;

/// Why a key, key file or identifier could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text is not a base58-btc multibase value of the expected key type.
    #[error("not an Ed25519 multibase key: {0}")]
    Multibase(String),
    /// The text is not a `did:key` identifier of an Ed25519 key.
    #[error("not an Ed25519 did:key: {0}")]
    Did(String),
    /// Reading or writing the key file failed.
    #[error("key file {path}: {reason}")]
    File {
        /// The file concerned.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// An Ed25519 signing key: the node's, or a buyer's.
///
/// Its verification method is encoded once: base58 is quadratic in its input, and
/// the node names itself in every receipt it signs.
pub struct KeyPair {
    signing: SigningKey,
    did: Did,
    verification_method: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "KeyPair({})", self.did())
    }
}

/// The on-disk form of a key pair.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    public_key_multibase: String,
    private_key_multibase: String,
}

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_signing(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key for a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self::from_signing(SigningKey::from_bytes(&seed))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let public = PublicKey(signing.verifying_key());
        Self {
            signing,
            did: public.did(),
            verification_method: public.verification_method(),
        }
    }

    /// Parses a `privateKeyMultibase` value (`z` + base58btc(0x8026 ‖ seed)).
    pub fn from_multibase(text: &str) -> Result<Self, KeyError> {
        let seed = decode_multibase(text, ED25519_PRIV_PREFIX)?;
        Ok(Self::from_seed(seed))
    }

    /// The secret key as `privateKeyMultibase`.
    fn private_multibase(&self) -> String {
        encode_multibase(ED25519_PRIV_PREFIX, self.signing.as_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The key's `did:key` identifier.
    pub fn did(&self) -> Did {
        self.did.clone()
    }

    /// The verification method that names this key inside its DID document.
    pub fn verification_method(&self) -> &str {
        &self.verification_method
    }

    /// Signs raw bytes; only the proof, note and ticket modules call this.
    pub(super) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_BYTES] {
        self.signing.sign(message).to_bytes()
    }

    /// Reads a key file written by [`KeyPair::save`] (or any Multikey pair).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let file_error = |reason: String| KeyError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read(path).map_err(|error| file_error(error.to_string()))?;
        let file: KeyFile = serde_json::from_slice(&text).map_err(|error| file_error(error.to_string()))?;
        let key = Self::from_multibase(&file.private_key_multibase)?;
        if key.public().multibase() != file.public_key_multibase {
            return Err(file_error("public key does not match the private key".into()));
        }
        Ok(key)
    }

    /// Writes the key file readable by its owner only; refuses to overwrite.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write as _;
        let file_error = |reason: String| KeyError::File {
            path: path.display().to_string(),
            reason,
        };
        let body = serde_json::to_vec_pretty(&KeyFile {
            public_key_multibase: self.public().multibase(),
            private_key_multibase: self.private_multibase(),
        })
        .map_err(|error| file_error(error.to_string()))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| file_error(error.to_string()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|error| file_error(error.to_string()))?;
        file.write_all(&body)
            .and_then(|()| file.sync_all())
            .map_err(|error| file_error(error.to_string()))
    }

    /// Loads the key at `path`, creating it first if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::generate();
        key.save(path)?;
        Ok(key)
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "PublicKey({})", self.multibase())
    }
}

impl PublicKey {
    /// The key's `publicKeyMultibase` (`z6Mk…`).
    pub fn multibase(&self) -> String {
        encode_multibase(ED25519_PUB_PREFIX, self.0.as_bytes())
    }

    /// Parses a `publicKeyMultibase` value.
    pub fn from_multibase(text: &str) -> Result<Self, KeyError> {
        let bytes = decode_multibase(text, ED25519_PUB_PREFIX)?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| KeyError::Multibase(text.to_owned()))
    }

    /// The key of these raw 32 bytes, if they are an Ed25519 point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        VerifyingKey::from_bytes(bytes).ok().map(Self)
    }

    /// The raw 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key's `did:key` identifier.
    pub fn did(&self) -> Did {
        Did(format!("did:key:{}", self.multibase()))
    }

    /// The verification method that names this key inside its DID document.
    pub fn verification_method(&self) -> String {
        format!("{}#{}", self.did(), self.multibase())
    }

    /// Checks an Ed25519 signature, refusing malleable and small-order forms.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &signature).is_ok()
    }
}

/// A `did:key` identifier of an Ed25519 key, parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Did(String);

impl Did {
    /// The key this identifier names.
    pub fn public_key(&self) -> PublicKey {
        // Construction guarantees the suffix parses.
        PublicKey::from_multibase(&self.0["did:key:".len()..])
            .unwrap_or_else(|_| unreachable!("Did is validated on construction"))
    }

    /// The identifier text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Did {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let multibase = text
            .strip_prefix("did:key:")
            .ok_or_else(|| KeyError::Did(text.to_owned()))?;
        PublicKey::from_multibase(multibase).map_err(|_| KeyError::Did(text.to_owned()))?;
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for Did {
    type Error = KeyError;

    fn try_from(text: String) -> Result<Self, KeyError> {
        text.parse()
    }
}

impl From<Did> for String {
    fn from(did: Did) -> String {
        did.0
    }
}

impl fmt::Display for Did {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn encode_multibase(prefix: [u8; 2], key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&prefix);
    bytes.extend_from_slice(key);
    format!("z{}", base58::encode(&bytes))
}

fn decode_multibase(text: &str, prefix: [u8; 2]) -> Result<[u8; 32], KeyError> {
    let invalid = || KeyError::Multibase(text.to_owned());
    let encoded = text.strip_prefix('z').ok_or_else(invalid)?;
    let bytes = base58::decode(encoded, prefix.len() + 32).map_err(|_| invalid())?;
    let key = bytes.strip_prefix(&prefix).ok_or_else(invalid)?;
    key.try_into().map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_round_trips_and_rejects_other_key_types() {
        let key = KeyPair::generate();
        let did = key.public().did();
        assert!(did.as_str().starts_with("did:key:z6Mk"));
        let parsed: Did = did.as_str().parse().expect("own did parses");
        assert_eq!(parsed.public_key(), key.public());
        assert!(
            "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"
                .parse::<Did>()
                .is_err()
        );
        assert!("did:web:example.com".parse::<Did>().is_err());
        assert!("did:key:z".parse::<Did>().is_err());
    }

    #[test]
    fn key_file_round_trips_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let created = KeyPair::load_or_create(&path).expect("create");
        let loaded = KeyPair::load_or_create(&path).expect("load");
        assert_eq!(created.public(), loaded.public());
        assert!(created.save(&path).is_err(), "never overwrites a key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        assert!(!format!("{created:?}").contains(&created.private_multibase()));
    }
}
