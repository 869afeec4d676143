//! Publishers and their bearer tokens.
//!
//! A token reads `shl_<id>.<secret>`: the id finds the stored row, the
//! secret is kept only as its SHA-256 and compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::domain::{PublisherId, Sha256Digest};
use crate::error::AppError;
use crate::store::{Publisher, Store, StoreError, StoredToken};

const TOKEN_PREFIX: &str = "shl_";

/// Creates a publisher and returns it with its token, which is shown this once.
pub async fn add_publisher(store: &dyn Store, id: PublisherId, name: &str) -> Result<(Publisher, String), AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::InvalidRequest(
            "a publisher name has 1 to 200 printable characters".into(),
        ));
    }
    let publisher = Publisher {
        id: id.clone(),
        name: name.to_owned(),
        created_at: Utc::now(),
    };
    let token_id = hex::encode(random_bytes::<8>());
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let stored = StoredToken {
        id: token_id.clone(),
        publisher: id,
        secret_sha256: hash_secret(&secret),
    };
    match store.create_publisher(&publisher, &stored).await {
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(format!("publisher {} already exists", publisher.id))),
        other => other.map_err(AppError::from),
    }?;
    Ok((publisher, format!("{TOKEN_PREFIX}{token_id}.{secret}")))
}

/// Finds the publisher a bearer token belongs to; any mismatch is `Unauthorized`.
pub async fn authenticate_publisher(store: &dyn Store, token: &str) -> Result<PublisherId, AppError> {
    let (token_id, secret) = token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .ok_or(AppError::Unauthorized)?;
    let stored = store.find_token(token_id).await?.ok_or(AppError::Unauthorized)?;
    let presented = hash_secret(secret);
    if bool::from(presented.as_bytes().ct_eq(stored.secret_sha256.as_bytes())) {
        Ok(stored.publisher)
    } else {
        Err(AppError::Unauthorized)
    }
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
