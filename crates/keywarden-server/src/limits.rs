//! Rate limits per key (token buckets) and failure throttling per client address.
//!
//! Both are per replica and in memory: with N replicas behind a balancer a key
//! can reach up to N times its limit. That is documented, and the price of a
//! verify path that never waits on the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::model::RatePolicy;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per key id.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Takes one token; on refusal returns how long until a token is available.
    pub fn check(&self, key_id: &str, policy: RatePolicy, now: Instant) -> Result<(), Duration> {
        if policy.requests == 0 {
            return Err(Duration::from_secs(u64::from(policy.per_seconds.max(1))));
        }
        let capacity = f64::from(policy.requests);
        let rate = capacity / f64::from(policy.per_seconds.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 1_000_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(3600));
        }
        let bucket = buckets.entry(key_id.to_owned()).or_insert_with(|| Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[derive(Debug)]
struct Failures {
    count: u32,
    window_start: Instant,
    blocked_until: Option<Instant>,
}

/// Counts failed verifications per client address; past `max_failures` within
/// `window`, the address is refused for `block` without looking at its keys.
#[derive(Debug)]
pub struct FailureThrottle {
    max_failures: u32,
    window: Duration,
    block: Duration,
    table: Mutex<HashMap<IpAddr, Failures>>,
    /// When the latest block ends, in nanoseconds since `origin`: while it is past,
    /// no address is blocked and `check` skips the lock (the verify hot path).
    blocked_until: AtomicU64,
    origin: Instant,
}

impl FailureThrottle {
    pub fn new(max_failures: u32, window: Duration, block: Duration) -> Self {
        Self {
            max_failures,
            window,
            block,
            table: Mutex::new(HashMap::new()),
            blocked_until: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// `Err(retry_after)` when the address is blocked.
    pub fn check(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 || self.nanos(now) >= self.blocked_until.load(Ordering::Relaxed) {
            return Ok(());
        }
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        match table.get(&address).and_then(|f| f.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn record_failure(&self, address: IpAddr, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() > 100_000 {
            table.retain(|_, f| {
                now.duration_since(f.window_start) < self.window
                    || f.blocked_until.is_some_and(|u| u > now)
            });
        }
        let entry = table.entry(address).or_insert(Failures {
            count: 0,
            window_start: now,
            blocked_until: None,
        });
        if now.duration_since(entry.window_start) > self.window {
            entry.count = 0;
            entry.window_start = now;
        }
        entry.count += 1;
        if entry.count >= self.max_failures {
            entry.blocked_until = Some(now + self.block);
            self.blocked_until
                .fetch_max(self.nanos(now + self.block), Ordering::Relaxed);
            entry.count = 0;
            entry.window_start = now;
        }
    }
}

/// Rounds a wait up to whole seconds for `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses_then_refills() {
        let limiter = RateLimiter::default();
        let policy = RatePolicy {
            requests: 2,
            per_seconds: 1,
        };
        let t0 = Instant::now();
        assert!(limiter.check("k", policy, t0).is_ok());
        assert!(limiter.check("k", policy, t0).is_ok());
        let wait = limiter.check("k", policy, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(500));
        assert!(
            limiter
                .check("k", policy, t0 + Duration::from_millis(600))
                .is_ok()
        );
        assert!(limiter.check("other", policy, t0).is_ok());
    }

    #[test]
    fn throttle_blocks_after_max_failures() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60), Duration::from_secs(30));
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..2 {
            throttle.record_failure(ip, t0);
        }
        assert!(throttle.check(ip, t0).is_ok());
        throttle.record_failure(ip, t0);
        assert!(throttle.check(ip, t0).is_err());
        assert!(throttle.check("10.1.2.4".parse().unwrap(), t0).is_ok());
        assert!(throttle.check(ip, t0 + Duration::from_secs(31)).is_ok());
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
    }
}
