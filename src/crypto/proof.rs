//! W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite.
//!
//! `hashData = SHA-256(JCS(proofConfig)) ‖ SHA-256(JCS(document))`: 64 raw
//! bytes, proof configuration first, signed with Ed25519 and encoded as
//! multibase base58-btc. A document's `@context`, when present, is copied into
//! the proof configuration, as the specification requires.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::base58;
use super::canonical::{CanonicalError, canonicalize, contains_float};
use super::keys::{Did, KeyPair, PublicKey, SIGNATURE_BYTES};

/// The cryptosuite name written into and required of every proof.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";

/// Why a document could not be signed or did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The document is not a JSON object.
    #[error("a signed document must be a JSON object")]
    NotAnObject,
    /// The document carries a non-integer number, which signed documents must not.
    #[error("signed documents carry no floating-point numbers")]
    Float,
    /// The document could not be canonicalized.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// The proof is missing, malformed or of another cryptosuite.
    #[error("malformed proof: {0}")]
    Malformed(&'static str),
    /// The verification method does not name a usable `did:key`.
    #[error("unknown verification method: {0}")]
    UnknownKey(String),
    /// The signature does not match the document and key.
    #[error("signature does not verify")]
    BadSignature,
}

/// Returns `document` with an `eddsa-jcs-2022` proof by `key` appended.
pub fn sign_document(document: Value, key: &KeyPair, created: DateTime<Utc>) -> Result<Value, ProofError> {
    let Value::Object(mut members) = document else {
        return Err(ProofError::NotAnObject);
    };
    members.remove("proof");
    let unsigned = Value::Object(members);
    if contains_float(&unsigned) {
        return Err(ProofError::Float);
    }
    let mut proof = Map::new();
    proof.insert("type".into(), "DataIntegrityProof".into());
    proof.insert("cryptosuite".into(), CRYPTOSUITE.into());
    proof.insert(
        "created".into(),
        created.to_rfc3339_opts(SecondsFormat::Secs, true).into(),
    );
    proof.insert("verificationMethod".into(), key.verification_method().into());
    proof.insert("proofPurpose".into(), "assertionMethod".into());
    if let Some(context) = unsigned.get("@context") {
        proof.insert("@context".into(), context.clone());
    }
    let signature = key.sign(&hash_data(&proof, &unsigned)?);
    proof.insert("proofValue".into(), format!("z{}", base58::encode(&signature)).into());
    let Value::Object(mut signed) = unsigned else {
        unreachable!("checked to be an object above");
    };
    signed.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(signed))
}

/// Verifies a document signed by a `did:key` and returns the signer's DID.
pub fn verify_document(document: &Value) -> Result<Did, ProofError> {
    let method = document
        .get("proof")
        .and_then(|proof| proof.get("verificationMethod"))
        .and_then(Value::as_str)
        .ok_or(ProofError::Malformed("proof.verificationMethod is missing"))?;
    let did: Did = method
        .split('#')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| ProofError::UnknownKey(method.to_owned()))?;
    if method != did.public_key().verification_method() {
        return Err(ProofError::UnknownKey(method.to_owned()));
    }
    verify_document_with_key(document, &did.public_key())?;
    Ok(did)
}

/// Verifies a signed document against a key known out of band.
pub fn verify_document_with_key(document: &Value, key: &PublicKey) -> Result<(), ProofError> {
    let Value::Object(members) = document else {
        return Err(ProofError::NotAnObject);
    };
    let mut unsigned = members.clone();
    let Some(Value::Object(mut proof)) = unsigned.remove("proof") else {
        return Err(ProofError::Malformed("proof is missing or not an object"));
    };
    let unsigned = Value::Object(unsigned);
    if contains_float(&unsigned) {
        return Err(ProofError::Float);
    }
    if proof.get("type").and_then(Value::as_str) != Some("DataIntegrityProof")
        || proof.get("cryptosuite").and_then(Value::as_str) != Some(CRYPTOSUITE)
    {
        return Err(ProofError::Malformed("not a DataIntegrityProof of eddsa-jcs-2022"));
    }
    if let Some(context) = unsigned.get("@context") {
        if proof.get("@context") != Some(context) {
            return Err(ProofError::Malformed("proof @context differs from the document's"));
        }
    }
    let proof_value = match proof.remove("proofValue") {
        Some(Value::String(text)) => text,
        _ => return Err(ProofError::Malformed("proofValue is missing")),
    };
    let signature = proof_value
        .strip_prefix('z')
        .and_then(|encoded| base58::decode(encoded, SIGNATURE_BYTES).ok())
        .ok_or(ProofError::Malformed("proofValue is not base58-btc multibase"))?;
    if key.verify(&hash_data(&proof, &unsigned)?, &signature) {
        Ok(())
    } else {
        Err(ProofError::BadSignature)
    }
}

/// The digest that names a signed document: SHA-256 of its canonical form.
pub fn document_digest(document: &Value) -> Result<[u8; 32], ProofError> {
    Ok(Sha256::digest(canonicalize(document)?.as_bytes()).into())
}

fn hash_data(proof_config: &Map<String, Value>, unsigned: &Value) -> Result<Vec<u8>, ProofError> {
    let config_hash = Sha256::digest(canonicalize(&Value::Object(proof_config.clone()))?);
    let document_hash = Sha256::digest(canonicalize(unsigned)?);
    let mut joined = Vec::with_capacity(64);
    joined.extend_from_slice(&config_hash);
    joined.extend_from_slice(&document_hash);
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixed_time() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("valid time")
            .with_timezone(&Utc)
    }

    #[test]
    fn signed_document_verifies_and_names_its_signer() {
        let key = KeyPair::generate();
        let signed = sign_document(json!({"a": 1, "b": "数联"}), &key, fixed_time()).expect("sign");
        assert_eq!(verify_document(&signed).expect("verifies"), key.public().did());
    }

    #[test]
    fn any_change_breaks_the_proof() {
        let key = KeyPair::generate();
        let signed = sign_document(json!({"amountFen": 100}), &key, fixed_time()).expect("sign");
        let mut altered = signed.clone();
        altered["amountFen"] = json!(1);
        assert!(matches!(verify_document(&altered), Err(ProofError::BadSignature)));
        let mut altered_proof = signed;
        altered_proof["proof"]["created"] = json!("2030-01-01T00:00:00Z");
        assert!(matches!(verify_document(&altered_proof), Err(ProofError::BadSignature)));
    }

    #[test]
    fn floats_are_refused() {
        let key = KeyPair::generate();
        assert!(matches!(
            sign_document(json!({"price": 1.5}), &key, fixed_time()),
            Err(ProofError::Float)
        ));
    }

    #[test]
    fn hash_data_is_raw_bytes_with_proof_config_first() {
        let config = json!({"b": 2}).as_object().cloned().expect("object");
        let data = hash_data(&config, &json!({"a": 1})).expect("hash");
        assert_eq!(data.len(), 64);
        assert_eq!(data[..32], Sha256::digest(br#"{"b":2}"#)[..]);
        assert_eq!(data[32..], Sha256::digest(br#"{"a":1}"#)[..]);
    }
}
