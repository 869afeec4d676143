//! Canonical JSON, Ed25519 keys, `did:key` and Data Integrity proofs.
//!
//! Invariant: this module is the only caller of `ed25519-dalek`, and the
//! bytes that get signed are always produced by [`canonical::canonicalize`].

pub mod base58;
pub mod canonical;
pub mod keys;
pub mod note;
pub mod proof;
pub mod ticket;

pub use keys::{Did, KeyError, KeyPair, PublicKey};
pub use proof::{ProofError, document_digest, sign_document, verify_document};
