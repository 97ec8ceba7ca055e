// The Sync tab: conflicts with both versions, failed actions with their reason, what is queued,
// and what reached the server lately. Nothing here is overwritten silently.

import { useEffect, useState } from "preact/hooks";
import { api } from "../ipc/api";
import type { AdminAction, AdminAuditEntry, IpcError } from "../ipc/bindings";
import { AlertIcon, CheckIcon, ClockIcon } from "../components/icons";
import { formatDateTime } from "../lib/format";
import { actionLabel, agoMs, conflictRows, detailPairs } from "./model";

function useAct(onDone: () => void) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function act(id: string, f: () => Promise<unknown>) {
    setBusy(id);
    setError(null);
    try {
      await f();
      onDone();
    } catch (e) {
      setError((e as IpcError).message);
    } finally {
      setBusy(null);
    }
  }
  return { busy, error, act };
}

function Conflict(props: { a: AdminAction; onDone: () => void }) {
  const { busy, error, act } = useAct(props.onDone);
  const rows = conflictRows(props.a.intent, props.a.serverObject);
  return (
    <li class="ob-item ob-conflict" data-testid="conflict-item">
      <div class="ob-head">
        <AlertIcon size={15} />
        <strong>{props.a.summary}</strong>
        <span class="badge badge-danger">Conflict</span>
      </div>
      <p class="muted small">Someone changed this on the server (now version {props.a.serverVersion ?? "?"}). Choose which version stays.</p>
      <table class="conflict-table">
        <thead>
          <tr>
            <th>Field</th>
            <th>Mine</th>
            <th>Theirs (server)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr class={r.differs ? "differs" : ""}>
              <td>{r.field.replace(/_/g, " ")}</td>
              <td class="mono">{r.mine}</td>
              <td class="mono">{r.theirs}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && <p class="field-error">{error}</p>}
      <div class="ob-actions">
        <button type="button" class="btn btn-sm btn-primary" disabled={busy !== null} onClick={() => act("mine", () => api.adminResolve({ seq: props.a.seq, keep: "mine" }))} data-testid="keep-mine">
          Keep mine
        </button>
        <button type="button" class="btn btn-sm" disabled={busy !== null} onClick={() => act("theirs", () => api.adminResolve({ seq: props.a.seq, keep: "theirs" }))} data-testid="take-theirs">
          Take theirs
        </button>
      </div>
    </li>
  );
}

function Failed(props: { a: AdminAction; nowMs: number; onDone: () => void }) {
  const { busy, error, act } = useAct(props.onDone);
  return (
    <li class="ob-item ob-failed" data-testid="failed-item">
      <div class="ob-head">
        <AlertIcon size={15} />
        <strong>{props.a.summary}</strong>
        <span class="badge badge-danger">Failed</span>
        <span class="spacer" />
        <span class="muted small">
          {props.a.attempts} {props.a.attempts === 1 ? "attempt" : "attempts"} · queued {agoMs(props.a.createdAt * 1000, props.nowMs)}
        </span>
      </div>
      <p class="ob-reason">{props.a.lastError ?? "The server refused it."}</p>
      {error && <p class="field-error">{error}</p>}
      <div class="ob-actions">
        <button type="button" class="btn btn-sm btn-primary" disabled={busy !== null} onClick={() => act("retry", () => api.adminRetry({ seq: props.a.seq }))} data-testid="retry">
          Retry
        </button>
        <button type="button" class="btn btn-sm btn-ghost-danger" disabled={busy !== null} onClick={() => act("discard", () => api.adminDiscard({ seq: props.a.seq }))} data-testid="discard">
          Discard
        </button>
      </div>
    </li>
  );
}

export function SyncPanel(props: { version: number; nowMs: number; onChanged: () => void }) {
  const [actions, setActions] = useState<AdminAction[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api
      .adminOutbox({ connection: null, states: [], limit: 200 })
      .then((a) => (setActions(a), setError(null)))
      .catch((e: IpcError) => setError(e.message));
  useEffect(() => {
    void load();
  }, [props.version]);
  const done = () => {
    void load();
    props.onChanged();
  };
  const retryAll = useAct(done);
  if (error)
    return (
      <div class="banner banner-danger" role="alert">
        <div class="banner-text">
          <strong>The outbox could not be read</strong>
          <p>{error}</p>
        </div>
      </div>
    );
  if (!actions) return null;
  const conflicts = actions.filter((a) => a.state === "conflict");
  const failed = actions.filter((a) => a.state === "failed");
  const queued = actions.filter((a) => a.state === "queued");
  const recent = actions.filter((a) => a.state === "done" || a.state === "discarded").slice(0, 15);
  return (
    <div class="sync-panel" data-testid="sync-panel">
      {conflicts.length + failed.length + queued.length === 0 && (
        <div class="all-synced" data-testid="all-synced">
          <CheckIcon size={18} /> Everything reached the server. Nothing waits.
        </div>
      )}
      {conflicts.length > 0 && (
        <section>
          <h3>Conflicts</h3>
          <ul class="ob-list">
            {conflicts.map((a) => (
              <Conflict a={a} onDone={done} />
            ))}
          </ul>
        </section>
      )}
      {failed.length > 0 && (
        <section>
          <div class="ob-section-head">
            <h3>Failed</h3>
            <span class="spacer" />
            {failed.length > 1 && (
              <button type="button" class="btn btn-sm" disabled={retryAll.busy !== null} onClick={() => retryAll.act("all", () => api.adminRetryAll({ connection: null }))}>
                Retry all
              </button>
            )}
          </div>
          {retryAll.error && <p class="field-error">{retryAll.error}</p>}
          <ul class="ob-list">
            {failed.map((a) => (
              <Failed a={a} nowMs={props.nowMs} onDone={done} />
            ))}
          </ul>
        </section>
      )}
      {queued.length > 0 && (
        <section>
          <h3>Queued</h3>
          <ul class="ob-list ob-compact">
            {queued.map((a) => (
              <li class="ob-line" data-testid="queued-item">
                <ClockIcon size={14} />
                <span>{a.summary}</span>
                <span class="spacer" />
                <span class="muted small">
                  {a.lastError ? `${a.lastError} · ` : ""}
                  {a.attempts > 0 && a.nextAttemptMs > props.nowMs ? `next try in ${Math.ceil((a.nextAttemptMs - props.nowMs) / 1000)} s` : `queued ${agoMs(a.createdAt * 1000, props.nowMs)}`}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {recent.length > 0 && (
        <section>
          <h3>Recently</h3>
          <ul class="ob-list ob-compact">
            {recent.map((a) => (
              <li class="ob-line" data-testid="done-item">
                {a.state === "done" ? <CheckIcon size={14} /> : <span class="ob-x">×</span>}
                <span>{a.summary}</span>
                <span class="spacer" />
                <span class="muted small">
                  {a.state === "done" ? "applied" : "discarded"} {a.doneAt ? agoMs(a.doneAt * 1000, props.nowMs) : ""}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

/** Names of the objects this machine knows, by id: the audit log shows names, not ids. */
function useNames(version: number): Map<string, string> {
  const [names, setNames] = useState(new Map<string, string>());
  useEffect(() => {
    let live = true;
    const kinds = ["principal", "key", "group", "role", "profile"] as const;
    Promise.all(
      kinds.map((kind) =>
        api.adminList({ connection: null, kind, search: null, principalId: null, enabled: null, pendingOnly: false, includeInactive: true }).catch(() => []),
      ),
    ).then((lists) => {
      if (!live) return;
      const m = new Map<string, string>();
      for (const o of lists.flat()) m.set(o.id, o.label);
      setNames(m);
    });
    return () => {
      live = false;
    };
  }, [version]);
  return names;
}

/** `key:<id>` → `key ci (kw_live_AbCd…)`, when this machine knows the object. */
export function refLabel(ref: string, names: Map<string, string>): string {
  const i = ref.indexOf(":");
  if (i < 0) return ref;
  const name = names.get(ref.slice(i + 1));
  return name ? `${ref.slice(0, i)} ${name}` : ref;
}

export function AuditLog(props: { version: number }) {
  const names = useNames(props.version);
  const [entries, setEntries] = useState<AdminAuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  useEffect(() => {
    let live = true;
    api
      .adminAudit({ connection: null, since: 0, limit: 500, actor: null, action: null, target: null })
      .then((e) => live && (setEntries(e), setError(null)))
      .catch((e: IpcError) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [props.version]);
  const q = filter.trim().toLowerCase();
  const rows = (entries ?? [])
    .filter((e) => !q || `${refLabel(e.actor, names)} ${e.action} ${refLabel(e.target, names)} ${detailPairs(e.detail, names)}`.toLowerCase().includes(q))
    .sort((a, b) => b.seq - a.seq);
  return (
    <div class="audit" data-testid="audit-log">
      <div class="audit-tools">
        <input
          type="search"
          class="input"
          placeholder="Filter by actor, action, target…"
          aria-label="Filter the audit log"
          value={filter}
          onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)}
        />
        <span class="muted small">{entries ? `${rows.length} of ${entries.length} entries` : ""}</span>
      </div>
      {error && (
        <div class="banner banner-danger" role="alert">
          <div class="banner-text">
            <strong>The audit log could not be read from the server</strong>
            <p>{error}</p>
          </div>
        </div>
      )}
      {entries && rows.length === 0 && !error && <p class="muted audit-empty">{entries.length ? "No entries match." : "No entries yet."}</p>}
      {rows.length > 0 && (
        <div class="audit-scroll">
          <table class="audit-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Target</th>
                <th>Details</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr data-testid="audit-row" data-action={e.action}>
                  <td class="nowrap">{formatDateTime(e.at)}</td>
                  <td class="mono small" title={e.actor}>
                    {refLabel(e.actor, names)}
                  </td>
                  <td>
                    <span class="chip chip-sm">{actionLabel(e.action)}</span>
                  </td>
                  <td class="mono small" title={e.target}>
                    {refLabel(e.target, names)}
                  </td>
                  <td class="small muted">{detailPairs(e.detail, names)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
