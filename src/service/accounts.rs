//! Publishers and their bearer tokens.
//!
//! A token reads `<prefix><id>.<secret>` (`shl_` for publishers, `sho_` for
//! orders): the id finds the stored row, the secret is kept only as its
//! SHA-256 and compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::domain::{PublisherId, Sha256Digest};
use crate::error::AppError;
use crate::store::{Publisher, Store, StoreError, StoredToken};

/// Prefix of publisher tokens.
const PUBLISHER_TOKEN_PREFIX: &str = "shl_";

/// Creates a publisher and returns it with its token, which is shown this once.
pub async fn add_publisher(store: &dyn Store, id: PublisherId, name: &str) -> Result<(Publisher, String), AppError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 200
        || name
            .chars()
            .any(|c| c.is_control() || crate::domain::ids::is_invisible(c))
    {
        return Err(AppError::InvalidRequest(
            "a publisher name has 1 to 200 printable characters".into(),
        ));
    }
    let publisher = Publisher {
        id: id.clone(),
        name: name.to_owned(),
        created_at: Utc::now(),
    };
    let token = BearerToken::generate(PUBLISHER_TOKEN_PREFIX);
    let stored = StoredToken {
        id: token.id.clone(),
        publisher: id,
        secret_sha256: token.secret_sha256,
    };
    match store.create_publisher(&publisher, &stored).await {
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(format!("publisher {} already exists", publisher.id))),
        other => other.map_err(AppError::from),
    }?;
    Ok((publisher, token.text))
}

/// Finds the publisher a bearer token belongs to; any mismatch is `Unauthorized`.
pub async fn authenticate_publisher(store: &dyn Store, token: &str) -> Result<PublisherId, AppError> {
    let (token_id, secret) = split_token(token, PUBLISHER_TOKEN_PREFIX).ok_or(AppError::Unauthorized)?;
    let stored = store.find_token(token_id).await?.ok_or(AppError::Unauthorized)?;
    if secret_matches(secret, &stored.secret_sha256) {
        Ok(stored.publisher)
    } else {
        Err(AppError::Unauthorized)
    }
}

/// The token a publisher console's forms carry, derived from the publisher token its
/// cookie holds: a page of another site can neither read that cookie nor this page, so
/// it cannot make a form the console accepts.
pub fn form_token(publisher_token: &str) -> String {
    hex::encode(Sha256::digest(format!("shulian console form\0{publisher_token}")))
}

/// Whether `presented` is the form token of `publisher_token` (compared in constant time).
pub fn form_token_matches(publisher_token: &str, presented: &str) -> bool {
    bool::from(form_token(publisher_token).as_bytes().ct_eq(presented.as_bytes()))
}

/// Whether a presented bearer token is shaped like a publisher token.
pub fn is_publisher_token(token: &str) -> bool {
    token.starts_with(PUBLISHER_TOKEN_PREFIX)
}

/// A freshly made bearer token: `<prefix><id>.<secret>`.
pub struct BearerToken {
    /// The whole token, shown to its holder once.
    pub text: String,
    /// The public id the node looks it up by.
    pub id: String,
    /// SHA-256 of the secret part; the only form of the secret that is stored.
    pub secret_sha256: Sha256Digest,
}

impl BearerToken {
    /// A random token with 256 bits of secret.
    pub fn generate(prefix: &str) -> Self {
        let id = hex::encode(random_bytes::<8>());
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        Self {
            text: format!("{prefix}{id}.{secret}"),
            secret_sha256: hash_secret(&secret),
            id,
        }
    }
}

/// Splits a presented token into its id and secret, if it has the expected prefix.
pub fn split_token<'a>(token: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    token.strip_prefix(prefix).and_then(|rest| rest.split_once('.'))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored: &Sha256Digest) -> bool {
    bool::from(hash_secret(secret).as_bytes().ct_eq(stored.as_bytes()))
}

fn hash_secret(secret: &str) -> Sha256Digest {
    Sha256Digest::from_bytes(Sha256::digest(secret.as_bytes()).into())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; N];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
}
