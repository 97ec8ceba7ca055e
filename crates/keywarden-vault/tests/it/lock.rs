//! The profile and vault-file locks are `flock`s: a holder that dies releases them.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use keywarden_vault::StoreError;
use keywarden_vault::lockfile::lock_exclusive;

const HOLD_ENV: &str = "KEYWARDEN_TEST_HOLD_LOCK";
const MARKER: &str = "lock-held-by-helper";

#[test]
fn a_lock_holder_killed_with_sigkill_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keywarden.lock");
    // This test binary, re-run as the helper below: it takes the lock and waits.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock::hold_a_lock_until_killed",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLD_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // libtest prints the test's name first on the same line.
        let held = BufReader::new(stdout)
            .lines()
            .any(|l| l.is_ok_and(|l| l.trim_end().ends_with(MARKER)));
        let _ = tx.send(held);
    });
    let held = rx.recv_timeout(Duration::from_secs(60));
    if held != Ok(true) {
        let _ = child.kill();
        panic!("the helper did not take the lock: {held:?}");
    }

    assert!(matches!(
        lock_exclusive(&path, Duration::from_millis(100)),
        Err(StoreError::Busy { .. })
    ));
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    // The kernel released it with the process; no stale lock file blocks anyone.
    lock_exclusive(&path, Duration::from_secs(5)).unwrap();
    assert!(path.exists(), "the lock file stays; only the lock went");
}

#[test]
#[ignore = "helper process of a_lock_holder_killed_with_sigkill_releases_the_lock"]
fn hold_a_lock_until_killed() {
    let Some(path) = std::env::var_os(HOLD_ENV) else {
        return;
    };
    let _held = lock_exclusive(std::path::Path::new(&path), Duration::from_secs(5)).unwrap();
    println!("{MARKER}");
    // Blocks until killed (or until the parent goes away and closes the pipe).
    let _ = std::io::stdin().read(&mut [0u8; 1]);
}
