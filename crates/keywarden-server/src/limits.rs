//! Rate limits per key (token buckets), failure throttling per client address, and the
//! limits of password logins ([`login`]).
//!
//! Both are per replica and in memory: with N replicas behind a balancer a key
//! can reach up to N times its limit. That is documented, and the price of a
//! verify path that never waits on the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::RatePolicy;

pub mod login;
pub mod table;

use table::{Policy, Table};

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

/// Slots in each failure table (addresses, user names): 65,536 × 32 bytes = 2 MiB each.
pub const THROTTLE_SLOTS: usize = 1 << 16;

/// The throttle key of a client address: an IPv4 address (also when written IPv4-mapped,
/// `::ffff:a.b.c.d`), or an IPv6 /64 (one subscriber owns a whole /64, so counting single
/// IPv6 addresses would give an attacker 2^64 fresh starts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4(u32),
    V6Net64(u64),
}

impl AddressKey {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(u32::from(v4)),
                None => AddressKey::V6Net64((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl std::fmt::Display for AddressKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            AddressKey::V4(v4) => write!(f, "{}", std::net::Ipv4Addr::from(v4)),
            AddressKey::V6Net64(net) => {
                write!(f, "{}/64", std::net::Ipv6Addr::from(u128::from(net) << 64))
            }
        }
    }
}

/// Counts failed authentications per client address (IPv4 address or IPv6 /64); past
/// `max_failures` within `window`, the address is refused for `block` without looking at
/// its credentials. The table has a fixed size ([`THROTTLE_SLOTS`]) and every operation is
/// O(1); while nothing is blocked, [`FailureThrottle::check`] takes no lock.
#[derive(Debug)]
pub struct FailureThrottle {
    table: Table,
}

impl FailureThrottle {
    pub fn new(max_failures: u32, window: Duration, block: Duration) -> Self {
        Self::with_capacity(max_failures, window, block, THROTTLE_SLOTS)
    }

    pub fn with_capacity(
        max_failures: u32,
        window: Duration,
        block: Duration,
        capacity: usize,
    ) -> Self {
        let policy = Policy {
            max_failures,
            window,
            block,
        };
        Self {
            table: Table::new(policy, capacity),
        }
    }

    fn tag(&self, address: IpAddr) -> u64 {
        self.table.tag_of(&AddressKey::of(address))
    }

    /// `Err(retry_after)` when the address is blocked.
    pub fn check(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        self.table.check(self.tag(address), now)
    }

    pub fn record_failure(&self, address: IpAddr, now: Instant) {
        let _ = self.table.charge(self.tag(address), now);
    }

    /// Counts an attempt before it is made (an expensive one: a password hash). `Err` when
    /// the address is blocked; nothing is counted then.
    pub fn charge(&self, address: IpAddr, now: Instant) -> Result<(), Duration> {
        self.table.charge(self.tag(address), now)
    }

    /// Takes back a [`FailureThrottle::charge`] for an attempt that succeeded or was not made.
    pub fn refund(&self, address: IpAddr, now: Instant) {
        self.table.refund(self.tag(address), now);
    }

    /// Failures counted against an address in its current window.
    pub fn failures(&self, address: IpAddr) -> u32 {
        self.table.count(self.tag(address))
    }

    pub fn table(&self) -> &Table {
        &self.table
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

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60), Duration::from_secs(30));
        let t0 = Instant::now();
        // Three addresses of one /64: one budget.
        for a in [
            "2001:db8:1:2::1",
            "2001:db8:1:2::2",
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
        ] {
            throttle.record_failure(a.parse().unwrap(), t0);
        }
        assert!(
            throttle
                .check("2001:db8:1:2::99".parse().unwrap(), t0)
                .is_err()
        );
        assert!(
            throttle
                .check("2001:db8:1:3::1".parse().unwrap(), t0)
                .is_ok(),
            "the next /64 is another client"
        );
        // IPv4-mapped IPv6 is the IPv4 address.
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        throttle.record_failure(mapped, t0);
        throttle.record_failure(v4, t0);
        throttle.record_failure(mapped, t0);
        assert!(throttle.check(v4, t0).is_err());
        assert_eq!(AddressKey::of(mapped), AddressKey::of(v4));
        assert_eq!(
            AddressKey::of("2001:db8:1:2:3:4:5:6".parse().unwrap()).to_string(),
            "2001:db8:1:2::/64"
        );
        // `::1` is IPv6 loopback, not the IPv4 address 0.0.0.1.
        assert_ne!(
            AddressKey::of("::1".parse().unwrap()),
            AddressKey::of("0.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn throttle_memory_is_fixed() {
        let throttle = FailureThrottle::with_capacity(
            5,
            Duration::from_secs(60),
            Duration::from_secs(30),
            4096,
        );
        let t0 = Instant::now();
        for i in 0..200_000u32 {
            throttle.record_failure(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(throttle.table().capacity(), 4096);
        assert!(throttle.table().len() <= 4096);
    }
}
