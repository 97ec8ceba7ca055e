//! The clock that schedules retries: `next_attempt_ms` of an outbox row, the check of
//! which rows are due, the "waiting" count and the background loop's next wake-up all
//! read it. Production uses [`SystemClock`]; a test installs a clock it moves itself
//! ([`crate::store::LocalDb::with_clock`]), so the real retry policy can be exercised
//! without sleeping through its backoff.
//!
//! Display timestamps (`created_at`, `done_at`, seconds) stay on the system time: they
//! schedule nothing.

use std::sync::Arc;

/// Milliseconds since the Unix epoch, as the outbox schedules by them.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// The clock used when none is given.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
