//! C2SP signed notes (`signed-note`), the form of transparency-log checkpoints.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one line per
//! signature: `— <key name> <base64(key id ‖ signature)>`. For an Ed25519
//! key the id is the first four bytes of
//! `SHA-256(<key name> ‖ 0x0A ‖ 0x01 ‖ public key)` and the signature covers
//! the note text exactly.
//!
//! A witness's cosignature (C2SP `tlog-cosignature`, Ed25519 type) is one more
//! signature line on a checkpoint: its key id uses type byte `0x04`, and its
//! bytes are a big-endian timestamp followed by a signature over
//! `cosignature/v1\ntime <timestamp>\n` and the checkpoint's text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::keys::{KeyPair, PublicKey};

/// Signature type byte of Ed25519 in key ids.
const ED25519_ALGORITHM: u8 = 0x01;
/// Signature type byte of Ed25519 timestamped cosignatures (`cosignature/v1`).
const COSIGNATURE_ALGORITHM: u8 = 0x04;
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a note did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The text is not a signed note.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// No signature by the expected key verifies.
    #[error("no valid signature by {0}")]
    NotSigned(String),
}

/// The 4-byte id of an Ed25519 note key.
pub fn key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    typed_key_id(name, ED25519_ALGORITHM, key)
}

fn typed_key_id(name: &str, algorithm: u8, key: &PublicKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x0A, algorithm]);
    hasher.update(key.to_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key string (`<name>+<hex id>+<base64(0x01 ‖ key)>`) other note tools accept.
pub fn verifier_key(name: &str, key: &PublicKey) -> String {
    typed_verifier_key(name, ED25519_ALGORITHM, key)
}

/// The verifier key of a witness's cosignatures (`<name>+<hex id>+<base64(0x04 ‖ key)>`).
pub fn cosigner_verifier_key(name: &str, key: &PublicKey) -> String {
    typed_verifier_key(name, COSIGNATURE_ALGORITHM, key)
}

fn typed_verifier_key(name: &str, algorithm: u8, key: &PublicKey) -> String {
    let mut encoded = vec![algorithm];
    encoded.extend_from_slice(&key.to_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(typed_key_id(name, algorithm, key)),
        STANDARD.encode(encoded)
    )
}

/// A witness as a verifier of cosignatures knows it: its name and key, read from its
/// verifier key string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigner {
    /// The key name its signature lines carry.
    pub name: String,
    /// Its Ed25519 key.
    pub key: PublicKey,
}

impl std::str::FromStr for Cosigner {
    type Err = NoteError;

    /// Parses a cosigner verifier key, checking its id against its name and key.
    fn from_str(text: &str) -> Result<Self, NoteError> {
        let malformed = NoteError::Malformed("a cosigner key is <name>+<hex id>+<base64(0x04 ‖ Ed25519 key)>");
        // The name and the hex id hold no '+'; the base64 key may.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed);
        };
        let bytes = STANDARD.decode(encoded).map_err(|_| malformed.clone())?;
        let (Some(&COSIGNATURE_ALGORITHM), Ok(key)) =
            (bytes.first(), <[u8; 32]>::try_from(&bytes[1.min(bytes.len())..]))
        else {
            return Err(malformed);
        };
        let key = PublicKey::from_bytes(&key).ok_or_else(|| malformed.clone())?;
        if name.is_empty() || id != hex::encode(typed_key_id(name, COSIGNATURE_ALGORITHM, &key)) {
            return Err(malformed);
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }
}

/// The message a `cosignature/v1` signs: the header, the time and the checkpoint's text.
fn cosigned_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A witness's cosignature line (ending in a newline) on the checkpoint `note`, made at `timestamp`.
pub fn cosign(note: &str, name: &str, key: &KeyPair, timestamp: u64) -> Result<String, NoteError> {
    let (text, _) = split(note)?;
    let mut signature = typed_key_id(name, COSIGNATURE_ALGORITHM, &key.public()).to_vec();
    signature.extend_from_slice(&timestamp.to_be_bytes());
    signature.extend_from_slice(&key.sign(cosigned_message(text, timestamp).as_bytes()));
    Ok(format!("{SIGNATURE_PREFIX}{name} {}\n", STANDARD.encode(signature)))
}

/// When `cosigner` cosigned the checkpoint `note`, if one of its signature lines is a valid
/// cosignature of it by that witness.
pub fn cosigned_at(note: &str, cosigner: &Cosigner) -> Result<u64, NoteError> {
    let (text, signatures) = split(note)?;
    let wanted_id = typed_key_id(&cosigner.name, COSIGNATURE_ALGORITHM, &cosigner.key);
    for (signer, bytes) in signature_lines(signatures)? {
        if signer != cosigner.name || bytes.len() != 76 || bytes[..4] != wanted_id {
            continue;
        }
        let timestamp = u64::from_be_bytes(bytes[4..12].try_into().unwrap_or_default());
        if cosigner
            .key
            .verify(cosigned_message(text, timestamp).as_bytes(), &bytes[12..])
        {
            return Ok(timestamp);
        }
    }
    Err(NoteError::NotSigned(cosigner.name.clone()))
}

/// A note's signed text (with its final newline) and its signature block.
fn split(note: &str) -> Result<(&str, &str), NoteError> {
    let split = note
        .find("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if !signatures.ends_with('\n') {
        return Err(NoteError::Malformed("the signature block must end with a newline"));
    }
    Ok((text, signatures))
}

/// Each signature line's key name and decoded bytes (a line whose bytes are not base64
/// is skipped: it can be no one's valid signature).
fn signature_lines(signatures: &str) -> Result<Vec<(&str, Vec<u8>)>, NoteError> {
    let mut lines = Vec::new();
    for line in signatures.lines() {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::Malformed("a signature line lacks the em dash"))?;
        let (signer, encoded) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("a signature line lacks its signature"))?;
        if let Ok(bytes) = STANDARD.decode(encoded) {
            lines.push((signer, bytes));
        }
    }
    Ok(lines)
}

/// Signs `text` (which must end with a newline) as key `name`; returns the whole note.
pub fn sign_note(text: &str, name: &str, key: &KeyPair) -> Result<String, NoteError> {
    if !text.ends_with('\n')
        || text.contains("\n\n")
        || name.is_empty()
        || name.contains(char::is_whitespace)
        || name.contains('+')
    {
        return Err(NoteError::Malformed(
            "the text must end in one newline and the key name be one word without '+'",
        ));
    }
    let mut signature = key_id(name, &key.public()).to_vec();
    signature.extend_from_slice(&key.sign(text.as_bytes()));
    Ok(format!(
        "{text}\n{SIGNATURE_PREFIX}{name} {}\n",
        STANDARD.encode(signature)
    ))
}

/// Verifies a note's signature by `name`/`key` and returns the signed text.
pub fn verify_note<'a>(note: &'a str, name: &str, key: &PublicKey) -> Result<&'a str, NoteError> {
    let (text, signatures) = split(note)?;
    let wanted_id = key_id(name, key);
    for (signer, bytes) in signature_lines(signatures)? {
        if signer == name && bytes.len() == 68 && bytes[..4] == wanted_id && key.verify(text.as_bytes(), &bytes[4..]) {
            return Ok(text);
        }
    }
    Err(NoteError::NotSigned(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_round_trip_and_reject_tampering() {
        let key = KeyPair::generate();
        let note = sign_note("example.org/log\n3\nAAAA\n", "example.org/log", &key).expect("sign");
        assert!(note.starts_with("example.org/log\n3\nAAAA\n\n\u{2014} example.org/log "));
        assert_eq!(
            verify_note(&note, "example.org/log", &key.public()),
            Ok("example.org/log\n3\nAAAA\n")
        );
        let tampered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(verify_note(&tampered, "example.org/log", &key.public()).is_err());
        assert!(verify_note(&note, "other", &key.public()).is_err());
        assert!(verify_note(&note, "example.org/log", &KeyPair::generate().public()).is_err());
        assert!(sign_note("no newline", "n", &key).is_err());
    }

    #[test]
    fn key_ids_follow_the_c2sp_formula() {
        let key = KeyPair::from_seed([7; 32]);
        let mut preimage = b"name\n\x01".to_vec();
        preimage.extend_from_slice(&key.public().to_bytes());
        assert_eq!(key_id("name", &key.public()), Sha256::digest(&preimage)[..4]);
        let verifier = verifier_key("name", &key.public());
        let parts: Vec<&str> = verifier.split('+').collect();
        assert_eq!(parts[..2], ["name", &hex::encode(key_id("name", &key.public()))]);
        let encoded = STANDARD.decode(parts[2]).expect("base64");
        assert_eq!((encoded[0], &encoded[1..]), (0x01, &key.public().to_bytes()[..]));
    }

    #[test]
    fn cosignatures_follow_tlog_cosignature_v1() {
        let log = KeyPair::from_seed([1; 32]);
        let witness = KeyPair::from_seed([2; 32]);
        let note = sign_note("example.org/log\n3\nAAAA\n", "example.org/log", &log).expect("sign");
        let line = cosign(&note, "example.org/w1", &witness, 1_679_315_147).expect("cosign");
        let cosigner: Cosigner = cosigner_verifier_key("example.org/w1", &witness.public())
            .parse()
            .expect("verifier key");
        let cosigned = format!("{note}{line}");
        assert_eq!(cosigned_at(&cosigned, &cosigner), Ok(1_679_315_147));
        // The log's own signature still verifies beside the cosignature.
        assert!(verify_note(&cosigned, "example.org/log", &log.public()).is_ok());

        // The bytes: id (type 0x04) ‖ big-endian time ‖ Ed25519 over the v1 message.
        let bytes = STANDARD
            .decode(line.trim_end().rsplit(' ').next().expect("signature"))
            .expect("base64");
        let mut preimage = b"example.org/w1\n\x04".to_vec();
        preimage.extend_from_slice(&witness.public().to_bytes());
        assert_eq!(bytes[..4], Sha256::digest(&preimage)[..4]);
        assert_eq!(bytes[4..12], 1_679_315_147u64.to_be_bytes());
        let message = "cosignature/v1\ntime 1679315147\nexample.org/log\n3\nAAAA\n";
        assert!(witness.public().verify(message.as_bytes(), &bytes[12..]));

        // Not a cosignature of another checkpoint, by another key, or under the log's name.
        let other = sign_note("example.org/log\n4\nAAAA\n", "example.org/log", &log).expect("sign");
        assert!(cosigned_at(&format!("{other}{line}"), &cosigner).is_err());
        let stranger: Cosigner = cosigner_verifier_key("example.org/w1", &log.public())
            .parse()
            .expect("verifier key");
        assert!(cosigned_at(&cosigned, &stranger).is_err());
        assert!(cosigned_at(&note, &cosigner).is_err());
        // A log key (type 0x01) is not a cosigner key, and a wrong id is refused.
        assert!(
            verifier_key("example.org/w1", &witness.public())
                .parse::<Cosigner>()
                .is_err()
        );
        let key = cosigner_verifier_key("example.org/w1", &witness.public());
        assert!(
            key.replacen("example.org/w1", "example.org/w2", 1)
                .parse::<Cosigner>()
                .is_err()
        );
        // Base64 may hold '+': every key parses back.
        for seed in 0..64 {
            let key = KeyPair::from_seed([seed; 32]).public();
            let parsed: Cosigner = cosigner_verifier_key("w", &key).parse().expect("parses");
            assert_eq!(parsed.key, key);
        }
    }
}
