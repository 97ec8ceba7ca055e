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
KEYWARDEN_TEST_POSTGRES_URL=$(bash scripts/pg.sh start)
export KEYWARDEN_TEST_POSTGRES_URL
trap 'bash "$root/scripts/pg.sh" stop >/dev/null 2>&1 || true' EXIT

step "Rust tests (with a private, unlocked Secret Service)"
bash scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast

step "UI type check and unit tests"
(cd ui && npx --no-install tsc --noEmit && npm test --silent)

if [[ -z "${KEYWARDEN_SKIP_E2E:-}" ]]; then
  step "WebDriver tests of the desktop window"
  bash scripts/e2e.sh
fi

step "All tests passed"
