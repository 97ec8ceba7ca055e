//! The limits of password logins, which are unauthenticated and expensive (one Argon2id
//! hash, 19 MiB and tens of milliseconds of CPU, per attempt).
//!
//! - [`LoginGate`]: at most `login_concurrency` hashes at once, on as many threads of its
//!   own, each computing in one memory area it keeps and reuses; a few waiters beyond that,
//!   each for a short while; everyone else is answered 429 at once. Memory stays bounded
//!   whatever arrives: threads × 19 MiB, allocated once, plus a fixed number of waiting
//!   requests. (Hashing on tokio's blocking pool instead allocated and freed 19 MiB per hash
//!   on whichever of its threads ran it, and the allocator kept much of it: RSS grew with
//!   the number of threads that had ever hashed, not with the limit.)
//! - [`UserThrottle`]: failures per user name, from any address (a password-spraying botnet
//!   has many addresses but targets few names). Charged before the hash, like the address
//!   throttle. The trade-off: whoever fails often enough for a name locks its owner out of
//!   password login for `block` — deliberately, since the alternative is unlimited guessing
//!   from many addresses. Keys and existing sessions keep working; the block is short.
//! - [`FailedLogins`]: failures counted in memory and written as one audit row per flush.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::AddressKey;
use super::table::{Policy, Table};

/// Waiters allowed per hashing slot.
pub const WAITERS_PER_SLOT: usize = 4;
/// Longest a login waits for a hashing slot before it is answered 429.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// Work for a hashing thread, given that thread's memory area.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The most Argon2 memory a stored hash may ask for (256 MiB); a hash asking more fails.
const MAX_BLOCKS: usize = 256 * 1024;

/// Starts `n` hashing threads fed by one queue. Only holders of a permit enqueue, so the
/// queue never holds more than `n` jobs.
fn start_hashers(n: usize) -> std::sync::mpsc::Sender<Job> {
    let (jobs, queue) = std::sync::mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..n {
        let queue = Arc::clone(&queue);
        let started = std::thread::Builder::new()
            .name(format!("kw-hash-{i}"))
            .spawn(move || {
                let mut memory = Vec::new();
                loop {
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = job else {
                        return;
                    };
                    // A panicking job drops its reply (the login fails); the thread goes on.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut memory));
                    let _ = std::panic::catch_unwind(run);
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start a password-hashing thread");
        }
    }
    jobs
}

/// Checks `password` against a PHC-format Argon2 hash, computing in `memory` (grown to the
/// hash's memory cost once, then reused). Constant-time comparison.
pub fn verify_password(memory: &mut Vec<Block>, phc: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2
        .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        .is_err()
    {
        return false;
    }
    bool::from(out.ct_eq(expected.as_bytes()))
}

/// Bounds the number of password hashes computed at once.
#[derive(Debug)]
pub struct LoginGate {
    jobs: std::sync::mpsc::Sender<Job>,
    permits: Arc<Semaphore>,
    limit: usize,
    max_waiting: usize,
    max_wait: Duration,
    waiting: AtomicUsize,
    in_flight: AtomicUsize,
    in_flight_max: AtomicUsize,
    started: AtomicU64,
}

/// A hashing slot; hold it (move it into the blocking task) until the hash is done.
#[derive(Debug)]
pub struct HashPermit {
    _permit: OwnedSemaphorePermit,
    gate: Arc<LoginGate>,
}

/// Marks one hash being computed (see [`LoginGate::hashes_in_flight_max`]).
#[derive(Debug)]
pub struct Hashing<'a>(&'a LoginGate);

impl Drop for Hashing<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HashPermit {
    /// Runs `job` on a hashing thread, with that thread's memory area; the slot is given
    /// back when the job ends, even if the caller has stopped waiting. `None` if the job
    /// could not run (no hashing thread, or it panicked).
    pub fn run<R: Send + 'static>(
        self,
        job: impl FnOnce(&mut Vec<Block>) -> R + Send + 'static,
    ) -> impl std::future::Future<Output = Option<R>> + Send + 'static {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let jobs = self.gate.jobs.clone();
        let sent = jobs.send(Box::new(move |memory: &mut Vec<Block>| {
            let result = {
                let _hashing = self.hashing();
                job(memory)
            };
            drop(self);
            let _ = reply.send(result);
        }));
        async move {
            sent.ok()?;
            answer.await.ok()
        }
    }

    /// Counts a hash being computed while the returned guard lives.
    pub fn hashing(&self) -> Hashing<'_> {
        let gate = &*self.gate;
        gate.started.fetch_add(1, Ordering::Relaxed);
        let now = gate.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        gate.in_flight_max.fetch_max(now, Ordering::Relaxed);
        Hashing(gate)
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LoginGate {
    pub fn new(limit: usize) -> Self {
        Self::with_wait(limit, MAX_WAIT)
    }

    pub fn with_wait(limit: usize, max_wait: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            jobs: start_hashers(limit),
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            max_waiting: limit * WAITERS_PER_SLOT,
            max_wait,
            waiting: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            in_flight_max: AtomicUsize::new(0),
            started: AtomicU64::new(0),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A hashing slot, or `None` (answer 429) when all are taken and the waiting room is
    /// full or the wait runs out.
    pub async fn acquire(self: &Arc<Self>) -> Option<HashPermit> {
        let wrap = |permit| HashPermit {
            _permit: permit,
            gate: Arc::clone(self),
        };
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Some(wrap(permit));
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(self.max_wait, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Some(wrap(permit)),
            _ => None,
        }
    }

    /// Hashes being computed now.
    pub fn hashes_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The most hashes ever computed at once.
    pub fn hashes_in_flight_max(&self) -> usize {
        self.in_flight_max.load(Ordering::Relaxed)
    }

    /// Hashes started since the server started.
    pub fn hashes_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }
}

/// Failures per user name (any address). Only a keyed hash of the name is kept.
#[derive(Debug)]
pub struct UserThrottle {
    table: Table,
}

impl UserThrottle {
    pub fn new(max_failures: u32, window: Duration, block: Duration) -> Self {
        let policy = Policy {
            max_failures,
            window,
            block,
        };
        Self {
            table: Table::new(policy, super::THROTTLE_SLOTS),
        }
    }

    fn tag(&self, name: &str) -> u64 {
        self.table.tag_of(name.as_bytes())
    }

    /// Counts an attempt for `name` before it is made; `Err(retry_after)` when the name is
    /// blocked (nothing is counted then).
    pub fn charge(&self, name: &str, now: Instant) -> Result<(), Duration> {
        self.table.charge(self.tag(name), now)
    }

    pub fn refund(&self, name: &str, now: Instant) {
        self.table.refund(self.tag(name), now);
    }

    /// Forgets the name's failures: its owner just logged in.
    pub fn forgive(&self, name: &str) {
        self.table.forgive(self.tag(name));
    }

    pub fn failures(&self, name: &str) -> u32 {
        self.table.count(self.tag(name))
    }
}

/// Why a login was answered 429 without a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AddressThrottled,
    UserThrottled,
    Busy,
}

const MAX_ADDRESSES: usize = 4096;
const MAX_NAMES: usize = 256;
const MAX_NAME_CHARS: usize = 64;
const TOP: usize = 10;

#[derive(Debug, Default)]
struct Counts {
    failed: u64,
    address_throttled: u64,
    user_throttled: u64,
    busy: u64,
    addresses: HashMap<AddressKey, u64>,
    addresses_capped: bool,
    names: HashMap<String, u64>,
    other_names: u64,
    unknown_names: u64,
}

/// Failed logins since the last flush, in bounded memory (at most 4,096 addresses and
/// 256 user names are told apart; the rest are counted together).
#[derive(Debug, Default)]
pub struct FailedLogins {
    counts: Mutex<Counts>,
}

impl FailedLogins {
    fn note_address(counts: &mut Counts, address: Option<IpAddr>) {
        let Some(address) = address else {
            return;
        };
        let key = AddressKey::of(address);
        let len = counts.addresses.len();
        match counts.addresses.get_mut(&key) {
            Some(n) => *n += 1,
            None if len < MAX_ADDRESSES => {
                counts.addresses.insert(key, 1);
            }
            None => counts.addresses_capped = true,
        }
    }

    /// A wrong password, or an unknown or disabled user name (`known_name` is the name when
    /// it is an existing user's). Unknown names are only counted: what someone types as a
    /// user name may be a password typed in the wrong field.
    pub fn failed(&self, address: Option<IpAddr>, known_name: Option<&str>) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.failed += 1;
        Self::note_address(&mut counts, address);
        match known_name {
            Some(name) => {
                let name: String = name.chars().take(MAX_NAME_CHARS).collect();
                let len = counts.names.len();
                match counts.names.get_mut(&name) {
                    Some(n) => *n += 1,
                    None if len < MAX_NAMES => {
                        counts.names.insert(name, 1);
                    }
                    None => counts.other_names += 1,
                }
            }
            None => counts.unknown_names += 1,
        }
    }

    /// A login answered 429 before any hash.
    pub fn refused(&self, address: Option<IpAddr>, why: Refusal) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match why {
            Refusal::AddressThrottled => counts.address_throttled += 1,
            Refusal::UserThrottled => counts.user_throttled += 1,
            Refusal::Busy => counts.busy += 1,
        }
        Self::note_address(&mut counts, address);
    }

    /// The audit detail of everything since the last call, and a fresh start; `None` when
    /// nothing happened.
    pub fn take(&self) -> Option<Value> {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        if counts.failed + counts.address_throttled + counts.user_throttled + counts.busy == 0 {
            return None;
        }
        let mut addresses: Vec<_> = counts.addresses.into_iter().collect();
        let distinct = addresses.len();
        addresses.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        addresses.truncate(TOP);
        let mut names: Vec<_> = counts.names.into_iter().collect();
        names.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        names.truncate(TOP);
        Some(json!({
            "failed": counts.failed,
            "refused": {
                "address_throttled": counts.address_throttled,
                "user_throttled": counts.user_throttled,
                "busy": counts.busy,
            },
            "distinct_addresses": distinct,
            "distinct_addresses_capped": counts.addresses_capped,
            "top_addresses": addresses
                .iter()
                .map(|(a, n)| json!({ "address": a.to_string(), "attempts": n }))
                .collect::<Vec<_>>(),
            "top_user_names": names
                .iter()
                .map(|(name, n)| json!({ "name": name, "failed": n }))
                .collect::<Vec<_>>(),
            "other_user_names_failed": counts.other_names,
            "unknown_user_names_failed": counts.unknown_names,
        }))
    }
}

impl PartialOrd for AddressKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AddressKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let rank = |k: &AddressKey| match *k {
            AddressKey::V4(v) => (0u8, u64::from(v)),
            AddressKey::V6Net64(v) => (1u8, v),
        };
        rank(self).cmp(&rank(other))
    }
}

/// Everything a login needs before it may hash a password.
#[derive(Debug)]
pub struct LoginLimits {
    pub gate: Arc<LoginGate>,
    pub users: UserThrottle,
    pub failures: FailedLogins,
}

impl LoginLimits {
    pub fn new(concurrency: usize, user_policy: Policy) -> Self {
        Self {
            gate: Arc::new(LoginGate::new(concurrency)),
            users: UserThrottle::new(
                user_policy.max_failures,
                user_policy.window,
                user_policy.block,
            ),
            failures: FailedLogins::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn gate_bounds_hashes_and_waiters() {
        let gate = Arc::new(LoginGate::with_wait(2, Duration::from_millis(50)));
        let a = gate.acquire().await.unwrap();
        let b = gate.acquire().await.unwrap();
        // Eight may wait; the ninth is refused at once.
        let waiters: Vec<_> = (0..WAITERS_PER_SLOT * 2)
            .map(|_| {
                let gate = Arc::clone(&gate);
                tokio::spawn(async move { gate.acquire().await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert_eq!(gate.waiting.load(Ordering::Relaxed), WAITERS_PER_SLOT * 2);
        assert!(gate.acquire().await.is_none(), "the waiting room is full");
        {
            let _h1 = a.hashing();
            let _h2 = b.hashing();
            assert_eq!(gate.hashes_in_flight(), 2);
        }
        assert_eq!(gate.hashes_in_flight(), 0);
        assert_eq!(gate.hashes_in_flight_max(), 2);
        // One slot frees: the first waiter gets it and keeps it; the others time out.
        drop(a);
        let mut results = Vec::new();
        for w in waiters {
            results.push(w.await.unwrap());
        }
        assert!(results[0].is_some());
        assert_eq!(results.iter().filter(|r| r.is_some()).count(), 1);
        assert_eq!(gate.waiting.load(Ordering::Relaxed), 0);
        assert_eq!(gate.hashes_started(), 2);
        // Jobs run on the gate's threads; the slot comes back when the job is done.
        drop(b);
        drop(results);
        let permit = gate.acquire().await.unwrap();
        let answer = permit.run(|memory| memory.len()).await;
        assert_eq!(answer, Some(0));
        assert_eq!(gate.hashes_started(), 3);
        assert!(gate.acquire().await.is_some(), "the slot was given back");
    }

    #[test]
    fn verifies_argon2_hashes_in_reused_memory() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let params = Params::new(1024, 2, 1, None).unwrap();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let phc = argon2
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        assert!(verify_password(&mut memory, &phc, b"correct horse"));
        assert_eq!(memory.len(), 1024);
        let area = memory.as_ptr();
        assert!(!verify_password(&mut memory, &phc, b"correct horsf"));
        assert!(verify_password(&mut memory, &phc, b"correct horse"));
        assert_eq!(memory.as_ptr(), area, "the same memory, reused");
        assert!(!verify_password(&mut memory, "not a hash", b"x"));
        assert!(!verify_password(
            &mut memory,
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            b"x"
        ));
    }

    #[test]
    fn failed_logins_aggregate_in_bounded_memory() {
        let failures = FailedLogins::default();
        assert!(failures.take().is_none());
        for i in 0..10_000u32 {
            let address = IpAddr::from(i.to_be_bytes());
            let name = format!("user{}", i % 1000);
            failures.failed(Some(address), Some(&name));
        }
        failures.failed(None, None);
        failures.refused(Some("2001:db8::1".parse().unwrap()), Refusal::Busy);
        failures.refused(Some("2001:db8::2".parse().unwrap()), Refusal::UserThrottled);
        let detail = failures.take().unwrap();
        assert_eq!(detail["failed"], 10_001);
        assert_eq!(detail["refused"]["busy"], 1);
        assert_eq!(detail["refused"]["user_throttled"], 1);
        assert_eq!(detail["distinct_addresses"], MAX_ADDRESSES);
        assert_eq!(detail["distinct_addresses_capped"], true);
        assert_eq!(detail["top_user_names"].as_array().unwrap().len(), TOP);
        assert_eq!(detail["unknown_user_names_failed"], 1);
        let listed: u64 = 10_000 - detail["other_user_names_failed"].as_u64().unwrap();
        assert_eq!(listed, 256 * 10, "256 names told apart, ten failures each");
        assert!(failures.take().is_none(), "taking starts afresh");
    }
}
