//! The encrypted vault file, chosen explicitly for machines without a keychain.

use crate::harness::Kw;

fn with_passphrase(kw: Kw, text: &str) -> (Kw, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let kw = kw.env("KEYWARDEN_PASSPHRASE_FILE", file.path().to_str().unwrap());
    (kw, file)
}

#[test]
fn vault_file_round_trip_without_any_keychain() {
    let kw = Kw::new()
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("DISPLAY", "");
    let (kw, _pass) = with_passphrase(kw, "correct horse battery staple");
    let r = kw.ok(&["store", "use-file"], b"");
    assert!(r.stderr.contains("vault.kwv"), "{}", r.stderr);
    kw.ok(
        &["secret", "set", "offline_key"],
        b"-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n",
    );
    assert_eq!(
        kw.ok(&["secret", "get", "offline_key"], b"").stdout,
        "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"
    );
    let status = kw.ok(&["secret", "status"], b"").stdout;
    assert!(status.contains("Encrypted vault file"), "{status}");
    assert!(status.contains("Health:     ok"), "{status}");
}

#[test]
fn wrong_passphrase_and_missing_passphrase_are_clear_errors() {
    let (kw, pass) = with_passphrase(Kw::new(), "the right passphrase");
    kw.ok(&["store", "use-file"], b"");
    kw.ok(&["secret", "set", "k"], b"v");
    std::fs::write(pass.path(), "the wrong passphrase").unwrap();
    let r = kw.run(&["secret", "get", "k"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);

    let r = kw
        .command(&["secret", "get", "k"])
        .env_remove("KEYWARDEN_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("KEYWARDEN_PASSPHRASE_FILE"));
    // Listing needs no passphrase: it never reads values.
    let r = kw
        .command(&["secret", "list"])
        .env_remove("KEYWARDEN_PASSPHRASE_FILE")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&r.stdout).contains('k'));
}

#[test]
fn switching_store_is_refused_while_secrets_exist() {
    let (kw, _pass) = with_passphrase(Kw::new(), "a long enough passphrase");
    kw.ok(&["store", "use-file"], b"");
    kw.ok(&["secret", "set", "k"], b"v");
    let r = kw.run(&["store", "use-keychain"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("only be switched while it is empty"),
        "{}",
        r.stderr
    );
    let (kw2, _p2) = with_passphrase(Kw::new(), "short");
    let r = kw2.run(&["store", "use-file"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("at least 8"), "{}", r.stderr);
}

// ---- Several processes on one vault file -------------------------------------------

use std::io::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use keywarden_core::{SecretName, SecretValue};
use keywarden_vault::filevault::{FileStore, KdfParams};
use keywarden_vault::lockfile::lock_exclusive;
use keywarden_vault::{
    Backend, Health, Purpose, SecretPatch, StoreError, Target, Vault, VaultError,
};

fn secret(text: &str) -> SecretValue {
    SecretValue::new(text).unwrap()
}

fn named(name: &str) -> Target {
    Target::Named(SecretName::new(name).unwrap())
}

/// Starts `kw secret set NAME` with `value` on its standard input (then closed).
fn spawn_set(kw: &Kw, args: &[&str], value: &str) -> Child {
    let mut child = kw
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    child
}

/// The scenario: an open desktop session and many `kw secret set` at once on
/// one vault file. Each used to rewrite the file from its own copy, losing the others'
/// writes and leaving rows without values.
#[test]
fn twenty_kw_processes_and_an_open_vault_lose_no_write() {
    const PASSPHRASE: &str = "twenty writers, one file";
    let (kw, _pass) = with_passphrase(Kw::new(), PASSPHRASE);
    kw.ok(&["store", "use-file"], b"");

    // The long-lived session (what the desktop holds), unlocked before the others start.
    let session = Vault::open(kw.home()).unwrap();
    session.unlock(&secret(PASSPHRASE)).unwrap();
    session
        .upsert(
            named("in_process"),
            SecretPatch::default(),
            Some(&secret("in-process-0")),
        )
        .unwrap();

    let expected: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("proc_{i:02}"),
                format!("value-{i:02}-{:016x}", rand::random::<u64>()),
            )
        })
        .collect();
    let mut children: Vec<Child> = expected
        .iter()
        .map(|(name, value)| spawn_set(&kw, &["secret", "set", name], value))
        .collect();

    // Keep writing from the session for as long as any kw process runs (bounded).
    let started = Instant::now();
    let mut last = "in-process-0".to_owned();
    let mut rotations = 0u32;
    for round in 1..=5_000 {
        let running = children
            .iter_mut()
            .map(|c| c.try_wait().unwrap().is_none())
            .filter(|alive| *alive)
            .count();
        if running == 0 {
            break;
        }
        last = format!("in-process-{round}");
        session
            .upsert(
                named("in_process"),
                SecretPatch::default(),
                Some(&secret(&last)),
            )
            .unwrap();
        rotations += 1;
    }
    for (child, (name, _)) in children.into_iter().zip(&expected) {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kw secret set {name}: {stderr}");
        assert!(stderr.contains("Stored"), "{stderr}");
    }
    assert!(
        rotations > 0,
        "the session wrote while the kw processes ran"
    );
    eprintln!(
        "20 kw processes done in {:?}; the open session rotated its secret {rotations} times meanwhile",
        started.elapsed()
    );

    // Every value is there with the right value: for the open session (which re-reads
    // the file), for a fresh one, and for kw.
    let fresh = Vault::open(kw.home()).unwrap();
    fresh.unlock(&secret(PASSPHRASE)).unwrap();
    let mut all = expected.clone();
    all.push(("in_process".to_owned(), last.clone()));
    for (name, value) in &all {
        for vault in [&session, &fresh] {
            assert_eq!(
                vault.read(name, Purpose::Use).unwrap().1.expose(),
                value,
                "{name}"
            );
        }
        assert_eq!(&kw.ok(&["secret", "get", name], b"").stdout, value);
    }
    assert_eq!(
        fresh.find("in_process").unwrap().version,
        rotations + 1,
        "every rotation was recorded"
    );
    assert_eq!(kw.list_json().len(), 21);
    let status = kw.run(&["secret", "status", "--check"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    assert!(
        status.stdout.contains("Orphans:    none"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("Awaiting repair: 0"),
        "{}",
        status.stdout
    );
}

/// A lock another process keeps is an error within the bound, naming the lock; nothing
/// changes, and everything works again once it is released.
#[test]
fn a_held_lock_is_a_clear_error_within_the_bound_never_a_hang() {
    let (kw, _pass) = with_passphrase(Kw::new(), "a long enough passphrase");
    let kw = kw.env("KEYWARDEN_LOCK_TIMEOUT_MS", "300");
    kw.ok(&["store", "use-file"], b"");
    kw.ok(&["secret", "set", "k"], b"v1");
    for lock in ["keywarden.lock", "vault.kwv.lock"] {
        let held = lock_exclusive(&kw.home().join(lock), Duration::ZERO).unwrap();
        let started = Instant::now();
        let r = kw.run_with(&["secret", "set", "k"], b"v2");
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(lock), "{}", r.stderr);
        assert!(r.stderr.contains("300 ms"), "{}", r.stderr);
        assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
        assert!(!r.stderr.contains("Replaced"), "{}", r.stderr);
        drop(held);
        assert_eq!(kw.ok(&["secret", "get", "k"], b"").stdout, "v1");
    }
    kw.ok(&["secret", "set", "k"], b"v2");
    assert_eq!(kw.ok(&["secret", "get", "k"], b"").stdout, "v2");
    kw.ok(&["secret", "status", "--check"], b"");
}

/// Another program puts a different vault file in place while the desktop has the old
/// one unlocked: its next write is refused with what to do, and nothing is written.
#[test]
fn a_vault_file_replaced_under_an_open_session_is_detected() {
    let (kw, _pass) = with_passphrase(Kw::new(), "the first passphrase");
    kw.ok(&["store", "use-file"], b"");
    kw.ok(&["secret", "set", "k"], b"v1");
    let session = Vault::open(kw.home()).unwrap();
    session.unlock(&secret("the first passphrase")).unwrap();
    assert_eq!(session.read("k", Purpose::Use).unwrap().1.expose(), "v1");

    // Another profile's vault file (another salt and passphrase) is copied over this one.
    let (other, _other_pass) = with_passphrase(Kw::new(), "another passphrase");
    other.ok(&["store", "use-file"], b"");
    let path = kw.home().join("vault.kwv");
    let tmp = kw.home().join("incoming.tmp");
    std::fs::copy(other.home().join("vault.kwv"), &tmp).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let replaced = std::fs::read(&path).unwrap();

    let err = session
        .upsert(named("k"), SecretPatch::default(), Some(&secret("v2")))
        .unwrap_err();
    assert!(
        matches!(err, VaultError::Store(StoreError::VaultChanged(_))),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("vault.kwv"), "{message}");
    assert!(message.contains("Unlock it again"), "{message}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        replaced,
        "nothing was written"
    );
    assert_eq!(
        session.status().unwrap().health,
        Health::Failed(StoreError::VaultLocked),
        "the session is locked and says so"
    );
    assert!(matches!(
        session.read("k", Purpose::Use),
        Err(VaultError::Store(StoreError::VaultLocked))
    ));
    // The row was not left marked: the database still describes v1.
    assert_eq!(session.status().unwrap().pending_repairs, 0);
    assert_eq!(session.find("k").unwrap().version, 1);
}

/// `kw secret set` on an existing secret, with a new value and a new description,
/// killed with SIGKILL at random points: afterwards the secret has the old value and
/// description or both new ones, never a mix, and `status --check` is clean.
#[test]
fn kw_secret_set_killed_at_random_points_changes_value_and_metadata_together() {
    use rand::Rng as _;
    use std::os::unix::process::ExitStatusExt as _;
    let runs: u32 = std::env::var("KW_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    const PASSPHRASE: &str = "killed writers passphrase";
    let (kw, _pass) = with_passphrase(Kw::new(), PASSPHRASE);
    // A vault file with the cheapest key derivation the format accepts, so runs are quick.
    let fast = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 1,
        parallelism: 1,
    };
    drop(FileStore::create(kw.home().join("vault.kwv"), &secret(PASSPHRASE), fast).unwrap());
    Vault::open(kw.home())
        .unwrap()
        .choose_backend(Backend::File, Some(&secret(PASSPHRASE)))
        .unwrap();
    kw.ok(&["secret", "set", "k", "--description", "d0"], b"v0");

    let mut rng = rand::thread_rng();
    let mut committed = 0u32;
    let mut versions = 1u64;
    let (mut killed, mut repaired) = (0u32, 0u32);
    let mut window = Duration::from_millis(200);
    for n in 1..=runs {
        let description = format!("d{n}");
        let started = Instant::now();
        let mut child = spawn_set(
            &kw,
            &["secret", "set", "k", "--description", &description],
            &format!("v{n}"),
        );
        // The kill point is drawn from the second half of a run (a little past its end
        // too): the store and database work comes after start-up and key derivation.
        // The window follows how long a whole run takes here.
        let at = window.mul_f64(rng.gen_range(0.5..1.05));
        std::thread::sleep(at);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.signal() == Some(9) {
            killed += 1;
        } else {
            assert!(status.success(), "run {n} failed on its own");
            window = started.elapsed().max(Duration::from_millis(20));
        }

        let check = kw.run(&["secret", "status", "--check"]);
        assert_eq!(check.code, 0, "run {n}: {}{}", check.stdout, check.stderr);
        if check.stdout.contains("Repaired:") {
            repaired += 1;
        }
        let list = kw.list_json();
        assert_eq!(list.len(), 1);
        let value = kw.ok(&["secret", "get", "k"], b"").stdout;
        let now = list[0]["description"].as_str().unwrap().to_owned();
        if now == description {
            assert_eq!(
                value,
                format!("v{n}"),
                "run {n}: new description, old value"
            );
            committed = n;
            versions += 1;
        } else {
            assert_eq!(now, format!("d{committed}"), "run {n}");
            assert_eq!(
                value,
                format!("v{committed}"),
                "run {n}: old description, new value"
            );
        }
        assert_eq!(list[0]["versions"].as_u64(), Some(versions), "run {n}");
    }
    eprintln!(
        "{runs} runs: {killed} killed, {repaired} of them between marking and finishing \
         (repaired at the next start), {committed} committed last"
    );
    assert!(killed > 0, "the kills must land while kw runs");
}
