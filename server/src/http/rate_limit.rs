//! Rate limits on the Authentication API and every other password check, per client IP and
//! per username and address, in fixed one-minute windows. One node counts in memory; nodes
//! sharing a store count there, so that spreading requests over nodes gains nothing. Over the
//! limit: `429 E0000047` with Okta's `X-Rate-Limit-Limit/Remaining/Reset` headers, which
//! successful answers carry too.

use super::AppState;
use super::error::ApiError;
use crate::clock::Timestamp;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;
/// Past this many tracked keys, finished windows are dropped on the next check.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Authentication API requests from one client address.
    Ip,
    /// Sign-in or recovery attempts naming one username from one address (see
    /// [`RateLimiter::check_user`]).
    User,
}

/// What an attempt naming a username is for: sign-ins and recoveries are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// A password check: `/api/v1/authn`, the hosted form, the password grant.
    SignIn,
    /// Asking for a reset or unlock email.
    Recovery,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_ip_per_minute: u32,
    pub per_user_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_ip_per_minute: 300,
            per_user_per_minute: 30,
        }
    }
}

/// The state of one key's window after counting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window ends.
    pub reset: i64,
    pub allowed: bool,
}

impl Quota {
    fn headers(&self, h: &mut HeaderMap) {
        for (name, value) in [
            ("x-rate-limit-limit", self.limit.to_string()),
            ("x-rate-limit-remaining", self.remaining.to_string()),
            ("x-rate-limit-reset", self.reset.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
    }

    /// The 429 answer for a request over the limit.
    pub fn exceeded(self) -> Response {
        let mut response = ApiError::RateLimited.into_response();
        self.headers(response.headers_mut());
        response
    }
}

pub struct RateLimiter {
    limits: Limits,
    windows: Mutex<HashMap<(Bucket, String), (i64, u32)>>,
    /// Where hits are counted across nodes (a store that counts; see `Store::count_hit`).
    shared: Option<std::sync::Arc<dyn crate::store::Store>>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            windows: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Counts hits in `store` when several nodes may share it; in memory otherwise.
    pub fn counting_in(self, store: std::sync::Arc<dyn crate::store::Store>) -> Self {
        Self {
            shared: store.is_shared().then_some(store),
            ..self
        }
    }

    /// Whether counting asks the store: a database round trip, not for the async workers.
    pub fn counts_in_store(&self) -> bool {
        self.shared.is_some()
    }

    /// The cluster-wide count for a key, when the store keeps one.
    fn shared_count(&self, bucket: Bucket, key: &str, start: i64) -> Option<u32> {
        let store = self.shared.as_ref()?;
        let prefix = match bucket {
            Bucket::Ip => "ip",
            Bucket::User => "user",
        };
        match store.count_hit(&format!("{prefix}:{key}"), start) {
            Ok(n) => n,
            Err(e) => {
                // The request itself will meet the same outage; count here meanwhile.
                tracing::warn!(error = %e, "cannot count attempts in the store");
                None
            }
        }
    }

    /// Counts an attempt naming `login` from `addr`. The username is counted together with the
    /// address: a stranger's failures from elsewhere cannot keep its owner out (the lockout
    /// after repeated failures still guards the account against guesses from many places).
    pub fn check_user(&self, attempt: Attempt, login: &str, addr: &str, now: Timestamp) -> Quota {
        let purpose = match attempt {
            Attempt::SignIn => "signin",
            Attempt::Recovery => "recovery",
        };
        let login = crate::directory::users::login_key(login);
        self.check(Bucket::User, &format!("{purpose}:{login}|{addr}"), now)
    }

    /// Counts one request for `key` in `bucket` at `now`.
    pub fn check(&self, bucket: Bucket, key: &str, now: Timestamp) -> Quota {
        let limit = match bucket {
            Bucket::Ip => self.limits.per_ip_per_minute,
            Bucket::User => self.limits.per_user_per_minute,
        };
        let start = now.millis() - now.millis().rem_euclid(WINDOW_MS);
        let hits = self
            .shared_count(bucket, key, start)
            .unwrap_or_else(|| self.count_here(bucket, key, start));
        Quota {
            limit,
            remaining: limit.saturating_sub(hits),
            reset: (start + WINDOW_MS) / 1000,
            allowed: hits <= limit,
        }
    }

    /// Counts one hit in this node's own window for `key`; returns the hits so far.
    fn count_here(&self, bucket: Bucket, key: &str, start: i64) -> u32 {
        let mut windows = match self.windows.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() > PRUNE_AT {
            windows.retain(|_, (s, _)| *s == start);
        }
        let entry = windows
            .entry((bucket, key.to_owned()))
            .or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1
    }
}

impl AppState {
    /// Runs `count` against the rate limiter: on the blocking pool when the counts live in a
    /// shared store, at once when they are in memory.
    pub async fn rate_limit<T: Send + 'static>(
        &self,
        count: impl FnOnce(&RateLimiter) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        if self.limiter.counts_in_store() {
            self.blocking(move |s| count(&s.limiter)).await
        } else {
            Ok(count(&self.limiter))
        }
    }
}

/// Middleware for the Authentication API: counts each request against its client address.
pub async fn per_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = super::extract::client_addr(req.extensions());
    let addr = ip.clone();
    let quota =
        match (state.rate_limit(move |l| l.check(Bucket::Ip, &addr, Timestamp::now()))).await {
            Ok(q) => q,
            Err(e) => return e.into_response(),
        };
    if !quota.allowed {
        tracing::warn!(%ip, "authentication API rate limit exceeded");
        return quota.exceeded();
    }
    let mut response = next.run(req).await;
    // A per-username answer inside already reports the tighter limit.
    if !response.headers().contains_key("x-rate-limit-limit") {
        quota.headers(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_a_window_and_resets_with_the_next() {
        let rl = RateLimiter::new(Limits {
            per_ip_per_minute: 2,
            per_user_per_minute: 1,
        });
        let t = Timestamp::from_millis(1_800_000_000_000);
        assert!(rl.check(Bucket::Ip, "1.2.3.4", t).allowed);
        let second = rl.check(Bucket::Ip, "1.2.3.4", t);
        assert!(second.allowed && second.remaining == 0);
        let third = rl.check(Bucket::Ip, "1.2.3.4", t);
        assert!(!third.allowed);
        // 1_800_000_000 s is on a minute boundary, so the window ends a minute later.
        assert_eq!(third.reset, 1_800_000_060);
        assert!(
            rl.check(Bucket::Ip, "5.6.7.8", t).allowed,
            "keys are separate"
        );
        assert!(
            rl.check(Bucket::User, "1.2.3.4", t).allowed,
            "buckets are separate"
        );
        let next = t.plus(std::time::Duration::from_secs(60));
        assert!(rl.check(Bucket::Ip, "1.2.3.4", next).allowed);
    }
}
