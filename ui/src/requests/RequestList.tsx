// The left pane: saved requests grouped by collection, and the history of sent requests
// (templates, status, time, secret names and fingerprints — never a value).

import type { HistoryEntry, SavedRequest } from "../ipc/bindings";
import { ClockIcon, FolderIcon, TrashIcon } from "../components/icons";
import { relativePast, shortFingerprint } from "../lib/format";
import { moveSelection } from "../lib/keys";
import { groupByCollection, historyOutcome, splitUrl, statusClass } from "./model";

export function MethodTag(props: { method: string }) {
  const m = props.method.toUpperCase();
  return <span class={`method method-${m.toLowerCase()}`}>{m === "DELETE" ? "DEL" : m === "OPTIONS" ? "OPT" : m}</span>;
}

function UrlParts(props: { url: string }) {
  const u = splitUrl(props.url);
  return (
    <>
      <span class="side-url side-url-main mono" data-testid="history-path">
        {u.path}
      </span>
      <span class="side-url mono">{u.host}</span>
    </>
  );
}

/** ↑/↓, Home and End move between the entries of the list, as in the Vault's list; Enter opens one. */
function moveFocus(e: KeyboardEvent) {
  const items = Array.from((e.currentTarget as HTMLElement).querySelectorAll<HTMLButtonElement>(".side-open"));
  const i = items.indexOf(document.activeElement as HTMLButtonElement);
  if (i < 0) return;
  const next = moveSelection(i, e.key, items.length);
  if (next === null) return;
  e.preventDefault();
  items[next]?.focus();
}

export function RequestList(props: {
  tab: "saved" | "history";
  onTab: (t: "saved" | "history") => void;
  saved: SavedRequest[] | null;
  history: HistoryEntry[] | null;
  error: string | null;
  now: number;
  activeSavedId: string | null;
  activeHistoryId: number | null;
  onOpenSaved: (s: SavedRequest) => void;
  onDeleteSaved: (s: SavedRequest) => void;
  onOpenHistory: (h: HistoryEntry) => void;
  onClearHistory: () => void;
}) {
  return (
    <aside class="req-side" aria-label="Saved requests and history">
      <div class="tabs side-tabs" role="tablist">
        <button type="button" role="tab" aria-selected={props.tab === "saved"} class={`tab${props.tab === "saved" ? " active" : ""}`} onClick={() => props.onTab("saved")} data-testid="tab-saved">
          Saved {props.saved && props.saved.length > 0 && <span class="tab-count">{props.saved.length}</span>}
        </button>
        <button type="button" role="tab" aria-selected={props.tab === "history"} class={`tab${props.tab === "history" ? " active" : ""}`} onClick={() => props.onTab("history")} data-testid="tab-history">
          History {props.history && props.history.length > 0 && <span class="tab-count">{props.history.length}</span>}
        </button>
      </div>
      {props.error && (
        <p class="field-error side-error" role="alert">
          {props.error}
        </p>
      )}
      <div class="side-scroll" onKeyDown={moveFocus}>
        {props.tab === "saved" ? <Saved {...props} /> : <History {...props} />}
      </div>
    </aside>
  );
}

function Saved(props: Parameters<typeof RequestList>[0]) {
  if (props.saved === null) return <p class="side-empty muted small">Loading…</p>;
  if (props.saved.length === 0)
    return (
      <div class="side-empty" data-testid="saved-empty">
        <FolderIcon size={22} />
        <p>No saved requests yet.</p>
        <p class="muted small">
          Press <kbd>Ctrl</kbd>+<kbd>S</kbd> to keep the request you are composing in a collection.
        </p>
      </div>
    );
  return (
    <div data-testid="saved-list">
      {groupByCollection(props.saved).map((g) => (
        <section class="collection" aria-label={`Collection ${g.collection}`}>
          <h3 class="collection-name">
            <FolderIcon size={13} /> {g.collection}
          </h3>
          <ul class="side-list">
            {g.items.map((s) => (
              <li class={`side-item${props.activeSavedId === s.id ? " selected" : ""}`} data-testid="saved-item" data-name={s.name}>
                <button type="button" class="side-open" onClick={() => props.onOpenSaved(s)} title={s.spec.url}>
                  <MethodTag method={s.spec.method} />
                  <span class="side-text">
                    <span class="side-name">{s.name}</span>
                    <span class="side-url mono">{s.spec.url || "no URL"}</span>
                  </span>
                </button>
                <button type="button" class="icon-btn icon-btn-sm side-del" aria-label={`Delete ${s.name}`} title="Delete" onClick={() => props.onDeleteSaved(s)}>
                  <TrashIcon size={13} />
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

function History(props: Parameters<typeof RequestList>[0]) {
  if (props.history === null) return <p class="side-empty muted small">Loading…</p>;
  if (props.history.length === 0)
    return (
      <div class="side-empty" data-testid="history-empty">
        <ClockIcon size={22} />
        <p>Nothing sent yet.</p>
        <p class="muted small">Each request you send appears here with its template and the fingerprints of its secrets — never their values.</p>
      </div>
    );
  return (
    <>
      <ul class="side-list" data-testid="history-list">
        {props.history.map((h) => {
          const cls = statusClass(h.status);
          return (
            <li class={`side-item${props.activeHistoryId === h.id ? " selected" : ""}`} data-testid="history-item">
              <button type="button" class="side-open" onClick={() => props.onOpenHistory(h)} title={h.error ?? h.spec.url}>
                <MethodTag method={h.spec.method} />
                <span class="side-text">
                  <UrlParts url={h.spec.url} />
                  <span class="side-meta">
                    <span class={`status-dot status-${h.error ? "server" : cls}`} data-testid="history-status">
                      {historyOutcome(h)}
                    </span>
                    <span class="muted">{relativePast(h.sentAt, props.now)}</span>
                    {h.durationMs !== null && <span class="muted">{h.durationMs} ms</span>}
                  </span>
                  {h.secrets.length > 0 && (
                    <span class="side-secrets">
                      {h.secrets.map((s) => (
                        <span class="secret-ref" title={`Sent the value with fingerprint ${s.fingerprint}`} data-testid="history-secret">
                          <span class="mono">{s.name}</span> <span class="fp mono">{shortFingerprint(s.fingerprint).slice(0, 8)}</span>
                        </span>
                      ))}
                    </span>
                  )}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      <div class="side-foot">
        <button type="button" class="btn btn-sm btn-ghost-danger" onClick={props.onClearHistory} data-testid="clear-history">
          <TrashIcon size={13} /> Clear history
        </button>
      </div>
    </>
  );
}
