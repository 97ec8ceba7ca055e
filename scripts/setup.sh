#!/usr/bin/env bash
# Installs everything missing for building, running and testing Keywarden on Debian 12 or
# Ubuntu 22.04+: system packages, Rust components, tauri-driver and the npm packages of
# ui/ and tests/e2e/. Non-interactive and idempotent: a second run only checks (seconds).
#
#   scripts/setup.sh
#
# Runs as root, or as a user with sudo. Rust itself (cargo, rustc via rustup) and Node.js 20+
# with npm must already be there; this script says so clearly when they are not.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null; then
  SUDO=(sudo -n)
else
  SUDO=()
fi
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export PATH="$CARGO_HOME/bin:$PATH"

# ---- system packages -------------------------------------------------------------------
APT_PACKAGES=(
  # building the Tauri app (WebKitGTK 4.1) and the keychain client
  libwebkit2gtk-4.1-dev build-essential file libxdo-dev libssl-dev libayatana-appindicator3-dev
  librsvg2-dev pkg-config libdbus-1-dev
  # a Secret Service for tests: private D-Bus sessions with gnome-keyring, checked with secret-tool
  dbus dbus-x11 gnome-keyring libsecret-tools
  # running the window headless, looking at it and driving it
  xvfb xauth imagemagick xdotool webkit2gtk-driver
  # the key server's deployments and their tests
  nginx-light postgresql curl wrk openssl
)

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
# Ubuntu 24.04 dropped nginx-light; any nginx with auth_request does.
if [[ " ${missing[*]} " == *" nginx-light "* ]] && { installed nginx || installed nginx-core; }; then
  missing=("${missing[@]/nginx-light}")
fi
read -r -a missing <<<"${missing[*]}"

if ((${#missing[@]})); then
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "missing packages (${missing[*]}): run as root or install sudo"
  fi
  say "installing ${#missing[@]} system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  if [[ " ${missing[*]} " == *" nginx-light "* ]] && ! apt-cache show nginx-light >/dev/null 2>&1; then
    missing=("${missing[@]/nginx-light/nginx}")
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "system packages: all ${#APT_PACKAGES[@]} present"
fi

# ---- Rust ------------------------------------------------------------------------------
command -v cargo >/dev/null || die "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null || die "rustfmt/clippy are missing and rustup is not there to add them"
  say "adding the rustfmt and clippy components"
  rustup component add rustfmt clippy
fi
if ! command -v tauri-driver >/dev/null; then
  say "installing tauri-driver (cargo install, about 30 s)"
  cargo install tauri-driver --locked --quiet
fi

# ---- Node.js and the npm packages --------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || die "Node.js 20+ and npm are missing: install them (e.g. from NodeSource or your distribution), then run this again"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node.js $(node --version) is too old: Vite needs Node.js 20.19 or newer"

# `npm ci` wipes node_modules, so it runs only when the lock file changed since the last install.
npm_ci() {
  local dir=$1 stamp="$1/node_modules/.keywarden-lock.sha256" sum
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
    say "$dir: npm packages up to date"
    return
  fi
  say "$dir: npm ci"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  echo "$sum" >"$stamp"
}
npm_ci ui
npm_ci tests/e2e

say "done"
