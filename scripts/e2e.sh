#!/usr/bin/env bash
# WebDriver tests of the desktop window: builds the UI and the app, then drives the real
# window (tauri-driver + WebKitWebDriver) under Xvfb, against a private unlocked
# gnome-keyring on a private D-Bus session, with a fresh KEYWARDEN_HOME.
#
#   scripts/e2e.sh                 build, then run tests/e2e (screenshots in tests/e2e/screenshots/)
#   E2E_PORT=4544 scripts/e2e.sh   another WebDriver port (default 4444)
#   E2E_FILES=requests.test.mjs scripts/e2e.sh   only these test files (each file starts the app once)
#
# Needs what scripts/setup.sh installs (it is not called here; scripts/test.sh calls it first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [[ "${1:-}" != "--inner" ]]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keywarden/target}"
  for tool in cargo npm xvfb-run dbus-run-session gnome-keyring-daemon secret-tool WebKitWebDriver; do
    command -v "$tool" >/dev/null || { echo "e2e: $tool is missing (run scripts/setup.sh)" >&2; exit 2; }
  done
  driver=$(command -v tauri-driver || true)
  [[ -z "$driver" && -x "$HOME/.cargo/bin/tauri-driver" ]] && driver="$HOME/.cargo/bin/tauri-driver"
  [[ -n "$driver" ]] || { echo "e2e: tauri-driver is missing (run scripts/setup.sh)" >&2; exit 2; }
  [[ -d tests/e2e/node_modules ]] || npm --prefix tests/e2e ci --no-audit --no-fund
  [[ -d ui/node_modules ]] || npm --prefix ui ci --no-audit --no-fund

  echo "==> Building the UI and the app (debug, UI embedded)"
  npm --prefix ui run build --silent
  cargo build --locked -p keywarden-desktop --features custom-protocol
  export KEYWARDEN_APP="$CARGO_TARGET_DIR/debug/keywarden" E2E_TAURI_DRIVER="$driver"

  echo "==> Running the WebDriver tests (Xvfb, private D-Bus session, unlocked gnome-keyring)"
  exec bash scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash "$root/scripts/e2e.sh" --inner
fi

# --- inside the private session and the virtual display ---
export NO_AT_BRIDGE=1
port="${E2E_PORT:-4444}"
export E2E_PORT="$port"
KEYWARDEN_HOME=$(mktemp -d "${TMPDIR:-/tmp}/kw-e2e-home.XXXXXX")
export KEYWARDEN_HOME
export E2E_SCREENSHOTS="${E2E_SCREENSHOTS:-$root/tests/e2e/screenshots}"
driver_log="${TMPDIR:-/tmp}/kw-tauri-driver.$$.log"

"$E2E_TAURI_DRIVER" --port "$port" --native-port "$((port + 1))" --native-driver "$(command -v WebKitWebDriver)" >"$driver_log" 2>&1 &
driver_pid=$!
cleanup() {
  kill "$driver_pid" 2>/dev/null || true
  wait "$driver_pid" 2>/dev/null || true
  rm -rf "$KEYWARDEN_HOME"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$driver_pid" 2>/dev/null || { echo "e2e: tauri-driver exited:" >&2; cat "$driver_log" >&2; exit 1; }
  sleep 0.1
done

status=0
if [[ -n "${E2E_FILES:-}" ]]; then
  (cd "$root/tests/e2e" && for f in $E2E_FILES; do node --test --test-reporter=spec "$f" || exit 1; done) || status=$?
else
  # The files share KEYWARDEN_HOME and the keychain, so they run one after the other (package.json).
  npm --prefix "$root/tests/e2e" test || status=$?
fi
if [[ $status -ne 0 ]]; then
  echo "---- tauri-driver log ----" >&2
  tail -n 50 "$driver_log" >&2 || true
fi
rm -f "$driver_log"
exit "$status"
