// Pure logic of the Requests screen, unit-tested in ui/test/requests.test.ts: the empty request,
// where an error belongs, how a profile presents its key, status classes, sizes, JSON, search.

import type { Body, HistoryEntry, IpcError, KeyProfile, KeyValue, RequestSpec, SavedRequest, Style } from "../ipc/bindings";

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

export function emptySpec(): RequestSpec {
  return { method: "GET", url: "", query: [], headers: [], body: { kind: "none" }, profile: null, environment: null };
}

export function emptyRow(): KeyValue {
  return { name: "", value: "", enabled: true };
}

/** Rows the person has started to fill (a trailing blank row is the editor's, not the request's). */
export function usedRows(rows: KeyValue[]): KeyValue[] {
  return rows.filter((r) => r.name.trim() !== "" || r.value.trim() !== "");
}

/** The spec as Rust should see it: blank rows dropped, names trimmed. */
export function cleanSpec(spec: RequestSpec): RequestSpec {
  const clean = (rows: KeyValue[]) => usedRows(rows).map((r) => ({ ...r, name: r.name.trim() }));
  const body: Body = spec.body.kind === "form" ? { kind: "form", fields: clean(spec.body.fields) } : spec.body;
  return {
    ...spec,
    method: spec.method.trim().toUpperCase() || "GET",
    url: spec.url.trim(),
    query: clean(spec.query),
    headers: clean(spec.headers),
    body,
    profile: spec.profile || null,
    environment: spec.environment || null,
  };
}

/** Whether there is anything worth previewing. */
export function isBlank(spec: RequestSpec): boolean {
  return spec.url.trim() === "";
}

/** The part of the composer an error is about. */
export type ErrorPlace =
  | { tab: "url" }
  | { tab: "method" }
  | { tab: "query"; name: string | null }
  | { tab: "headers"; name: string | null }
  | { tab: "body"; name: string | null }
  | { tab: "auth" }
  | { tab: "environment" }
  | { tab: "request" };

/**
 * Where an error from `preview_request` or `send_request` belongs, from its `field`
 * (`URL`, `query page`, `header X-Api-Key`, `body`, `form field user`, `profile billing header Authorization`,
 * `environment query _profile`, `profile`, `environment`).
 */
export function errorPlace(e: Pick<IpcError, "field">): ErrorPlace {
  const f = (e.field ?? "").trim();
  const lower = f.toLowerCase();
  const rest = (prefix: string) => f.slice(prefix.length).trim() || null;
  if (lower === "url") return { tab: "url" };
  if (lower === "method") return { tab: "method" };
  if (lower === "query") return { tab: "query", name: null };
  if (lower.startsWith("query ")) return { tab: "query", name: rest("query ") };
  if (lower === "headers") return { tab: "headers", name: null };
  if (lower.startsWith("header ")) return { tab: "headers", name: rest("header ") };
  if (lower === "body") return { tab: "body", name: null };
  if (lower.startsWith("form field ")) return { tab: "body", name: rest("form field ") };
  if (lower === "profile" || lower.startsWith("profile ")) return { tab: "auth" };
  if (lower === "environment" || lower.startsWith("environment ")) return { tab: "environment" };
  return { tab: "request" };
}

/** The message without the field name Rust puts in front of it ("URL: template error…" → "Template error…"). */
export function errorText(e: Pick<IpcError, "field" | "message">): string {
  // A refusal is introduced by the screen ("Will not be sent"); the word is not repeated.
  const m = e.message.replace(/^Refused: /, "").replace(/^./, (c) => c.toUpperCase());
  const f = e.field;
  if (f && m.toLowerCase().startsWith(`${f.toLowerCase()}: `)) {
    const t = m.slice(f.length + 2);
    return t.charAt(0).toUpperCase() + t.slice(1);
  }
  return m;
}

/** The style names the profile dialog offers, in the order of the sources. */
export const STYLE_KINDS: ReadonlyArray<{ kind: Style["kind"]; label: string; hint: string }> = [
  { kind: "bearer", label: "Bearer token", hint: "Authorization: Bearer <key>" },
  { kind: "keyEquals", label: "Key=", hint: "Authorization: Key=<key>" },
  { kind: "basic", label: "HTTP Basic", hint: "A fixed user name, the key as password" },
  { kind: "header", label: "Custom header", hint: "Any header name, with a template" },
  { kind: "apiToken", label: "API-token header", hint: "X-API-Token: <key>" },
  { kind: "jwt", label: "Signed JWT", hint: "HS256/384/512, RS256 or ES256, signed with the key" },
  { kind: "query", label: "Query parameter", hint: "?auth-key=<key> — URLs get logged" },
];

export const JWT_ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "ES256"] as const;

/** A new style of the given kind with sensible defaults. */
export function defaultStyle(kind: Style["kind"], secret: string): Style {
  switch (kind) {
    case "bearer":
      return { kind: "bearer" };
    case "keyEquals":
      return { kind: "keyEquals" };
    case "basic":
      return { kind: "basic", user: "" };
    case "header":
      return { kind: "header", name: "X-Api-Key", template: `\${secret.${secret || "NAME"}}` };
    case "apiToken":
      return { kind: "apiToken", header: "X-API-Token" };
    case "jwt":
      return { kind: "jwt", algorithm: "HS256", claims: '{"sub": "keywarden"}', lifetimeSeconds: 300, header: null, scheme: null };
    case "query":
      return { kind: "query", param: "auth-key" };
  }
}

/** Where and how the profile puts its key, as the person will see it on the wire (secret as `[secret.NAME]`). */
export function presentation(p: Pick<KeyProfile, "secret" | "style">): { where: "header" | "query"; name: string; value: string } {
  const s = `[secret.${p.secret || "?"}]`;
  const st = p.style;
  switch (st.kind) {
    case "bearer":
      return { where: "header", name: "Authorization", value: `Bearer ${s}` };
    case "keyEquals":
      return { where: "header", name: "Authorization", value: `Key=${s}` };
    case "basic":
      return { where: "header", name: "Authorization", value: `Basic base64(${st.user || "user"}:${s})` };
    case "header":
      return { where: "header", name: st.name || "?", value: st.template.replace(/\$\{\s*secret\.([A-Za-z0-9_.-]+)\s*\}/g, "[secret.$1]") };
    case "apiToken":
      return { where: "header", name: st.header || "?", value: s };
    case "jwt": {
      const scheme = st.scheme === null ? "Bearer" : st.scheme;
      return { where: "header", name: st.header || "Authorization", value: `${scheme ? `${scheme} ` : ""}jwt(${st.algorithm}, ${s})` };
    }
    case "query":
      return { where: "query", name: st.param || "?", value: s };
  }
}

export function styleLabel(kind: Style["kind"]): string {
  return STYLE_KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

/** The colour family of a status code. */
export function statusClass(status: number | null): "ok" | "redirect" | "client" | "server" | "none" {
  if (status === null) return "none";
  if (status >= 200 && status < 300) return "ok";
  if (status >= 300 && status < 400) return "redirect";
  if (status >= 400 && status < 500) return "client";
  if (status >= 500) return "server";
  return "none";
}

/** "512 B", "1.2 KB", "3.4 MB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** "0.8 ms", "42 ms", "1.25 s". */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** The body as shown: JSON pretty-printed with two spaces, anything else as it came. */
export function prettyBody(body: string, contentType: string | null): { text: string; json: boolean } {
  const looksJson = /json/i.test(contentType ?? "") || /^\s*[[{]/.test(body);
  if (looksJson && body.length <= 4 * 1024 * 1024) {
    try {
      return { text: JSON.stringify(JSON.parse(body), null, 2), json: true };
    } catch {
      // Not JSON after all: show it as it is.
    }
  }
  return { text: body, json: false };
}

/** Splits text around case-insensitive matches of `needle`: alternating [plain, match, plain, …]. */
export function splitMatches(text: string, needle: string, max = 5000): { parts: string[]; count: number } {
  if (!needle) return { parts: [text], count: 0 };
  const hay = text.toLowerCase();
  const n = needle.toLowerCase();
  const parts: string[] = [];
  let at = 0;
  let count = 0;
  for (;;) {
    const i = hay.indexOf(n, at);
    if (i < 0 || count >= max) break;
    parts.push(text.slice(at, i), text.slice(i, i + n.length));
    at = i + n.length;
    count++;
  }
  parts.push(text.slice(at));
  return { parts, count };
}

/** Saved requests grouped by collection, collections and names in the order Rust gave them. */
export function groupByCollection(saved: SavedRequest[]): Array<{ collection: string; items: SavedRequest[] }> {
  const out: Array<{ collection: string; items: SavedRequest[] }> = [];
  for (const s of saved) {
    const g = out.find((x) => x.collection === s.collection);
    if (g) g.items.push(s);
    else out.push({ collection: s.collection, items: [s] });
  }
  return out;
}

/** A history entry's outcome in a few words. */
export function historyOutcome(h: Pick<HistoryEntry, "status" | "error">): string {
  if (h.status !== null) return String(h.status);
  return h.error ? "failed" : "—";
}

/** Count of enabled, non-blank rows, for tab labels. */
export function activeCount(rows: KeyValue[]): number {
  return usedRows(rows).filter((r) => r.enabled).length;
}

/** The content type a body kind sends. */
export function bodyContentType(b: Body): string | null {
  switch (b.kind) {
    case "none":
      return null;
    case "json":
      return "application/json";
    case "form":
      return "application/x-www-form-urlencoded";
    case "raw":
      return b.contentType || null;
  }
}

/** Switches the body kind, keeping the text where it makes sense. */
export function switchBody(b: Body, kind: Body["kind"]): Body {
  const text = b.kind === "json" || b.kind === "raw" ? b.template : "";
  switch (kind) {
    case "none":
      return { kind: "none" };
    case "json":
      return { kind: "json", template: text };
    case "raw":
      return { kind: "raw", contentType: b.kind === "raw" ? b.contentType : "text/plain", template: text };
    case "form":
      return { kind: "form", fields: b.kind === "form" ? b.fields : [] };
  }
}

/** Same request? (to tell whether the composer has unsaved changes). */
export function sameSpec(a: RequestSpec, b: RequestSpec): boolean {
  return JSON.stringify(cleanSpec(a)) === JSON.stringify(cleanSpec(b));
}

/** A URL template as path (what differs between requests) over host (what mostly does not). */
export function splitUrl(url: string): { host: string; path: string } {
  const rest = url.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const i = rest.search(/[/?#]/);
  return i < 0 ? { host: rest, path: "/" } : { host: rest.slice(0, i), path: rest.slice(i) };
}

export type JsonToken = { t: "key" | "str" | "num" | "lit" | "punct"; s: string };

/** Tokens of pretty-printed JSON for colouring: keys, strings, numbers, literals and the rest. */
export function jsonTokens(text: string): JsonToken[] {
  const out: JsonToken[] = [];
  const re = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > at) out.push({ t: "punct", s: text.slice(at, m.index) });
    if (m[1] !== undefined) {
      out.push({ t: m[2] ? "key" : "str", s: m[1] });
      if (m[2]) out.push({ t: "punct", s: m[2] });
    } else if (m[3] !== undefined) out.push({ t: "num", s: m[3] });
    else out.push({ t: "lit", s: m[0] });
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push({ t: "punct", s: text.slice(at) });
  return out;
}

export type Completion = {
  label: string;
  insert: string;
  kind: "secret" | "variable" | "function" | "namespace";
  /** Add the closing `}` (a complete top-level expression). */
  closes: boolean;
  /** Move the caret this many characters back after inserting (into a function's parentheses). */
  caretBack?: number;
};

const FUNCTIONS: ReadonlyArray<{ name: string; args: boolean }> = [
  { name: "base64", args: true },
  { name: "base64url", args: true },
  { name: "basic", args: true },
  { name: "urlencode", args: true },
  { name: "jwt", args: true },
  { name: "sha256", args: true },
  { name: "hmac_sha256", args: true },
  { name: "uuid", args: false },
  { name: "now", args: false },
];

function ranked(names: string[], prefix: string): string[] {
  const p = prefix.toLowerCase();
  const hits = names.filter((n) => n.toLowerCase().includes(p));
  return [...hits.filter((n) => n.toLowerCase().startsWith(p)), ...hits.filter((n) => !n.toLowerCase().startsWith(p))];
}

/**
 * What can complete the expression being typed at `caret` in a template: secret names after
 * `${secret.`, variables after `${env.`, and namespaces and functions after `${`. Null outside
 * an open `${…` (or after a literal `$${`).
 */
export function completionsAt(text: string, caret: number, hints: { secrets: string[]; variables: string[] }): { from: number; items: Completion[] } | null {
  const before = text.slice(0, caret);
  const open = before.lastIndexOf("${");
  if (open < 0 || (open > 0 && before[open - 1] === "$")) return null;
  const inside = before.slice(open + 2);
  if (inside.includes("}")) return null;
  const m = /(?:^|[\s(,])((?:secret|env)\.[A-Za-z0-9_.-]*|[A-Za-z_][A-Za-z0-9_]*|)$/.exec(inside);
  if (!m) return null;
  const token = m[1] ?? "";
  const from = caret - token.length;
  const topLevel = inside.trim() === token;
  let items: Completion[];
  if (token.startsWith("secret.")) {
    items = ranked(hints.secrets, token.slice(7)).map((n) => ({ label: `secret.${n}`, insert: `secret.${n}`, kind: "secret", closes: topLevel }));
  } else if (token.startsWith("env.")) {
    items = ranked(hints.variables, token.slice(4)).map((n) => ({ label: `env.${n}`, insert: `env.${n}`, kind: "variable", closes: topLevel }));
  } else {
    const p = token.toLowerCase();
    const spaces: Completion[] = [
      { label: "secret.", insert: "secret.", kind: "namespace" as const, closes: false },
      { label: "env.", insert: "env.", kind: "namespace" as const, closes: false },
    ].filter((c) => c.label.startsWith(p));
    const fns: Completion[] = FUNCTIONS.filter((f) => f.name.startsWith(p)).map((f) =>
      f.args
        ? { label: `${f.name}(…)`, insert: `${f.name}()`, kind: "function", closes: false, caretBack: 1 }
        : { label: `${f.name}()`, insert: `${f.name}()`, kind: "function", closes: topLevel },
    );
    items = [...spaces, ...fns];
    if (items.length === 1 && items[0]!.insert === token) items = [];
  }
  return items.length ? { from, items } : null;
}
