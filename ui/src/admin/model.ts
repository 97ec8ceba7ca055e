// Pure helpers of the Admin screen: reading the server's JSON bodies, sync badges and labels.
// Times are seconds since the epoch, except an outbox action's next attempt (milliseconds).

import type { AdminObject, AdminConnectionStatus } from "../ipc/bindings";

export type PrincipalKind = "user" | "service_user" | "api_client";

export const PRINCIPAL_KINDS: ReadonlyArray<{ kind: PrincipalKind; label: string; plural: string }> = [
  { kind: "user", label: "User", plural: "Users" },
  { kind: "service_user", label: "Service user", plural: "Service users" },
  { kind: "api_client", label: "API client", plural: "API clients" },
];

export function kindLabel(kind: unknown): string {
  return PRINCIPAL_KINDS.find((k) => k.kind === kind)?.label ?? String(kind ?? "");
}

export function str(o: AdminObject, field: string): string {
  const v = o.body[field];
  return typeof v === "string" ? v : "";
}

export function num(o: AdminObject, field: string): number | null {
  const v = o.body[field];
  return typeof v === "number" ? v : null;
}

export function list(o: AdminObject, field: string): string[] {
  const v = o.body[field];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

export function enabled(o: AdminObject): boolean {
  return o.body.enabled !== false;
}

export function revoked(o: AdminObject): boolean {
  return num(o, "revoked_at") !== null;
}

export type SyncBadge = { tone: "ok" | "warn" | "danger" | "muted"; label: string; title: string };

/** Where an object stands with the server: synced, pending (queued), failed or in conflict. */
export function syncBadge(o: AdminObject): SyncBadge {
  if (o.problem === "conflict")
    return { tone: "danger", label: "Conflict", title: "The server changed this object meanwhile: choose a version in Sync." };
  if (o.problem === "failed") return { tone: "danger", label: "Failed", title: "An action on it failed: retry or discard it in Sync." };
  if (o.pending > 0)
    return {
      tone: "warn",
      label: "Pending",
      title: `${o.pending} ${o.pending === 1 ? "change waits" : "changes wait"} to reach the server.`,
    };
  return { tone: "ok", label: "Synced", title: "The server has this version." };
}

/** Key state as people name it: revoked wins over expired wins over disabled. */
export function keyState(o: AdminObject, nowSeconds: number): { tone: "ok" | "warn" | "danger" | "muted"; label: string } {
  if (revoked(o)) return { tone: "danger", label: "Revoked" };
  const exp = num(o, "expires_at");
  if (exp !== null && exp <= nowSeconds) return { tone: "danger", label: "Expired" };
  if (!enabled(o)) return { tone: "muted", label: "Disabled" };
  if (typeof o.body.replaced_by === "string" && o.body.replaced_by) return { tone: "warn", label: "Rotated: in grace period" };
  if (exp !== null && exp - nowSeconds < 7 * 86400) return { tone: "warn", label: "Expires soon" };
  return { tone: "ok", label: "Active" };
}

export type Online = "online" | "offline" | "unknown" | "sign-in";

export function onlineState(c: AdminConnectionStatus): Online {
  if (c.needsSignIn) return "sign-in";
  if (c.online === null) return "unknown";
  return c.online ? "online" : "offline";
}

export function onlineLabel(s: Online): string {
  return { online: "Online", offline: "Offline", unknown: "Not yet reached", "sign-in": "Sign in again" }[s];
}

/** "key.disable" → "Disable key". */
export function actionLabel(action: string): string {
  const [kind, verb] = action.split(".");
  if (!verb) return action;
  const v = verb.replace(/_/g, " ");
  return `${v.charAt(0).toUpperCase()}${v.slice(1)} ${kind}`;
}

/** A secret name for a key placed in the vault: `<principal>-<key>` in the vault's name alphabet. */
export function vaultSecretName(principal: string, key: string): string {
  const clean = (s: string) =>
    s
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, "-")
      .replace(/^-+|-+$/g, "");
  return [clean(principal), clean(key)].filter(Boolean).join("-") || "api-key";
}

/** The fields that differ between what I meant and what the server has, for a conflict. */
export function conflictRows(
  mine: Record<string, unknown> | null,
  theirs: Record<string, unknown> | null,
): Array<{ field: string; mine: string; theirs: string; differs: boolean }> {
  const hidden = new Set(["id", "version", "created_at", "updated_at", "digest"]);
  const fields = Object.keys(mine ?? {}).filter((f) => !hidden.has(f));
  return fields.map((f) => {
    const a = show((mine ?? {})[f]);
    const b = show((theirs ?? {})[f]);
    return { field: f, mine: a, theirs: b, differs: a !== b };
  });
}

/** A JSON value in one short line. */
export function show(v: unknown): string {
  if (v === undefined) return "—";
  if (v === null) return "none";
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return v.length === 0 ? "none" : v.map(show).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Audit details as `field: value` pairs (secrets are never included by the server); ids become names when known. */
export function detailPairs(detail: Record<string, unknown>, names: Map<string, string> = new Map()): string {
  return Object.entries(detail)
    .map(([k, v]) => {
      const named = k.endsWith("_id") && typeof v === "string" ? names.get(v) : undefined;
      return named ? `${k.slice(0, -3).replace(/_/g, " ")}: ${named}` : `${k.replace(/_/g, " ")}: ${show(v)}`;
    })
    .join(" · ");
}

/** Milliseconds → "just now", "12 s ago", "3 min ago"… for the sync strip. */
export function agoMs(at: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - at) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

export const GRACE_CHOICES: ReadonlyArray<{ seconds: number | null; label: string }> = [
  { seconds: 3600, label: "1 hour" },
  { seconds: 86400, label: "24 hours" },
  { seconds: 7 * 86400, label: "7 days" },
  { seconds: null, label: "None: the old key stops at once" },
];
