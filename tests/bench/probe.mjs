// One launch of a Tauri app through tauri-driver: prints, as JSON, the time from the
// process's start to the webview's first contentful paint, and the proportional set size
// (PSS) summed over the app's processes after it has idled.
//
//   node probe.mjs /abs/path/to/binary IDLE_SECONDS
//
// Used by desktop.sh; expects tauri-driver on 127.0.0.1:$BENCH_PORT (default 4444).

import { readFileSync, readdirSync, readlinkSync } from "node:fs";

const { remote } = await import(new URL("../e2e/node_modules/webdriverio/build/node.js", import.meta.url));
const [app, idleArg] = process.argv.slice(2);
const idleSeconds = Number(idleArg ?? 5);
const CLK_TCK = 100; // Linux USER_HZ

function pidsOf(exe) {
  const out = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/exe`) === exe) out.push(Number(d));
    } catch {}
  }
  return out;
}

function stat(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(rest[1]), starttime: Number(rest[19]) };
}

function descendants(root) {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const { ppid } = stat(Number(d));
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

function pssKiB(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

const browser = await remote({
  hostname: "127.0.0.1",
  port: Number(process.env.BENCH_PORT ?? 4444),
  logLevel: "error",
  capabilities: { browserName: "wry", "wdio:enforceWebDriverClassic": true, "tauri:options": { application: app } },
});
try {
  const paintAt = await browser.waitUntil(
    () =>
      browser.execute(() => {
        const e = performance.getEntriesByName("first-contentful-paint")[0];
        return e ? performance.timeOrigin + e.startTime : 0;
      }),
    { timeout: 30000, interval: 50, timeoutMsg: "no first-contentful-paint entry" },
  );
  const [pid] = pidsOf(app);
  if (!pid) throw new Error(`no process runs ${app}`);
  const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  const bootEpochMs = Date.now() - uptime * 1000;
  const startedAt = bootEpochMs + (stat(pid).starttime / CLK_TCK) * 1000;

  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const procs = descendants(pid).map((p) => ({ pid: p, name: comm(p), pssKiB: pssKiB(p) }));
  console.log(
    JSON.stringify({
      firstPaintMs: Math.round(paintAt - startedAt),
      pssKiB: procs.reduce((a, p) => a + p.pssKiB, 0),
      processes: procs.map((p) => `${p.name}:${p.pssKiB}`).join(" "),
    }),
  );
} finally {
  await browser.deleteSession();
}
