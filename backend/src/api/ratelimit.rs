//! In-process token-bucket rate limiting, keyed by user, IP or username+IP.
//!
//! Buckets live in memory: on several server instances (Lambda) each instance limits on its
//! own, which still bounds abuse per instance. Keys are kept as SHA-256 digests, so a
//! bucket costs the same whatever the caller sent, and the map is capped (see
//! [`MAX_KEYS`]): memory stays bounded under a flood of distinct keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How many requests a key may make: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// `count` per minute, all of them usable at once.
    pub fn per_minute(count: u32) -> Self {
        Self {
            per_second: f64::from(count) / 60.0,
            burst: count,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Above this many keys, full (idle) buckets are dropped.
const PRUNE_ABOVE: usize = 10_000;
/// Above this many keys even after pruning, the least recently used half is dropped: about
/// 100 B each (digest, bucket, map overhead), so a limiter holds at most ~10 MB.
pub const MAX_KEYS: usize = 100_000;

type Key = [u8; 32];

fn digest(key: &str) -> Key {
    Sha256::digest(key.as_bytes()).into()
}

/// A set of token buckets with one rate.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<Buckets>,
}

/// The map and when to prune it next (amortised: each prune at least doubles the wait).
#[derive(Debug)]
struct Buckets {
    map: HashMap<Key, Bucket>,
    prune_at: usize,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                prune_at: PRUNE_ABOVE,
            }),
        }
    }

    /// Takes one token for `key`; `Err(wait)` if none is left.
    pub fn acquire(&self, key: &str) -> Result<(), Duration> {
        self.with_bucket(key, Instant::now(), true)
    }

    /// Whether `key` has a token left, without taking it.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.with_bucket(key, Instant::now(), false)
    }

    /// Gives back a token [`Self::acquire`] took (the attempt turned out not to count).
    pub fn refund(&self, key: &str) {
        let burst = self.burst();
        let mut buckets = self.lock();
        if let Some(bucket) = buckets.map.get_mut(&digest(key)) {
            bucket.tokens = (bucket.tokens + 1.0).min(burst);
        }
    }

    /// How many keys are held (for tests of the memory bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// A full bucket's tokens.
    fn burst(&self) -> f64 {
        f64::from(self.rate.burst.max(1))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_bucket(&self, key: &str, now: Instant, take: bool) -> Result<(), Duration> {
        let burst = self.burst();
        let mut guard = self.lock();
        let buckets = &mut *guard;
        if buckets.map.len() > buckets.prune_at {
            let rate = self.rate.per_second;
            buckets.map.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
            if buckets.map.len() > MAX_KEYS {
                let mut ages: Vec<Instant> = buckets.map.values().map(|b| b.updated).collect();
                let middle = ages.len() / 2;
                let (_, &mut median, _) = ages.select_nth_unstable(middle);
                buckets.map.retain(|_, b| b.updated > median);
            }
            buckets.prune_at = (buckets.map.len() * 2).clamp(PRUNE_ABOVE, MAX_KEYS);
        }
        let bucket = buckets.map.entry(digest(key)).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate.per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            if take {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else if self.rate.per_second > 0.0 {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.rate.per_second,
            ))
        } else {
            Err(Duration::from_secs(3600))
        }
    }
}

/// A wait as whole seconds for `Retry-After` (rounded up, at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_then_refill() {
        let limiter = RateLimiter::new(Rate {
            per_second: 10.0,
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.with_bucket("k", start, true).is_ok());
        }
        let wait = limiter
            .with_bucket("k", start, true)
            .expect_err("bucket is empty");
        assert!(wait <= Duration::from_millis(100));
        // Another key has its own bucket.
        assert!(limiter.with_bucket("other", start, true).is_ok());
        // 100 ms later one token is back.
        let later = start + Duration::from_millis(100);
        assert!(limiter.with_bucket("k", later, true).is_ok());
        assert!(limiter.with_bucket("k", later, true).is_err());
    }

    #[test]
    fn check_does_not_consume() {
        let limiter = RateLimiter::new(Rate::per_minute(1));
        assert!(limiter.check("k").is_ok());
        assert!(limiter.check("k").is_ok());
        assert!(limiter.acquire("k").is_ok());
        assert!(limiter.check("k").is_err());
    }

    #[test]
    fn a_refund_gives_back_what_acquire_took() {
        let limiter = RateLimiter::new(Rate::per_minute(1));
        assert!(limiter.acquire("k").is_ok());
        limiter.refund("k");
        assert!(limiter.acquire("k").is_ok());
        assert!(limiter.acquire("k").is_err());
        // Never above the burst.
        limiter.refund("k");
        limiter.refund("k");
        assert!(limiter.acquire("k").is_ok());
        assert!(limiter.acquire("k").is_err());
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_bounded() {
        // No refill: every bucket stays spent, so pruning full buckets frees nothing.
        let limiter = RateLimiter::new(Rate {
            per_second: 0.0,
            burst: 1,
        });
        let start = Instant::now();
        for i in 0..(MAX_KEYS + 5_000) {
            let at = start + Duration::from_micros(i as u64);
            let _ = limiter.with_bucket(&format!("{i:0>1000}"), at, true);
        }
        assert!(limiter.len() <= MAX_KEYS + 1, "{}", limiter.len());
        // The newest keys are kept: a recent offender is still limited.
        let last = format!("{:0>1000}", MAX_KEYS + 4_999);
        let at = start + Duration::from_secs(1);
        assert!(limiter.with_bucket(&last, at, true).is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
