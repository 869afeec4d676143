//! C2SP signed notes (`signed-note`), the form of transparency-log checkpoints.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one line per
//! signature: `— <key name> <base64(key id ‖ signature)>`. For an Ed25519
//! key the id is the first four bytes of
//! `SHA-256(<key name> ‖ 0x0A ‖ 0x01 ‖ public key)` and the signature covers
//! the note text exactly.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::keys::{KeyPair, PublicKey};

/// Signature type byte of Ed25519 in key ids.
const ED25519_ALGORITHM: u8 = 0x01;
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
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([0x0A, ED25519_ALGORITHM]);
    hasher.update(key.to_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key string (`<name>+<hex id>+<base64(0x01 ‖ key)>`) other note tools accept.
pub fn verifier_key(name: &str, key: &PublicKey) -> String {
    let mut encoded = vec![ED25519_ALGORITHM];
    encoded.extend_from_slice(&key.to_bytes());
    format!("{name}+{}+{}", hex::encode(key_id(name, key)), STANDARD.encode(encoded))
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
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if !signatures.ends_with('\n') {
        return Err(NoteError::Malformed("the signature block must end with a newline"));
    }
    let wanted_id = key_id(name, key);
    for line in signatures.lines() {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(NoteError::Malformed("a signature line lacks the em dash"))?;
        let (signer, encoded) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("a signature line lacks its signature"))?;
        if signer != name {
            continue;
        }
        let Ok(bytes) = STANDARD.decode(encoded) else { continue };
        if bytes.len() == 68 && bytes[..4] == wanted_id && key.verify(text.as_bytes(), &bytes[4..]) {
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
}
