//! Order-scoped tokens and the grants they carry: who may read which licensed version
//! now. Every path that hands out licensed bytes (downloads, previews, Delta Sharing
//! tickets) asks here before its read is admitted.

use chrono::{DateTime, Utc};

use super::Context;
use super::accounts;
use crate::domain::order::OrderState;
use crate::domain::{DatasetId, FileName, VersionNumber};
use crate::error::AppError;
use crate::store::OrderGrant;

/// Prefix of order-scoped tokens.
pub const ORDER_TOKEN_PREFIX: &str = "sho_";

/// The order an order-scoped token belongs to; any mismatch is `Unauthorized`. With
/// `kept`, an agreed order's grant is taken from, and kept in, this replica's memory.
pub(super) async fn grant_of(ctx: &Context, token: &str, kept: Option<&AgreedGrants>) -> Result<OrderGrant, AppError> {
    let (token_id, secret) = accounts::split_token(token, ORDER_TOKEN_PREFIX).ok_or(AppError::Unauthorized)?;
    let grant = match kept.and_then(|kept| kept.get(token_id)) {
        Some(grant) => grant,
        None => {
            let grant = ctx
                .store
                .find_order_grant(token_id)
                .await?
                .ok_or(AppError::Unauthorized)?;
            if let Some(kept) = kept {
                kept.keep(token_id, &grant);
            }
            grant
        }
    };
    if accounts::secret_matches(secret, &grant.token_secret_sha256) {
        Ok(grant)
    } else {
        Err(AppError::Unauthorized)
    }
}

/// Grants of agreed orders by token id, as this replica read them, so a licensed read
/// does not look its token up again. An agreed grant changes only by being revoked (or
/// by its agreement running out, which it states), and every read under one is admitted
/// against the order's stored state, in log order ([`super::deliveries::admit_read`]):
/// a grant kept here after a revocation delivers nothing. So only the paths whose bytes
/// are admitted (downloads, previews) take grants from here.
#[derive(Debug, Default)]
pub struct AgreedGrants(std::sync::Mutex<KeptGrants>);

/// The grants kept, and the order they were kept in (the oldest goes first when full).
#[derive(Debug, Default)]
struct KeptGrants {
    by_token: std::collections::HashMap<String, OrderGrant>,
    kept_order: std::collections::VecDeque<String>,
}

/// Most grants kept (a few MiB).
const KEPT_GRANTS: usize = 1 << 14;

impl AgreedGrants {
    fn grants(&self) -> std::sync::MutexGuard<'_, KeptGrants> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, token_id: &str) -> Option<OrderGrant> {
        self.grants().by_token.get(token_id).cloned()
    }

    fn keep(&self, token_id: &str, grant: &OrderGrant) {
        if grant.state != OrderState::Agreed {
            return;
        }
        let mut kept = self.grants();
        while kept.by_token.len() >= KEPT_GRANTS {
            // Tokens forgotten since they were kept are skipped on the way.
            let Some(oldest) = kept.kept_order.pop_front() else {
                break;
            };
            kept.by_token.remove(&oldest);
        }
        if kept.by_token.insert(token_id.to_owned(), grant.clone()).is_none() {
            kept.kept_order.push_back(token_id.to_owned());
        }
    }

    /// Forgets an order's grant once a read found the order no longer in force.
    pub fn forget(&self, order_id: &str) {
        let mut kept = self.grants();
        kept.by_token.retain(|_, grant| grant.order_id != order_id);
        let KeptGrants { by_token, kept_order } = &mut *kept;
        kept_order.retain(|token| by_token.contains_key(token));
    }
}

/// Checks that an order-scoped token may read `file` of `dataset` version `version` now;
/// a refusal under a genuine token is recorded against its order. For reads that are
/// then admitted: the grant may come from [`AgreedGrants`].
pub async fn authorize(
    ctx: &Context,
    token: &str,
    dataset: &DatasetId,
    version: VersionNumber,
    file: &FileName,
) -> Result<OrderGrant, AppError> {
    let grant = grant_of(ctx, token, Some(&ctx.agreed_grants)).await?;
    admit(ctx, grant, dataset, version, file).await
}

/// Checks, from the stored order rather than a kept grant, that `grant`'s order is in
/// force now: for answers that carry no bytes and so are not admitted.
pub async fn ensure_in_force(ctx: &Context, grant: &OrderGrant) -> Result<(), AppError> {
    let order = ctx.store.get_order(&grant.order_id).await?;
    match refusal(order.state, order.valid_until, Utc::now()) {
        None => Ok(()),
        Some(refusal) => Err(AppError::OrderInactive(refusal.into())),
    }
}

/// Checks that `grant` covers `file` of `dataset` version `version` now; records a refusal.
pub async fn admit(
    ctx: &Context,
    grant: OrderGrant,
    dataset: &DatasetId,
    version: VersionNumber,
    file: &FileName,
) -> Result<OrderGrant, AppError> {
    if grant.dataset != *dataset || grant.version != version {
        return Err(AppError::Forbidden(format!(
            "this token is for {} version {}, not {dataset} version {version}",
            grant.dataset, grant.version
        )));
    }
    let now = Utc::now();
    match refusal(grant.state, grant.valid_until, now) {
        None => Ok(grant),
        Some(refusal) => {
            ctx.store.record_refusal(&grant.order_id, file, refusal, now).await?;
            Err(AppError::OrderInactive(refusal.into()))
        }
    }
}

/// The grant of an order-scoped token whose agreement is in force now.
pub async fn grant_in_force(ctx: &Context, token: &str) -> Result<OrderGrant, AppError> {
    let grant = grant_of(ctx, token, None).await?;
    match refusal(grant.state, grant.valid_until, Utc::now()) {
        None => Ok(grant),
        Some(refusal) => Err(AppError::OrderInactive(refusal.into())),
    }
}

/// The grant of an order by its token's id (the secret having been checked when a ticket was issued).
pub async fn grant_by_token_id(ctx: &Context, token_id: &str) -> Result<OrderGrant, AppError> {
    ctx.store
        .find_order_grant(token_id)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// Why an order does not allow access at `now`, if it does not.
fn refusal(state: OrderState, valid_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<&'static str> {
    match (state, valid_until) {
        (OrderState::Agreed, Some(until)) if now < until => None,
        (OrderState::Agreed, _) => Some("the agreement has expired"),
        (OrderState::Requested, _) => Some("the order awaits the publisher's decision"),
        (OrderState::Terminated, _) => Some("the order was refused or revoked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sha256Digest;

    fn grant(order: usize) -> OrderGrant {
        OrderGrant {
            order_id: format!("order-{order}"),
            buyer: "did:key:z6Mk".into(),
            dataset: "d".parse().expect("id"),
            version: VersionNumber::FIRST,
            state: OrderState::Agreed,
            valid_until: None,
            max_downloads: 1,
            token_secret_sha256: Sha256Digest::from_bytes([0; 32]),
            order_digest: Sha256Digest::from_bytes([0; 32]),
            demand: None,
        }
    }

    #[test]
    fn a_full_memory_lets_the_oldest_grant_go_not_all() {
        let kept = AgreedGrants::default();
        for order in 0..=KEPT_GRANTS {
            kept.keep(&format!("t{order}"), &grant(order));
        }
        assert!(kept.get("t0").is_none(), "the oldest went");
        assert!(kept.get("t1").is_some() && kept.get(&format!("t{KEPT_GRANTS}")).is_some());
        assert_eq!(kept.grants().by_token.len(), KEPT_GRANTS);
        kept.forget("order-1");
        assert!(kept.get("t1").is_none());
        assert_eq!(kept.grants().kept_order.len(), KEPT_GRANTS - 1);
        let mut requested = grant(0);
        requested.state = OrderState::Requested;
        kept.keep("t0", &requested);
        assert!(kept.get("t0").is_none(), "only agreed grants are kept");
    }
}
