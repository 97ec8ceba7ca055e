#!/usr/bin/env bash
# Runs every test of the project on a Debian/Ubuntu machine, installing what is missing first.
#
#   scripts/test.sh            everything: formatting, lints, Rust tests (real Secret Service,
#                              real PostgreSQL, real nginx), UI unit tests, WebDriver tests
#   KEYWARDEN_SKIP_E2E=1 scripts/test.sh     everything but the WebDriver tests
#
# Builds go to $CARGO_TARGET_DIR (default: ~/.cache/keywarden/target) so that a fresh
# clone on the same machine reuses earlier builds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keywarden/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

step() { printf '\n==> %s\n' "$*"; }

# Every test that needs a real part (Secret Service, PostgreSQL, nginx) fails when it is
# missing, and records each use here; the run ends by counting them.
export KEYWARDEN_REQUIRE_REAL_PARTS=1
parts_log=$(mktemp "${TMPDIR:-/tmp}/kw-real-parts.XXXXXX")
export KEYWARDEN_REAL_PARTS_LOG="$parts_log"
e2e_log=$(mktemp "${TMPDIR:-/tmp}/kw-e2e.XXXXXX")

step "Installing what is missing"
bash scripts/setup.sh

if [[ ! -f ui/src/ipc/bindings.ts ]]; then
  echo "ui/src/ipc/bindings.ts is missing" >&2
  exit 1
fi

step "Formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "Lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Starting a private PostgreSQL"
# A cluster that was already running (a developer's) is used and left running.
pg_was_running=no
bash scripts/pg.sh url >/dev/null 2>&1 && pg_was_running=yes
KEYWARDEN_TEST_POSTGRES_URL=$(bash scripts/pg.sh start)
export KEYWARDEN_TEST_POSTGRES_URL
cleanup() {
  if [[ $pg_was_running == no ]]; then
    bash "$root/scripts/pg.sh" stop >/dev/null 2>&1 || true
  fi
  rm -f "$parts_log" "$e2e_log"
}
trap cleanup EXIT

step "Rust tests (with a private, unlocked Secret Service)"
bash scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast

step "UI type check and unit tests"
(cd ui && npx --no-install tsc --noEmit && npm test --silent)

webdriver=skipped
if [[ -z "${KEYWARDEN_SKIP_E2E:-}" ]]; then
  step "WebDriver tests of the desktop window"
  bash scripts/e2e.sh 2>&1 | tee "$e2e_log"
  # node's test runner ends each file with "ℹ pass N".
  webdriver=$(sed -n 's/^ℹ pass \([0-9][0-9]*\)$/\1/p' "$e2e_log" | awk '{ n += $1 } END { print n + 0 }')
fi

step "Tests that ran against real parts"
used() { awk -F'\t' -v part="$1" '$1 == "used" && $2 == part' "$parts_log" | wc -l | tr -d ' '; }
secret_service=$(used "Secret Service")
postgres=$(used "PostgreSQL")
nginx=$(used "nginx")
skipped=$(awk -F'\t' '$1 == "skipped"' "$parts_log" | wc -l | tr -d ' ')
echo "Secret Service: $secret_service · PostgreSQL: $postgres · nginx: $nginx · WebDriver: $webdriver · skipped: $skipped"
for pair in "Secret Service=$secret_service" "PostgreSQL=$postgres" "nginx=$nginx" "WebDriver=$webdriver"; do
  if [[ "${pair#*=}" == 0 ]]; then
    echo "no test ran against ${pair%%=*}: a setup step must have failed" >&2
    exit 1
  fi
done
if [[ "$skipped" != 0 ]]; then
  echo "$skipped tests skipped a real part" >&2
  exit 1
fi

step "All tests passed"
