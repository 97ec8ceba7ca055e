// Pure formatting helpers. Every function takes `now` (seconds since the epoch) so tests are exact.

import type { SecretSummary } from "../ipc/bindings";

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", "yesterday", "12 days ago", or a date for anything older than 60 days. */
export function relativePast(at: number, now: number): string {
  const d = now - at;
  if (d < 45) return "just now";
  if (d < HOUR) return `${Math.max(1, Math.round(d / MINUTE))} min ago`;
  if (d < DAY) return `${Math.round(d / HOUR)} h ago`;
  const days = Math.floor(d / DAY);
  if (days === 1) return "yesterday";
  if (days < 60) return `${days} days ago`;
  return formatDate(at);
}

/** A short calendar date in the person's locale, e.g. "12 Mar 2026". UTC so tests are stable. */
export function formatDate(at: number): string {
  return new Date(at * 1000).toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
}

/** Date and time, e.g. "12 Mar 2026, 14:05 UTC". */
export function formatDateTime(at: number): string {
  const d = new Date(at * 1000);
  const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  return `${formatDate(at)}, ${time} UTC`;
}

export type ExpiryBadge = { tone: "warn" | "danger"; label: string; title: string } | null;

/**
 * The badge a secret shows in the list. The state comes from Rust (one warning window for every
 * program); the wording is the window's.
 */
export function expiryBadge(s: Pick<SecretSummary, "expiry" | "expiresAt">, now: number): ExpiryBadge {
  if (s.expiresAt === null) return null;
  const title = `Expires ${formatDateTime(s.expiresAt)}`;
  switch (s.expiry) {
    case "expired": {
      const days = Math.floor((now - s.expiresAt) / DAY);
      return {
        tone: "danger",
        label: days < 1 ? "Expired today" : days === 1 ? "Expired yesterday" : `Expired ${days} days ago`,
        title,
      };
    }
    case "soon":
      return { tone: "warn", label: expiresIn(s.expiresAt, now), title };
    default:
      return null;
  }
}

/** "Expires in 3 h", "Expires tomorrow", "Expires in 5 days". */
export function expiresIn(at: number, now: number): string {
  const d = at - now;
  if (d <= 0) return "Expired";
  if (d < HOUR) return `Expires in ${Math.max(1, Math.round(d / MINUTE))} min`;
  if (d < DAY) return `Expires in ${Math.round(d / HOUR)} h`;
  const days = Math.round(d / DAY);
  return days === 1 ? "Expires tomorrow" : `Expires in ${days} days`;
}

/** Splits "a, b  c\nd" into ["a","b","c","d"]: commas, whitespace and new lines separate items; duplicates dropped. */
export function splitList(input: string): string[] {
  const out: string[] = [];
  for (const part of input.split(/[\s,]+/)) {
    const t = part.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** `<input type="date">` value (YYYY-MM-DD) to the end of that day in UTC, or null when empty. */
export function dateInputToTimestamp(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** The reverse of {@link dateInputToTimestamp}. */
export function timestampToDateInput(at: number | null): string {
  if (at === null) return "";
  return new Date(at * 1000).toISOString().slice(0, 10);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A fingerprint without its scheme prefix, for tight spaces: "kwfp:3f9a1c0b7d2e" -> "3f9a1c0b7d2e". */
export function shortFingerprint(fp: string): string {
  const i = fp.indexOf(":");
  return i >= 0 ? fp.slice(i + 1) : fp;
}

/** A stable colour family for an environment chip. */
export function envTone(env: string): "prod" | "stage" | "dev" | "other" {
  const e = env.toLowerCase();
  if (e.startsWith("prod") || e === "live") return "prod";
  if (e.startsWith("stag") || e === "uat" || e === "preprod") return "stage";
  if (e.startsWith("dev") || e === "test" || e === "local" || e === "sandbox") return "dev";
  return "other";
}

/** What the status bar says about the store's health. */
export function healthLabel(h: "ok" | "untested" | "locked" | "unavailable"): string {
  switch (h) {
    case "ok":
      return "Healthy";
    case "untested":
      return "Not checked yet";
    case "locked":
      return "Locked";
    case "unavailable":
      return "Unavailable";
  }
}

/** A message from Rust as a sentence: capital first letter, final full stop. */
export function sentence(message: string): string {
  const t = message.trim();
  if (!t) return t;
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
