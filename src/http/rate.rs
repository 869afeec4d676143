//! Rate limits on writes, per client address and per credential.
//!
//! Every write a caller can trigger adds rows (and, for orders and
//! acknowledgements, permanent log entries), so each is bounded twice: by
//! the client's address and by the bearer credential it presents (its public
//! id, never the secret). Token buckets: `burst` writes at once, refilled
//! at `per_minute`. Limits are per replica; behind a load balancer of `n`
//! replicas a client may get up to `n` times the rate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::bearer;
use crate::error::AppError;

/// Most clients and credentials tracked at once; beyond it, idle ones are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// Token buckets of writes, keyed by client address and by credential.
pub struct WriteLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl WriteLimiter {
    /// A limiter allowing `burst` writes at once and `per_minute` sustained; `None` when `per_minute` is 0.
    pub fn new(per_minute: u32, burst: u32) -> Option<Arc<Self>> {
        (per_minute > 0).then(|| {
            Arc::new(Self {
                per_second: f64::from(per_minute) / 60.0,
                burst: f64::from(burst.max(1)),
                buckets: Mutex::default(),
            })
        })
    }

    /// Takes one write from each key's bucket, or says how long to wait.
    fn admit(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() + keys.len() > MAX_TRACKED {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, bucket| refilled(bucket, now, per_second) < burst);
        }
        let mut wait = Duration::ZERO;
        let mut current = Vec::with_capacity(keys.len());
        for key in keys {
            let tokens = match buckets.get(key) {
                Some(bucket) => refilled(bucket, now, self.per_second).min(self.burst),
                None if buckets.len() >= MAX_TRACKED => 0.0,
                None => self.burst,
            };
            if tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - tokens) / self.per_second));
            }
            current.push(tokens);
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for (key, tokens) in keys.iter().zip(current) {
            buckets.insert(
                key.clone(),
                Bucket {
                    tokens: tokens - 1.0,
                    updated: now,
                },
            );
        }
        Ok(())
    }
}

fn refilled(bucket: &Bucket, now: Instant, per_second: f64) -> f64 {
    bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * per_second
}

/// Middleware: refuses a write over its client's or credential's rate with `429` and `Retry-After`.
pub async fn limit_writes(State(limiter): State<Option<Arc<WriteLimiter>>>, request: Request, next: Next) -> Response {
    let Some(limiter) = limiter else {
        return next.run(request).await;
    };
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let mut keys = Vec::with_capacity(2);
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        keys.push(format!("address {}", peer.ip()));
    }
    if let Some(token) = bearer(request.headers()) {
        // The public id before the secret; a made-up token is limited like a real one.
        let id: String = token.split('.').next().unwrap_or_default().chars().take(80).collect();
        keys.push(format!("credential {id}"));
    }
    match limiter.admit(&keys, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => AppError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = WriteLimiter::new(60, 3).expect("on");
        let keys = vec!["address 127.0.0.1".to_owned()];
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.admit(&keys, start).is_ok());
        }
        let wait = limiter.admit(&keys, start).expect_err("over the burst");
        assert!(wait <= Duration::from_secs(1));
        assert!(limiter.admit(&keys, start + Duration::from_secs(1)).is_ok());
        assert!(limiter.admit(&["address 127.0.0.2".to_owned()], start).is_ok());
    }

    #[test]
    fn a_refused_write_takes_nothing_from_the_other_key() {
        let limiter = WriteLimiter::new(60, 1).expect("on");
        let now = Instant::now();
        let credential = "credential a".to_owned();
        assert!(limiter.admit(&["address x".into(), credential.clone()], now).is_ok());
        assert!(limiter.admit(&["address y".into(), credential.clone()], now).is_err());
        assert!(
            limiter.admit(&["address y".into()], now).is_ok(),
            "address y kept its write"
        );
    }

    #[test]
    fn zero_turns_it_off() {
        assert!(WriteLimiter::new(0, 10).is_none());
    }
}
