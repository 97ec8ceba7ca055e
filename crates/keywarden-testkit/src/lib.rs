//! Test helpers shared by the crates' integration tests; a dev-dependency only.
//!
//! **Real parts.** The product's claims are proven against the real OS keychain (Secret
//! Service), PostgreSQL and nginx. A test that needs one asks [`real_part`] first:
//!
//! * under the README's test command (`KEYWARDEN_REQUIRE_REAL_PARTS=1`) or whenever `CI` is
//!   set, a missing part **fails** the test with what is missing and how to get it;
//! * elsewhere (a plain `cargo test` on a laptop) the test is skipped, and says so on the
//!   process's standard error, past the test harness's output capture.
//!
//! Every use and every skip is appended to the file named by `KEYWARDEN_REAL_PARTS_LOG`
//! (one line each: `used` or `skipped`, the part, the test), from which the test command
//! prints how many tests ran against each part, and fails when one of them ran none.

use std::io::Write;

/// A real third-party part that tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The OS keychain on Linux: gnome-keyring in a private D-Bus session.
    SecretService,
    PostgreSQL,
    Nginx,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::SecretService => "Secret Service",
            Part::PostgreSQL => "PostgreSQL",
            Part::Nginx => "nginx",
        }
    }
}

/// Whether missing real parts fail tests (the test command, CI) instead of skipping them.
pub fn parts_required() -> bool {
    ["KEYWARDEN_REQUIRE_REAL_PARTS", "CI"].iter().any(|name| {
        std::env::var(name)
            .ok()
            .is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
    })
}

fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned()
}

fn record(what: &str, part: Part) {
    let Some(path) = std::env::var_os("KEYWARDEN_REAL_PARTS_LOG") else {
        return;
    };
    // One short line per write with O_APPEND: lines from parallel tests never interleave.
    let line = format!("{what}\t{}\t{}\n", part.name(), test_name());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot record the use of {} in {}: {e}",
            part.name(),
            std::path::Path::new(&path).display()
        );
    }
}

/// Asks for a real part. `present` says whether this run has it; `how` tells a person how
/// to get it. Returns `true` when the test should go on (the use is counted), `false` when
/// it should return early (only outside the test command and CI). Panics when a required
/// part is missing.
#[track_caller]
pub fn real_part(part: Part, present: bool, how: &str) -> bool {
    if present {
        record("used", part);
        return true;
    }
    if parts_required() {
        panic!(
            "{} is missing, and this run requires every real part (KEYWARDEN_REQUIRE_REAL_PARTS or CI is set): {how}",
            part.name()
        );
    }
    record("skipped", part);
    // Written to the process's standard error directly, so the harness's capture does not hide it.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {} (no {}): {how} ***",
        test_name(),
        part.name()
    );
    false
}

/// The Secret Service of `scripts/with-keyring.sh` (it sets `KEYWARDEN_TEST_SECRET_SERVICE`).
#[track_caller]
pub fn secret_service() -> bool {
    real_part(
        Part::SecretService,
        std::env::var_os("KEYWARDEN_TEST_SECRET_SERVICE").is_some(),
        "run the tests under scripts/with-keyring.sh (a private, unlocked gnome-keyring)",
    )
}

/// The PostgreSQL URL of `scripts/pg.sh start`, counted as a use when present.
#[track_caller]
pub fn postgres() -> Option<String> {
    let url = std::env::var("KEYWARDEN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    real_part(
        Part::PostgreSQL,
        url.is_some(),
        "set KEYWARDEN_TEST_POSTGRES_URL=$(scripts/pg.sh start)",
    )
    .then_some(url)
    .flatten()
}

/// The nginx binary (Debian's nginx-light or nginx), counted as a use when present.
#[track_caller]
pub fn nginx() -> Option<&'static str> {
    const NGINX: &str = "/usr/sbin/nginx";
    real_part(
        Part::Nginx,
        std::path::Path::new(NGINX).exists(),
        "install nginx with auth_request (apt-get install nginx-light)",
    )
    .then_some(NGINX)
}
