#!/usr/bin/env bash
# Runs a command with a private, unlocked Secret Service (gnome-keyring).
#
#   scripts/with-keyring.sh COMMAND [ARGS...]
#
# Starts a private D-Bus session (unless KEYWARDEN_IN_KEYRING_SESSION is already set),
# points HOME at a temporary directory so nothing touches the person's own keyrings,
# unlocks a fresh "login" keyring and waits until org.freedesktop.secrets has an owner
# on the bus before running COMMAND. Everything is torn down on exit.
set -euo pipefail

if [[ -z "${KEYWARDEN_IN_KEYRING_SESSION:-}" ]]; then
  for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
    command -v "$tool" >/dev/null || { echo "with-keyring: $tool is missing (run scripts/setup.sh)" >&2; exit 2; }
  done
  export KEYWARDEN_IN_KEYRING_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi

# Tools found through HOME (rustup, cargo, npm caches) keep working.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export npm_config_cache="${npm_config_cache:-$HOME/.npm}"
keyring_home=$(mktemp -d "${TMPDIR:-/tmp}/kw-keyring.XXXXXX")
export HOME="$keyring_home"
export XDG_DATA_HOME="$keyring_home/.local/share" XDG_CONFIG_HOME="$keyring_home/.config"
export XDG_RUNTIME_DIR="$keyring_home/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

cleanup() {
  [[ -n "${GNOME_KEYRING_PID:-}" ]] && kill "$GNOME_KEYRING_PID" 2>/dev/null || true
  rm -rf "$keyring_home"
}
trap cleanup EXIT

eval "$(printf 'keywarden-test\n' | gnome-keyring-daemon --daemonize --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL GNOME_KEYRING_PID

for _ in $(seq 1 100); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
       org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
    break
  fi
  sleep 0.1
done
if ! dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
     org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
  echo "with-keyring: gnome-keyring did not take org.freedesktop.secrets on the session bus" >&2
  exit 1
fi
export KEYWARDEN_TEST_SECRET_SERVICE=1
"$@"
