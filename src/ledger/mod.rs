//! The node's tamper-evident log: an RFC 9162 Merkle tree over every entry
//! the node vouches for, with checkpoints as C2SP signed notes.
//!
//! An entry's leaf is the exact canonical JSON text of the document it logs
//! (for a version publication, its signed manifest), so anyone holding the
//! document can recompute its leaf hash and check an inclusion proof.
//! Entries are only ever appended: corrections are new entries.

pub mod merkle;
pub mod stored;
pub mod tiles;
pub mod witness;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{KeyPair, PublicKey, note};

/// A checkpoint's content: which log, how many entries, what root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, which is also the signing key's name.
    pub origin: String,
    /// Number of entries covered.
    pub size: u64,
    /// The Merkle root over those entries.
    pub root: merkle::Hash,
}

/// Why a checkpoint was refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The signature is missing or wrong.
    #[error(transparent)]
    Note(#[from] note::NoteError),
    /// The signed text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
}

/// The log origin of a node key: unique per key, stable across restarts and replicas.
pub fn origin_for(key: &PublicKey) -> String {
    format!("shulian/{}", key.multibase())
}

impl Checkpoint {
    /// The signed-note text: origin, size and base64 root, one per line.
    fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// The checkpoint as a note signed by the node key under the origin's name.
    pub fn sign(&self, key: &KeyPair) -> Result<String, CheckpointError> {
        Ok(note::sign_note(&self.body(), &self.origin, key)?)
    }

    /// Verifies a signed checkpoint from the log `origin` with `key`.
    pub fn verify(text: &str, origin: &str, key: &PublicKey) -> Result<Self, CheckpointError> {
        let body = note::verify_note(text, origin, key)?;
        let mut lines = body.lines();
        let signed_origin = lines.next().ok_or(CheckpointError::Malformed("no origin line"))?;
        if signed_origin != origin {
            return Err(CheckpointError::Malformed("the origin differs"));
        }
        let size = lines
            .next()
            .and_then(|line| line.parse().ok())
            .ok_or(CheckpointError::Malformed("the size line is not a number"))?;
        let root = lines
            .next()
            .and_then(|line| STANDARD.decode(line).ok())
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(CheckpointError::Malformed("the root line is not a base64 SHA-256"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_through_signed_notes() {
        let key = KeyPair::generate();
        let checkpoint = Checkpoint {
            origin: origin_for(&key.public()),
            size: 42,
            root: merkle::leaf_hash(b"x"),
        };
        let text = checkpoint.sign(&key).expect("sign");
        assert_eq!(
            Checkpoint::verify(&text, &checkpoint.origin, &key.public()).expect("verify"),
            checkpoint
        );
        let other = KeyPair::generate();
        assert!(Checkpoint::verify(&text, &checkpoint.origin, &other.public()).is_err());
    }
}
