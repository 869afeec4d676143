//! The C2SP `tlog-witness` protocol's words: the `add-checkpoint` request a log sends
//! its witnesses, and why a witness refuses one.
//!
//! A request is an `old <size>` line, up to 63 base64 consistency-proof hashes one per
//! line, an empty line, then the signed checkpoint note.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::merkle;

/// Most consistency-proof lines a request may carry (the spec's bound: a proof between
/// trees of up to 2^63 leaves).
pub const MAX_PROOF_LINES: usize = 63;

/// Largest request body a witness reads: 63 hashes and a checkpoint with a few signatures.
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// An `add-checkpoint` request, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness last cosigned, as the log believes.
    pub old_size: u64,
    /// The consistency proof from that size to the checkpoint's.
    pub proof: Vec<merkle::Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// Parses a request body, refusing anything the spec does not allow.
    pub fn parse(body: &str) -> Result<Self, WitnessRefusal> {
        let malformed = |why: &'static str| WitnessRefusal::Malformed(why);
        let (head, checkpoint) = body
            .split_once("\n\n")
            .ok_or(malformed("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .ok_or(malformed("the first line is not 'old <size>'"))?;
        if old.is_empty() || (old.len() > 1 && old.starts_with('0')) || !old.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("the old size is not a decimal without leading zeroes"));
        }
        let old_size = old.parse().map_err(|_| malformed("the old size is out of range"))?;
        let proof = lines
            .map(|line| {
                STANDARD
                    .decode(line)
                    .ok()
                    .and_then(|bytes| merkle::Hash::try_from(bytes).ok())
                    .ok_or(malformed("a proof line is not a base64 SHA-256 hash"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(malformed("more than 63 proof lines"));
        }
        if old_size == 0 && !proof.is_empty() {
            return Err(malformed("a proof from the empty tree must be empty"));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The request's body, as the spec lays it out.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// The checkpoint's origin line (whose keys the witness looks up).
    pub fn origin(&self) -> &str {
        self.checkpoint.split('\n').next().unwrap_or_default()
    }
}

/// The latest checkpoint a witness verified of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessedCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// Its root.
    pub root: merkle::Hash,
    /// The signed note, as received.
    pub note: String,
}

/// Evidence a witness kept of a log that showed two trees: the checkpoint it had
/// verified and one that does not extend it, both signed by the log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The log's origin.
    pub origin: String,
    /// The size of the conflicting checkpoint.
    pub size: u64,
    /// The checkpoint the witness had verified (signed note).
    pub accepted: String,
    /// The checkpoint that does not extend it (signed note).
    pub conflicting: String,
    /// Why they conflict.
    pub reason: String,
    /// When the witness saw it.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Why a witness does not cosign; each has the status the spec gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The request is not one (400).
    #[error("malformed add-checkpoint request: {0}")]
    Malformed(&'static str),
    /// The old size is larger than the checkpoint's (400).
    #[error("the old size {old} is larger than the checkpoint's {size}")]
    OldTooLarge {
        /// The old size given.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The witness follows no log of this origin (404).
    #[error("this witness follows no log with origin {0}")]
    UnknownLog(String),
    /// No signature by the log's known key verifies (403).
    #[error("the checkpoint is not signed by the key of log {0}")]
    NotSigned(String),
    /// The old size is not the size the witness last cosigned (409, with that size).
    #[error("the witness last cosigned a checkpoint of size {latest}")]
    OldSizeDiffers {
        /// The size of the latest checkpoint the witness cosigned for this log.
        latest: u64,
    },
    /// The checkpoint has the size of the one last cosigned but another root: the log
    /// shows two trees of one size (409). Both signed checkpoints are kept as evidence.
    #[error("the log signed two different trees of size {0}: both checkpoints are kept as evidence")]
    Fork(u64),
    /// The consistency proof does not verify (422). Both signed checkpoints are kept as evidence.
    #[error("the checkpoint is not consistent with the one cosigned at size {0}: both are kept as evidence")]
    Inconsistent(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

    #[test]
    fn requests_parse_as_the_spec_lays_them_out() {
        // The spec's example request.
        let body = format!(
            "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\n{CHECKPOINT}"
        );
        let request = AddCheckpoint::parse(&body).expect("parse");
        assert_eq!((request.old_size, request.proof.len()), (20_852_014, 4));
        assert_eq!(request.origin(), "example.com/behind-the-sofa");
        assert_eq!(request.checkpoint, CHECKPOINT);
        assert_eq!(request.body(), body);

        let first = AddCheckpoint::parse(&format!("old 0\n\n{CHECKPOINT}")).expect("parse");
        assert_eq!((first.old_size, first.proof.len()), (0, 0));
        for bad in [
            format!("old 01\n\n{CHECKPOINT}"),
            format!("old -1\n\n{CHECKPOINT}"),
            format!("old \n\n{CHECKPOINT}"),
            format!("new 1\n\n{CHECKPOINT}"),
            format!("old 1\nnot base64!\n\n{CHECKPOINT}"),
            format!("old 1\nAAAA\n\n{CHECKPOINT}"),
            format!("old 0\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\n{CHECKPOINT}"),
            format!(
                "old 1\n{}\n{CHECKPOINT}",
                "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n".repeat(64)
            ),
            "old 1\n".to_owned(),
        ] {
            assert!(
                matches!(AddCheckpoint::parse(&bad), Err(WitnessRefusal::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
