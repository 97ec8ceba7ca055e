//! A fixed-size failure table: sharded, set-associative, O(ways) per operation.
//!
//! Keys are attacker input (client addresses, user names), so the table never grows: its
//! memory is fixed at construction. A key is a 64-bit keyed hash (SipHash with random keys
//! per process, via [`std::collections::hash_map::RandomState`]) so nobody can aim keys at
//! one set. The hash picks a shard (one lock each) and a set of [`WAYS`] slots in it. A new
//! key takes an empty or expired slot, else the non-blocked slot with the fewest failures.
//! When every slot of its set is blocked the new key is not tracked (counted in
//! [`Table::untracked`]): blocks in force are never cut short to make room, and requests
//! stay bounded by the other limits (hashing concurrency, the other throttle).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Slots per set.
pub const WAYS: usize = 8;
const SHARDS: usize = 32;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The key's hash with the low bit set; 0 marks an empty slot.
    tag: u64,
    count: u32,
    /// Nanoseconds since the table's origin.
    window_start: u64,
    /// 0 when not blocked.
    blocked_until: u64,
}

/// Thresholds of one table.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures within `window` that block the key (0: never block, track nothing).
    pub max_failures: u32,
    pub window: Duration,
    pub block: Duration,
}

#[derive(Debug)]
pub struct Table {
    policy: Policy,
    hasher: RandomState,
    shards: Box<[Mutex<Box<[Slot]>>]>,
    sets_per_shard: usize,
    /// When the latest block ends (nanoseconds since `origin`): while it is past, nothing
    /// is blocked and [`Table::check`] takes no lock.
    latest_block: AtomicU64,
    untracked: AtomicU64,
    origin: Instant,
}

impl Table {
    /// A table of at least `capacity` slots (rounded up to whole sets in every shard).
    pub fn new(policy: Policy, capacity: usize) -> Self {
        let sets_per_shard = capacity.div_ceil(SHARDS * WAYS).max(1);
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(vec![Slot::default(); sets_per_shard * WAYS].into_boxed_slice()))
            .collect();
        Self {
            policy,
            hasher: RandomState::new(),
            shards,
            sets_per_shard,
            latest_block: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Slots in the table (fixed at construction).
    pub fn capacity(&self) -> usize {
        SHARDS * self.sets_per_shard * WAYS
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// New keys that found their set full of blocked keys and were not tracked.
    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    pub fn tag_of<K: Hash + ?Sized>(&self, key: &K) -> u64 {
        self.hasher.hash_one(key) | 1
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn with_set<R>(&self, tag: u64, f: impl FnOnce(&mut [Slot]) -> R) -> R {
        // The low bits pick the shard, the next ones the set (the tag's low bit is always 1).
        let shard = ((tag >> 1) as usize) % SHARDS;
        let set = ((tag >> 8) as usize) % self.sets_per_shard;
        let mut slots = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut slots[set * WAYS..(set + 1) * WAYS])
    }

    fn blocked(slot: &Slot, now: u64) -> bool {
        slot.blocked_until > now
    }

    /// `Err(remaining)` while the key is blocked. Lock-free while no key is blocked.
    pub fn check(&self, tag: u64, now: Instant) -> Result<(), Duration> {
        let at = self.nanos(now);
        if self.policy.max_failures == 0 || at >= self.latest_block.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.with_set(tag, |set| match set.iter().find(|s| s.tag == tag) {
            Some(slot) if Self::blocked(slot, at) => {
                Err(Duration::from_nanos(slot.blocked_until - at))
            }
            _ => Ok(()),
        })
    }

    /// Counts one failure (or one attempt, charged before it is made). `Err(remaining)` when
    /// the key is already blocked (then nothing is counted). The charge that reaches
    /// `max_failures` succeeds and blocks the key for what follows.
    pub fn charge(&self, tag: u64, now: Instant) -> Result<(), Duration> {
        if self.policy.max_failures == 0 {
            return Ok(());
        }
        let at = self.nanos(now);
        let window = u64::try_from(self.policy.window.as_nanos()).unwrap_or(u64::MAX);
        let block = u64::try_from(self.policy.block.as_nanos()).unwrap_or(u64::MAX);
        let blocked_until = self.with_set(tag, |set| {
            let slot = match set.iter().position(|s| s.tag == tag) {
                Some(i) => &mut set[i],
                None => {
                    let Some(i) = victim(set, at, window) else {
                        self.untracked.fetch_add(1, Ordering::Relaxed);
                        return Ok(None);
                    };
                    set[i] = Slot {
                        tag,
                        count: 0,
                        window_start: at,
                        blocked_until: 0,
                    };
                    &mut set[i]
                }
            };
            if Self::blocked(slot, at) {
                return Err(Duration::from_nanos(slot.blocked_until - at));
            }
            if slot.blocked_until != 0 || at.saturating_sub(slot.window_start) > window {
                // A block that ended, or a window that passed: start counting afresh.
                *slot = Slot {
                    tag,
                    count: 0,
                    window_start: at,
                    blocked_until: 0,
                };
            }
            slot.count = slot.count.saturating_add(1);
            if slot.count >= self.policy.max_failures {
                slot.blocked_until = at.saturating_add(block).max(1);
                return Ok(Some(slot.blocked_until));
            }
            Ok(None)
        })?;
        if let Some(until) = blocked_until {
            self.latest_block.fetch_max(until, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Takes back one charge (the attempt turned out not to be a failure); lifts a block
    /// that charge caused.
    pub fn refund(&self, tag: u64, now: Instant) {
        if self.policy.max_failures == 0 {
            return;
        }
        let at = self.nanos(now);
        self.with_set(tag, |set| {
            if let Some(slot) = set.iter_mut().find(|s| s.tag == tag) {
                slot.count = slot.count.saturating_sub(1);
                if Self::blocked(slot, at) && slot.count < self.policy.max_failures {
                    slot.blocked_until = 0;
                }
            }
        });
    }

    /// Forgets the key's failures (and any block).
    pub fn forgive(&self, tag: u64) {
        self.with_set(tag, |set| {
            if let Some(slot) = set.iter_mut().find(|s| s.tag == tag) {
                *slot = Slot::default();
            }
        });
    }

    /// Failures counted for a key in its current window (tests and diagnostics).
    pub fn count(&self, tag: u64) -> u32 {
        self.with_set(tag, |set| {
            set.iter().find(|s| s.tag == tag).map_or(0, |s| s.count)
        })
    }

    /// Slots in use (a scan of the whole table: tests and diagnostics only).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .filter(|slot| slot.tag != 0)
                    .count()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The slot a new key takes: an empty one, else an expired one, else the non-blocked one
/// with the fewest failures; `None` when every slot is blocked.
fn victim(set: &[Slot], at: u64, window: u64) -> Option<usize> {
    if let Some(i) = set.iter().position(|s| s.tag == 0) {
        return Some(i);
    }
    let expired = |s: &Slot| {
        if s.blocked_until != 0 {
            s.blocked_until <= at
        } else {
            at.saturating_sub(s.window_start) > window
        }
    };
    if let Some(i) = set.iter().position(expired) {
        return Some(i);
    }
    set.iter()
        .enumerate()
        .filter(|(_, s)| s.blocked_until == 0)
        .min_by_key(|(_, s)| s.count)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u32) -> Policy {
        Policy {
            max_failures: max,
            window: Duration::from_secs(60),
            block: Duration::from_secs(30),
        }
    }

    #[test]
    fn size_is_fixed_whatever_arrives() {
        let table = Table::new(policy(5), 1024);
        assert_eq!(table.capacity(), 1024);
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            let _ = table.charge(table.tag_of(&i), t0);
        }
        assert!(table.len() <= table.capacity());
        assert_eq!(table.len(), table.capacity(), "every slot was used");
    }

    /// `n` keys that share one set of a one-set-per-shard table.
    fn same_set(table: &Table, n: usize) -> Vec<u64> {
        let shard = |t: u64| ((t >> 1) as usize) % SHARDS;
        let first = table.tag_of(&0u32);
        let mut keys = vec![first];
        let mut i = 1u32;
        while keys.len() < n {
            let t = table.tag_of(&i);
            if shard(t) == shard(first) {
                keys.push(t);
            }
            i += 1;
        }
        keys
    }

    #[test]
    fn eviction_spares_blocked_and_busy_keys() {
        let table = Table::new(policy(3), 1);
        assert_eq!(table.capacity(), SHARDS * WAYS, "one set per shard");
        let t0 = Instant::now();
        let keys = same_set(&table, WAYS + 6);
        let (blocked, busy) = (keys[0], keys[1]);
        for _ in 0..3 {
            table.charge(blocked, t0).unwrap();
        }
        assert!(table.check(blocked, t0).is_err());
        table.charge(busy, t0).unwrap();
        table.charge(busy, t0).unwrap();
        // More keys of one failure than the set has room for.
        for &t in &keys[2..] {
            table.charge(t, t0).unwrap();
        }
        assert_eq!(table.untracked(), 0);
        assert!(
            table.check(blocked, t0).is_err(),
            "a blocked key is never evicted"
        );
        assert_eq!(table.count(busy), 2, "the busiest key stays");
        let kept = keys[2..].iter().filter(|&&t| table.count(t) == 1).count();
        assert_eq!(
            kept,
            WAYS - 2,
            "the newest keys took the places of the oldest"
        );
        // The block ends: the key is refused no more and its slot goes first.
        let later = t0 + Duration::from_secs(31);
        assert!(table.check(blocked, later).is_ok());
        let newcomer = same_set(&table, WAYS + 7)[WAYS + 6];
        table.charge(newcomer, later).unwrap();
        assert_eq!(table.count(newcomer), 1);
        assert_eq!(table.count(blocked), 0, "the ended block was evicted first");
        assert_eq!(table.count(busy), 2);
    }

    #[test]
    fn a_set_full_of_blocks_leaves_new_keys_untracked() {
        let table = Table::new(policy(1), 1);
        let t0 = Instant::now();
        let keys = same_set(&table, WAYS + 1);
        for &t in &keys[..WAYS] {
            table.charge(t, t0).unwrap();
            assert!(table.check(t, t0).is_err());
        }
        table.charge(keys[WAYS], t0).unwrap();
        assert!(table.check(keys[WAYS], t0).is_ok());
        assert_eq!(table.untracked(), 1);
        for &t in &keys[..WAYS] {
            assert!(table.check(t, t0).is_err(), "blocks stay in force");
        }
    }

    #[test]
    fn charge_refund_forgive() {
        let table = Table::new(policy(2), 64);
        let t0 = Instant::now();
        let k = table.tag_of("alice");
        table.charge(k, t0).unwrap();
        table.charge(k, t0).unwrap();
        assert!(
            table.charge(k, t0).is_err(),
            "blocked: nothing more is counted"
        );
        table.refund(k, t0);
        assert!(
            table.check(k, t0).is_ok(),
            "the refund lifted the block it caused"
        );
        assert_eq!(table.count(k), 1);
        table.forgive(k);
        assert_eq!(table.count(k), 0);
        // A window that passed starts afresh.
        table.charge(k, t0).unwrap();
        table.charge(k, t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(table.count(k), 1);
    }
}
