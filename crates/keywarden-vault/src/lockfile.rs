//! Advisory locks between processes: `flock` on a lock file, with a bounded wait.
//!
//! The lock belongs to an open file description, so the kernel releases it when the
//! holder closes the file or dies (even by SIGKILL); a stale lock file is harmless.
//! Each acquisition opens the file afresh, so two threads of one process exclude each
//! other as two processes do. Waiters pass a turnstile first (see [`lock_exclusive`]),
//! so the lock is handed on fairly enough that a busy writer cannot starve the others.
//! Lock files are created `0600` and never deleted (deleting one while it is held
//! would let a second holder in).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::store::StoreError;

/// How long a lock is waited for unless `KEYWARDEN_LOCK_TIMEOUT_MS` says otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound on waiting for a lock: `KEYWARDEN_LOCK_TIMEOUT_MS`, or 10 seconds.
pub fn lock_timeout() -> Duration {
    std::env::var("KEYWARDEN_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_LOCK_TIMEOUT)
}

/// An exclusive lock, released when dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Takes the exclusive lock on `path` (created if missing), waiting at most `timeout`.
///
/// A lock still held by another process after `timeout` is [`StoreError::Busy`]; the
/// caller has changed nothing yet and says so.
///
/// Waiters queue on a turnstile (`<path>.queue`, also a `flock`) before the lock
/// itself: whoever holds the turnstile takes the lock at its next release, so a
/// process that writes in a loop cannot take the lock back again and again ahead of
/// one that has been waiting. Each release thus goes to a waiter at least every
/// other time, and nobody waits longer than the others' queued work.
pub fn lock_exclusive(path: &Path, timeout: Duration) -> Result<FileLock, StoreError> {
    let started = Instant::now();
    let queue_path = queue_of(path);
    let queue = open(&queue_path).map_err(|e| cannot("open", &queue_path, e))?;
    let file = open(path).map_err(|e| cannot("open", path, e))?;
    wait_for(&queue, &queue_path, path, started, timeout)?;
    wait_for(&file, path, path, started, timeout)?;
    drop(queue);
    Ok(FileLock { _file: file })
}

/// Polls `file`'s lock until it is taken or `timeout` (from `started`) has passed.
/// flock has no timed form; the pause between tries stays short so that a queued
/// waiter takes a released lock promptly.
fn wait_for(
    file: &File,
    path: &Path,
    shown: &Path,
    started: Instant,
    timeout: Duration,
) -> Result<(), StoreError> {
    let mut pause = Duration::from_micros(250);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(cannot("lock", path, e)),
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(busy(shown, timeout));
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

fn cannot(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Failed(format!("cannot {what} {}: {e}", path.display()))
}

fn queue_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".queue");
    path.with_file_name(name)
}

/// An exclusive lock shared by the threads of one process and, through a lock file,
/// by processes; reentrant within a thread (an operation may call another that
/// takes it). Every wait is bounded by the timeout.
#[derive(Debug)]
pub struct SharedLock {
    /// `None`: nothing outside this process can reach what the lock guards.
    path: Option<PathBuf>,
    timeout: Duration,
    state: Mutex<Holder>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Holder {
    owner: Option<ThreadId>,
    depth: usize,
    file: Option<FileLock>,
}

/// Proof that the current thread holds a [`SharedLock`]; releases it when the last
/// nested guard is dropped (and the kernel releases the file lock if the process dies).
#[must_use]
pub struct SharedGuard<'a> {
    lock: &'a SharedLock,
}

impl SharedLock {
    pub fn new(path: Option<PathBuf>, timeout: Duration) -> Self {
        Self {
            path,
            timeout,
            state: Mutex::new(Holder::default()),
            freed: Condvar::new(),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn acquire(&self) -> Result<SharedGuard<'_>, StoreError> {
        let me = std::thread::current().id();
        let started = Instant::now();
        let mut holder = crate::store::lock(&self.state);
        if holder.owner == Some(me) {
            holder.depth += 1;
            return Ok(SharedGuard { lock: self });
        }
        while holder.owner.is_some() {
            let Some(left) = self
                .timeout
                .checked_sub(started.elapsed())
                .filter(|d| !d.is_zero())
            else {
                let shown = self
                    .path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("this profile's lock"));
                return Err(busy(&shown, self.timeout));
            };
            holder = self
                .freed
                .wait_timeout(holder, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        holder.owner = Some(me);
        holder.depth = 1;
        drop(holder);
        // The file lock is taken outside the mutex; other threads wait on the condvar.
        let file = match &self.path {
            None => None,
            Some(path) => {
                match lock_exclusive(path, self.timeout.saturating_sub(started.elapsed())) {
                    Ok(file) => Some(file),
                    Err(err) => {
                        // Report the whole bound, not what was left of it.
                        let err = match err {
                            StoreError::Busy { .. } => busy(path, self.timeout),
                            other => other,
                        };
                        let mut holder = crate::store::lock(&self.state);
                        holder.owner = None;
                        holder.depth = 0;
                        self.freed.notify_one();
                        return Err(err);
                    }
                }
            }
        };
        crate::store::lock(&self.state).file = file;
        Ok(SharedGuard { lock: self })
    }
}

impl Drop for SharedGuard<'_> {
    fn drop(&mut self) {
        let mut holder = crate::store::lock(&self.lock.state);
        holder.depth -= 1;
        if holder.depth == 0 {
            holder.file = None;
            holder.owner = None;
            self.lock.freed.notify_one();
        }
    }
}

fn busy(path: &Path, timeout: Duration) -> StoreError {
    let ms = timeout.as_millis();
    StoreError::Busy {
        path: path.display().to_string(),
        waited: if ms >= 1000 && ms.is_multiple_of(1000) {
            format!("{} s", ms / 1000)
        } else {
            format!("{ms} ms")
        },
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// `vault.kwv` → `vault.kwv.lock`, in the same directory.
pub fn beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_a_bounded_clear_error_then_free_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = lock_exclusive(&path, Duration::from_secs(1)).unwrap();

        let started = Instant::now();
        let err = lock_exclusive(&path, Duration::from_millis(150)).unwrap_err();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(150), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        let message = err.to_string();
        assert!(matches!(err, StoreError::Busy { .. }), "{message}");
        assert!(message.contains("x.lock"), "{message}");
        assert!(message.contains("150 ms"), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");

        drop(held);
        lock_exclusive(&path, Duration::from_millis(150)).unwrap();
    }

    #[test]
    fn a_zero_timeout_still_takes_a_free_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/y.lock");
        let _held = lock_exclusive(&path, Duration::ZERO).unwrap();
        assert!(matches!(
            lock_exclusive(&path, Duration::ZERO),
            Err(StoreError::Busy { .. })
        ));
    }

    #[test]
    fn threads_of_one_process_exclude_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.lock");
        let inside = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _g = lock_exclusive(&path, Duration::from_secs(10)).unwrap();
                        let n = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        most.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(most.into_inner(), 1);
    }

    /// A writer that takes the lock back as soon as it lets go (the desktop rotating
    /// in a loop, say) does not keep a waiting process out.
    #[test]
    fn a_writer_in_a_loop_lets_a_waiter_in_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.lock");
        let stop = std::sync::atomic::AtomicBool::new(false);
        let rounds = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Bounded: stops when told, or after many rounds.
                for _ in 0..200_000 {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let _held = lock_exclusive(&path, Duration::from_secs(10)).unwrap();
                    rounds.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // Work under the lock: a write and its fsync.
                    let f = File::create(dir.path().join("work")).unwrap();
                    std::io::Write::write_all(&mut &f, &[0u8; 4096]).unwrap();
                    f.sync_all().unwrap();
                }
            });
            // Let the loop get going, then wait in line like another process would.
            while rounds.load(std::sync::atomic::Ordering::SeqCst) < 5 {
                std::thread::yield_now();
            }
            let waited =
                (0..20).try_for_each(|_| lock_exclusive(&path, Duration::from_secs(5)).map(drop));
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            waited.expect("the waiter got the lock within the bound, every time");
        });
    }

    #[test]
    fn a_shared_lock_is_reentrant_in_a_thread_and_exclusive_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.lock");
        let shared = SharedLock::new(Some(path.clone()), Duration::from_millis(100));
        let outer = shared.acquire().unwrap();
        let inner = shared.acquire().unwrap();
        // Another process (here: another open file description) is kept out...
        assert!(matches!(
            lock_exclusive(&path, Duration::ZERO),
            Err(StoreError::Busy { .. })
        ));
        // ...and so is another thread, within the bound.
        std::thread::scope(|s| {
            let started = Instant::now();
            let err = s.spawn(|| shared.acquire().err()).join().unwrap();
            assert!(matches!(err, Some(StoreError::Busy { .. })), "{err:?}");
            assert!(started.elapsed() >= Duration::from_millis(100));
        });
        drop(inner);
        assert!(lock_exclusive(&path, Duration::ZERO).is_err(), "still held");
        drop(outer);
        drop(lock_exclusive(&path, Duration::ZERO).unwrap());
        std::thread::scope(|s| {
            assert!(s.spawn(|| shared.acquire().is_ok()).join().unwrap());
        });
    }

    #[test]
    fn a_shared_lock_gives_up_when_another_process_holds_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.lock");
        let shared = SharedLock::new(Some(path.clone()), Duration::from_millis(80));
        let other = lock_exclusive(&path, Duration::ZERO).unwrap();
        assert!(matches!(shared.acquire(), Err(StoreError::Busy { .. })));
        drop(other);
        // The failed attempt left nothing behind: the lock is free for this thread and others.
        drop(shared.acquire().unwrap());
        std::thread::scope(|s| {
            assert!(s.spawn(|| shared.acquire().is_ok()).join().unwrap());
        });
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.lock");
        drop(lock_exclusive(&path, Duration::ZERO).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn beside_appends_to_the_file_name() {
        assert_eq!(
            beside(Path::new("/a/vault.kwv")),
            PathBuf::from("/a/vault.kwv.lock")
        );
    }
}
