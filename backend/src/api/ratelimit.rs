//! In-process token-bucket rate limiting, keyed by user, IP or username+IP.
//!
//! Buckets live in memory: on several server instances (Lambda) each instance limits on its
//! own, which still bounds abuse per instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Above this many keys, full (idle) buckets are dropped so the map cannot grow unbounded.
const PRUNE_ABOVE: usize = 10_000;

/// A set of token buckets with one rate.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
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

    fn with_bucket(&self, key: &str, now: Instant, take: bool) -> Result<(), Duration> {
        let burst = f64::from(self.rate.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > PRUNE_ABOVE {
            let rate = self.rate.per_second;
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
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
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
