//! Tickets: short claims the node signs for itself and later accepts back,
//! such as the pre-signed file URLs Delta Sharing hands to readers that send
//! no credentials of their own.
//!
//! Form: `base64url(canonical JSON claims) "." base64url(Ed25519 signature)`.
//! Domain-separated from every other signature the node makes, so a ticket
//! can never be passed off as a manifest, receipt or checkpoint, nor the reverse.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::canonical;
use super::keys::{KeyPair, PublicKey};

/// Prefix of the signed bytes.
const DOMAIN: &[u8] = b"shulian-ticket-v1\n";

/// Signs `claims` into a ticket.
pub fn issue(claims: &Value, key: &KeyPair) -> Result<String, canonical::CanonicalError> {
    let text = canonical::canonicalize(claims)?;
    let signature = key.sign(&[DOMAIN, text.as_bytes()].concat());
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(text.as_bytes()),
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The claims of a ticket `key` signed; `None` for anything else.
pub fn accept(ticket: &str, key: &PublicKey) -> Option<Value> {
    let (claims, signature) = ticket.split_once('.')?;
    let claims = URL_SAFE_NO_PAD.decode(claims).ok()?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if !key.verify(&[DOMAIN, claims.as_slice()].concat(), &signature) {
        return None;
    }
    canonical::parse_strict(&claims).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tickets_verify_only_unaltered_and_under_their_key() {
        let key = KeyPair::generate();
        let claims = json!({"file": "数据.parquet", "expires": 1_800_000_000});
        let ticket = issue(&claims, &key).expect("issue");
        assert_eq!(accept(&ticket, &key.public()), Some(claims));
        assert_eq!(accept(&ticket, &KeyPair::generate().public()), None);
        let (body, signature) = ticket.split_once('.').expect("two parts");
        let forged = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(br#"{"expires":9999999999,"file":"x"}"#)
        );
        assert_eq!(accept(&forged, &key.public()), None);
        assert_eq!(accept(body, &key.public()), None);
        assert_eq!(accept("", &key.public()), None);
    }
}
