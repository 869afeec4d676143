//! The node's identity at start-up: one key per database, checked every time.
//!
//! A node whose database went missing would start a second log at index 0
//! under its old key, so checkpoints it signed before would conflict with
//! the new ones; a node whose key went missing would sign on under a new
//! identity over the old log. Both refuse to start and say how to restore,
//! unless the operator deliberately re-initialises.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::Utc;

use crate::crypto::KeyPair;
use crate::store::Store;

/// What to do when the key and the database do not belong together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Refuse to start (the default).
    Refuse,
    /// Start anyway, recording the key (created if missing) as the node's identity.
    Reinitialize,
}

/// Loads (or, for a new node, creates) the node key and checks it belongs to the database.
pub async fn establish(store: &dyn Store, key_file: &Path, mismatch: Mismatch) -> anyhow::Result<KeyPair> {
    let recorded = store.node_identity().await?;
    let log_size = store.log_size().await?;
    let key_exists = key_file.exists();
    let restore = "restore it from a backup, or start a new identity deliberately with `shulian serve --reinitialize`";
    let key = match (key_exists, &recorded) {
        (true, _) => {
            check_key_file_mode(key_file)?;
            KeyPair::load(key_file).with_context(|| format!("node key {}", key_file.display()))?
        }
        (false, None) if log_size == 0 => KeyPair::load_or_create(key_file)?,
        (false, _) if mismatch == Mismatch::Reinitialize => {
            tracing::warn!(key = %key_file.display(), "node key missing: creating a new identity as asked");
            KeyPair::load_or_create(key_file)?
        }
        (false, _) => bail!(
            "the node key file {} is missing, but the database holds a log of {log_size} entries signed by {}: {restore}",
            key_file.display(),
            recorded.as_deref().unwrap_or("an earlier key")
        ),
    };
    let did = key.did();
    match recorded {
        Some(recorded) if recorded == did.as_str() => {}
        Some(recorded) if mismatch == Mismatch::Refuse => bail!(
            "the node key {} is {did}, but this database's log is signed by {recorded}: use the key that belongs to this database, or {restore}",
            key_file.display()
        ),
        None if log_size == 0 && key_exists && mismatch == Mismatch::Refuse => bail!(
            "the node key {} exists but the database is empty: if this node ran before, its database is missing \
             (its log would restart at 0 and contradict checkpoints it signed); restore the database, or start a new log \
             under this key deliberately with `shulian serve --reinitialize`",
            key_file.display()
        ),
        None if log_size > 0 && mismatch == Mismatch::Refuse && !first_entry_signed_by(store, did.as_str()).await? => {
            bail!(
                "the node key {} is {did}, which did not sign this database's log: use the key that belongs to this database, or {restore}",
                key_file.display()
            )
        }
        _ => {
            store.record_node_identity(did.as_str(), Utc::now()).await?;
            tracing::info!(node = %did, "node identity recorded");
        }
    }
    Ok(key)
}

/// Whether the log's first entry names `did` (databases from before identities were recorded).
async fn first_entry_signed_by(store: &dyn Store, did: &str) -> anyhow::Result<bool> {
    let first = store.log_entries(0, 1, u64::MAX).await?;
    Ok(first.first().is_some_and(|entry| entry.entry.contains(did)))
}

/// Makes sure only the owner can read the key file: a wider mode is narrowed to 0600, with a warning;
/// where that is impossible (a read-only mount), the node refuses to start.
fn check_key_file_mode(key_file: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(key_file)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(key_file, std::fs::Permissions::from_mode(0o600)).with_context(|| {
                format!(
                    "the node key {} is readable by other users (mode {:o}) and its mode cannot be changed: \
                     make it readable by the node's user only (chmod 600, or a secret mount with mode 0400)",
                    key_file.display(),
                    mode & 0o777
                )
            })?;
            tracing::warn!(
                key = %key_file.display(),
                was = format!("{:o}", mode & 0o777),
                "node key was readable by other users: its mode is now 600"
            );
        }
    }
    Ok(())
}
