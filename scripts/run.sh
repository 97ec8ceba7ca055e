#!/usr/bin/env bash
# Builds and starts the Keywarden desktop app.
#
#   scripts/run.sh            install what is missing, build (release), start the window
#   scripts/run.sh --debug    a debug build (faster to compile)
#   scripts/run.sh --xvfb     no display at hand: run the window on a virtual display for a
#                             few seconds and save a screenshot of it
#
# Data lives in the platform data directory (~/.local/share/keywarden), or in KEYWARDEN_HOME.
# Secret values go to the OS keychain (Secret Service on Linux). Without one, the app still
# starts and its status bar says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
xvfb=0
for arg in "$@"; do
  case "$arg" in
    --debug) profile=debug ;;
    --xvfb) xvfb=1 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keywarden/target}"

echo "==> Building the UI"
npm --prefix ui run build --silent
# The UI is embedded in the binary (feature custom-protocol), as `tauri build` does; cargo is
# called directly because tauri.conf.json sits at the repository top level, above the crate.
echo "==> Building the app ($profile)"
cargo_flags=(--locked -p keywarden-desktop --features custom-protocol)
[[ $profile == release ]] && cargo_flags+=(--release)
cargo build "${cargo_flags[@]}"
app="$CARGO_TARGET_DIR/$profile/keywarden"

if [[ $xvfb == 1 ]]; then
  shot="${TMPDIR:-/tmp}/keywarden-window.png"
  echo "==> Starting Keywarden on a virtual display"
  xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash -c '
    "$1" & pid=$!
    sleep 4
    import -window root "$2"
    kill "$pid"; wait "$pid" 2>/dev/null || true' _ "$app" "$shot"
  echo "Screenshot of the window: $shot"
  exit 0
fi

if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  cat >&2 <<MSG
run.sh: there is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window
cannot open. The app is built at:
  $app
Run it from a desktop session, or try it on a virtual display:  scripts/run.sh --xvfb
MSG
  exit 1
fi

if command -v dbus-send >/dev/null && ! dbus-send --session --print-reply --dest=org.freedesktop.DBus \
  /org/freedesktop/DBus org.freedesktop.DBus.ListActivatableNames 2>/dev/null | grep -q org.freedesktop.secrets; then
  echo "run.sh: note: no Secret Service on this session bus; the app starts, and its status bar shows that the keychain is unavailable." >&2
fi

echo "==> Starting Keywarden ($app)"
exec "$app"
