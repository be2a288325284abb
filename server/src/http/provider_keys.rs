//! Upstream providers' signing keys (their JWKS), kept between sign-ins.
//!
//! Fetching a provider's keys for every sign-in adds a round trip to each one and makes a slow
//! or briefly unreachable provider everyone's problem. A set is kept for as long as the
//! provider's `Cache-Control: max-age` says, within five minutes and a day (an hour when it
//! says nothing). An ID token signed with a key the kept set does not name — the provider has
//! rotated — fetches the set again at once; such fetches happen at most every 30 seconds per
//! provider, so tokens with made-up key ids cannot make this server hammer it. When a fetch fails, the last
//! set still serves for up to a day. One fetch per provider at a time: sign-ins that arrive
//! meanwhile wait for its answer instead of each asking.
//!
//! The sets are a cache of what the provider publishes, not state of this org: each node keeps
//! its own, and a node that starts fetches again.

use super::federation::{Upstream, http, json_of};
use axum::http::header;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEFAULT_FRESH: Duration = Duration::from_secs(3600);
const MIN_FRESH: Duration = Duration::from_secs(300);
const MAX_FRESH: Duration = Duration::from_secs(86_400);
/// A set this old is not used even when the provider cannot be reached.
const MAX_STALE: Duration = Duration::from_secs(86_400);
/// The least time between two fetches for a key the kept set does not name.
const MIN_REFETCH: Duration = Duration::from_secs(30);
/// Providers remembered at most (an org has a handful; edits can leave old addresses).
const MAX_PROVIDERS: usize = 256;

/// The kept key sets, by their address.
#[derive(Default)]
pub struct ProviderKeys {
    sets: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// What is known of one provider's keys.
#[derive(Default)]
struct Slot {
    set: Option<KeySet>,
    /// When the last fetch failed: for `MIN_REFETCH` after it, sign-ins do not ask again (each
    /// would wait out the timeout in turn) but use the last set, or are refused at once.
    failed: Option<Instant>,
}

struct KeySet {
    keys: Arc<Value>,
    fetched: Instant,
    fresh_for: Duration,
    /// When the set was last fetched again before its time (a key it lacked, or a signature
    /// none of its keys verified).
    missed: Option<Instant>,
}

impl KeySet {
    fn names(&self, kid: &str) -> bool {
        self.keys["keys"]
            .as_array()
            .is_some_and(|keys| keys.iter().any(|k| k["kid"].as_str() == Some(kid)))
    }

    fn fresh(&self, now: Instant) -> bool {
        now.duration_since(self.fetched) < self.fresh_for
    }

    fn cooling(&self, now: Instant) -> bool {
        self.missed
            .is_some_and(|at| now.duration_since(at) < MIN_REFETCH)
    }

    /// Whether a token signed with `kid` is checked against this set as it is.
    fn serves(&self, kid: Option<&str>, now: Instant) -> bool {
        self.fresh(now) && (kid.is_none_or(|kid| self.names(kid)) || self.cooling(now))
    }
}

impl ProviderKeys {
    /// The keys at `url` to check a token signed with key `kid`: the kept set while it is
    /// fresh and names `kid`, else a fetched one.
    pub(super) async fn for_token(
        &self,
        url: &str,
        kid: Option<&str>,
    ) -> Result<Arc<Value>, Upstream> {
        let slot = self.slot(url);
        let mut slot = slot.lock().await;
        let now = Instant::now();
        if let Some(set) = slot.set.as_ref().filter(|set| set.serves(kid, now)) {
            return Ok(set.keys.clone());
        }
        let early = slot.set.as_ref().is_some_and(|set| set.fresh(now));
        refresh(&mut slot, url, early).await
    }

    /// The set at `url` fetched again before its time, after a signature none of the kept
    /// keys verified (a provider that replaced a key under the same id, or names none): the
    /// new set, or `None` when it was fetched so recently that asking again would not help.
    pub(super) async fn refetched(&self, url: &str) -> Option<Arc<Value>> {
        let slot = self.slot(url);
        let mut slot = slot.lock().await;
        let now = Instant::now();
        let set = slot.set.as_ref()?;
        if set.cooling(now) || now.duration_since(set.fetched) < MIN_REFETCH {
            return None;
        }
        refresh(&mut slot, url, true).await.ok()
    }

    fn slot(&self, url: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        if !sets.contains_key(url) && sets.len() >= MAX_PROVIDERS {
            sets.clear();
        }
        sets.entry(url.to_owned()).or_default().clone()
    }
}

/// Fetches the set into `slot` (`early`: before its time, which starts the cool-down), or
/// falls back to the last one while the provider cannot be reached.
async fn refresh(slot: &mut Slot, url: &str, early: bool) -> Result<Arc<Value>, Upstream> {
    let now = Instant::now();
    let stale = |slot: &Slot, e: Upstream| match slot.set.as_ref() {
        Some(set) if now.duration_since(set.fetched) < MAX_STALE => {
            tracing::warn!(url, error = %e.0, "using the provider's last keys");
            Ok(set.keys.clone())
        }
        _ => Err(e),
    };
    if slot
        .failed
        .is_some_and(|at| now.duration_since(at) < MIN_REFETCH)
    {
        let e = Upstream("keys: the provider could not be reached moments ago".into());
        return stale(slot, e);
    }
    let missed = if early {
        Some(now)
    } else {
        slot.set.as_ref().and_then(|set| set.missed)
    };
    match fetch(url).await {
        Ok((keys, fresh_for)) => {
            let keys = Arc::new(keys);
            slot.set = Some(KeySet {
                keys: keys.clone(),
                fetched: Instant::now(),
                fresh_for,
                missed,
            });
            slot.failed = None;
            Ok(keys)
        }
        Err(e) => {
            slot.failed = Some(Instant::now());
            stale(slot, e)
        }
    }
}

async fn fetch(url: &str) -> Result<(Value, Duration), Upstream> {
    let res = http()
        .get(url)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Upstream(format!("keys: {e}")))?;
    let fresh_for = res
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .map_or(DEFAULT_FRESH, fresh_for);
    let keys = json_of(res, "keys").await?;
    if !keys["keys"].is_array() {
        return Err(Upstream("keys: the answer has no \"keys\" array".into()));
    }
    Ok((keys, fresh_for))
}

/// How long a `Cache-Control` value lets the set be kept, within this server's bounds.
fn fresh_for(cache_control: &str) -> Duration {
    let mut max_age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return MIN_FRESH;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            max_age = secs.trim_matches('"').parse::<u64>().ok();
        }
    }
    max_age.map_or(DEFAULT_FRESH, |secs| {
        Duration::from_secs(secs).clamp(MIN_FRESH, MAX_FRESH)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_cache_control_is_followed_within_bounds() {
        assert_eq!(fresh_for(""), DEFAULT_FRESH);
        assert_eq!(
            fresh_for("public, max-age=7200, must-revalidate"),
            Duration::from_secs(7200)
        );
        assert_eq!(fresh_for("max-age=0"), MIN_FRESH);
        assert_eq!(fresh_for("max-age=9999999"), MAX_FRESH);
        assert_eq!(fresh_for("no-store"), MIN_FRESH);
        assert_eq!(fresh_for("max-age=nonsense"), DEFAULT_FRESH);
    }

    #[test]
    fn a_kept_set_serves_its_keys_while_fresh_and_an_unknown_key_fetches_again_now_and_then() {
        let t0 = Instant::now();
        let mut set = KeySet {
            keys: Arc::new(serde_json::json!({ "keys": [{ "kid": "a" }, { "kid": "b" }] })),
            fetched: t0,
            fresh_for: DEFAULT_FRESH,
            missed: None,
        };
        let later = |secs| t0 + Duration::from_secs(secs);
        assert!(set.serves(Some("b"), later(10)));
        assert!(set.serves(None, later(10)));
        assert!(!set.serves(Some("b"), later(3600)), "stale");
        // A key it lacks: fetch (the provider rotated) ...
        assert!(!set.serves(Some("c"), later(10)));
        // ... and after that fetch, other unknown keys wait out the cool-down.
        set.missed = Some(later(10));
        assert!(set.serves(Some("forged"), later(39)));
        assert!(!set.serves(Some("forged"), later(40)));
    }
}
