#!/usr/bin/env bash
# Desktop figures for BENCHMARKS.md: Keywarden against a hello-world Tauri app
# (tests/bench/hello-tauri), both built the same way (release profile of the workspace,
# UI embedded with tauri/custom-protocol, same toolchain, same target directory).
#
#   tests/bench/desktop.sh [RUNS]      default 7 launches of each app, alternating
#   BENCH_IDLE_SECONDS=10              how long each app idles before its memory is read
#
# On Xvfb, in a private D-Bus session with an unlocked gnome-keyring, each app with a fresh
# KEYWARDEN_HOME, the two apps alternating, after one uncounted warm-up launch of each:
#   first paint  = launched through tauri-driver: the webview's first-contentful-paint
#                  (Performance API, epoch ms) minus the process start time
#                  (/proc/PID/stat starttime); a fresh process each time, OS file cache warm
#   idle memory  = launched directly (no WebDriver, as a person starts it): PSS from
#                  /proc/PID/smaps_rollup summed over the app's process tree (main,
#                  WebKitWebProcess, WebKitNetworkProcess) after BENCH_IDLE_SECONDS
# Binary size is the size of the release binary on disk.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

if [[ "${1:-}" != "--inner" ]]; then
  runs="${1:-7}"
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keywarden/target}"
  [[ -d tests/e2e/node_modules ]] || bash scripts/setup.sh
  echo "==> Building both apps (release, UI embedded)" >&2
  npm --prefix ui run build --silent >&2
  cargo build --release --locked -p keywarden-desktop --features custom-protocol >&2
  cargo build --release --manifest-path tests/bench/hello-tauri/Cargo.toml --features custom-protocol >&2
  export BENCH_RUNS="$runs"
  export BENCH_KEYWARDEN="$CARGO_TARGET_DIR/release/keywarden" BENCH_HELLO="$CARGO_TARGET_DIR/release/hello-tauri"
  export BENCH_DRIVER="$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")"
  exec bash scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash "$here/desktop.sh" --inner
fi

# --- inside a private D-Bus session with an unlocked keyring, on a virtual display ---
export NO_AT_BRIDGE=1
export BENCH_PORT="${BENCH_PORT:-4444}"
idle="${BENCH_IDLE_SECONDS:-10}"
KEYWARDEN_HOME=$(mktemp -d "${TMPDIR:-/tmp}/kw-bench-home.XXXXXX")
export KEYWARDEN_HOME
results=$(mktemp)
"$BENCH_DRIVER" --port "$BENCH_PORT" --native-port "$((BENCH_PORT + 1))" >/dev/null 2>&1 &
driver=$!
trap 'kill $driver 2>/dev/null || true; rm -rf "$KEYWARDEN_HOME" "$results"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT") 2>/dev/null && break; sleep 0.1; done

probe() { node "$here/probe.mjs" "$1" 0 2>/dev/null | grep '^{'; }

# Launches $1 directly, lets it idle, prints {"pssKiB":N,"processes":"name:kib ..."}.
memory() {
  local home pid total=0 list="" p kib
  home=$(mktemp -d "${TMPDIR:-/tmp}/kw-bench-mem.XXXXXX")
  KEYWARDEN_HOME="$home" "$1" >/dev/null 2>&1 &
  pid=$!
  sleep "$idle"
  for p in $pid $(pgrep -P "$pid"); do
    kib=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + kib))
    list="$list $(cat "/proc/$p/comm"):$kib"
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$home"
  printf '{"pssKiB":%d,"processes":"%s"}\n' "$total" "${list# }"
}

echo "==> Warm-up launch of each app (not counted)" >&2
probe "$BENCH_HELLO" >/dev/null
probe "$BENCH_KEYWARDEN" >/dev/null
for i in $(seq 1 "$BENCH_RUNS"); do
  for which in hello keywarden; do
    bin=$BENCH_HELLO
    [[ $which == keywarden ]] && bin=$BENCH_KEYWARDEN
    line=$(probe "$bin")
    echo "paint $i $which $line" >&2
    echo "paint $which $line" >>"$results"
  done
done
for i in $(seq 1 "$BENCH_RUNS"); do
  for which in hello keywarden; do
    bin=$BENCH_HELLO
    [[ $which == keywarden ]] && bin=$BENCH_KEYWARDEN
    line=$(memory "$bin")
    echo "memory $i $which $line" >&2
    echo "memory $which $line" >>"$results"
  done
done

python3 - "$results" "$BENCH_HELLO" "$BENCH_KEYWARDEN" "$BENCH_RUNS" "$idle" <<'PY'
import json, os, statistics, sys
path, hello_bin, kw_bin, runs, idle = sys.argv[1:]
rows = {}
for line in open(path):
    kind, which, js = line.split(" ", 2)
    rows.setdefault((kind, which), []).append(json.loads(js))
def values(which, key):
    return [r[key] for r in rows[("paint" if key == "firstPaintMs" else "memory", which)]]
def med(which, key):
    return statistics.median(values(which, key))
def spread(which, key):
    v = values(which, key)
    return min(v), max(v)
paint_h, paint_k = med("hello", "firstPaintMs"), med("keywarden", "firstPaintMs")
pss_h, pss_k = med("hello", "pssKiB") / 1024, med("keywarden", "pssKiB") / 1024
size_h, size_k = os.path.getsize(hello_bin) / 2**20, os.path.getsize(kw_bin) / 2**20
def pct(a, b):
    return f"{(b - a) / a * 100:+.1f} %"
print(f"| figure | hello-world Tauri | Keywarden | difference |")
print(f"|---|---|---|---|")
lo_h, hi_h = spread("hello", "firstPaintMs"); lo_k, hi_k = spread("keywarden", "firstPaintMs")
print(f"| cold start to first contentful paint (median of {runs}; min–max) | {paint_h:.0f} ms ({lo_h}–{hi_h}) | {paint_k:.0f} ms ({lo_k}–{hi_k}) | {pct(paint_h, paint_k)} |")
print(f"| release binary size | {size_h:.2f} MiB | {size_k:.2f} MiB | {pct(size_h, size_k)} |")
lo_h, hi_h = spread("hello", "pssKiB"); lo_k, hi_k = spread("keywarden", "pssKiB")
print(f"| idle memory: PSS summed over the app's processes after {idle} s (median of {runs}; min–max) | {pss_h:.1f} MiB ({lo_h/1024:.0f}–{hi_h/1024:.0f}) | {pss_k:.1f} MiB ({lo_k/1024:.0f}–{hi_k/1024:.0f}) | {pct(pss_h, pss_k)} |")
for which in ("hello", "keywarden"):
    print(f"\n{which}, last memory run (PSS KiB per process): {rows[('memory', which)][-1]['processes']}")
PY
