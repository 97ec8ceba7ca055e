// The Admin screen: the key server connection, the sync strip (always visible), principals and
// their keys, the outbox (failures and conflicts) and the audit log.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../ipc/api";
import type { AdminCreatedKey, AdminObject, AdminSyncStatus, IpcError } from "../ipc/bindings";
import { GlobeIcon, PlusIcon, RotateIcon, SearchIcon, ServerIcon, UsersIcon, XIcon } from "../components/icons";
import type { Shortcut } from "../lib/keys";
import { moveSelection } from "../lib/keys";
import { plural } from "../lib/format";
import { ConfirmDialog } from "../requests/dialogs";
import { ConnectDialog, EditPrincipalDialog, KeyDialog, PrincipalDialog, RotateKeyDialog, ShowOnceDialog } from "./dialogs";
import { PrincipalDetail, SyncBadgeView } from "./PrincipalDetail";
import { AuditLog, SyncPanel } from "./SyncPanel";
import { AccessPanel, useGroups } from "./AccessPanel";
import { PRINCIPAL_KINDS, type PrincipalKind, agoMs, enabled, kindLabel, onlineLabel, onlineState, str } from "./model";

type Tab = "principals" | "access" | "sync" | "audit";

type DialogState =
  | { kind: "connect" }
  | { kind: "principal" }
  | { kind: "edit"; principal: AdminObject }
  | { kind: "key"; principal: AdminObject }
  | { kind: "rotate"; key: AdminObject }
  | { kind: "revoke"; key: AdminObject }
  | { kind: "shown"; text: string; name: string }
  | { kind: "disconnect"; name: string }
  | null;

/** What the screen showed when the person left it: restored when they come back. */
const remembered: { tab: Tab; principal: string | null } = { tab: "principals", principal: null };

/** How often the screen re-reads the sync state (a local SQLite read). */
const POLL_MS = 1000;

function SyncStrip(props: { status: AdminSyncStatus; nowMs: number; syncing: boolean; onSync: () => void; onOpenSync: () => void; onDisconnect: (name: string) => void }) {
  const c = props.status.connections[0];
  if (!c) return null;
  const state = onlineState(c);
  const problems = props.status.failed + props.status.conflicts;
  return (
    <div class={`sync-strip sync-${state}`} role="status" aria-live="polite" data-testid="sync-strip" data-online={state}>
      <span class="sync-dot" aria-hidden="true" />
      <span class="sync-online" data-testid="sync-online">
        {onlineLabel(state)}
      </span>
      <span class="sync-server mono" title={c.url} data-testid="sync-url" data-url={c.url}>
        {c.auth === "embedded" ? "built-in server" : c.name} · {c.url}
      </span>
      <span class="sync-sep" />
      <span data-testid="sync-queued" data-count={props.status.queued}>
        {props.status.queued === 0 ? "nothing queued" : `${props.status.queued} queued`}
      </span>
      <span class="sync-sep" />
      <span data-testid="sync-last">{c.lastSyncAt === null ? "never synced" : `synced ${agoMs(c.lastSyncAt * 1000, props.nowMs)}`}</span>
      {problems > 0 && (
        <>
          <span class="sync-sep" />
          <button type="button" class="link-btn sync-problems" onClick={props.onOpenSync} data-testid="sync-problems">
            {props.status.failed > 0 && plural(props.status.failed, "failure")}
            {props.status.failed > 0 && props.status.conflicts > 0 && ", "}
            {props.status.conflicts > 0 && plural(props.status.conflicts, "conflict")}
          </button>
        </>
      )}
      {state !== "online" && c.lastError && (
        <span class="sync-error small" title={c.lastError}>
          {c.lastError}
        </span>
      )}
      <span class="spacer" />
      <button type="button" class="btn btn-sm" onClick={props.onSync} disabled={props.syncing} data-testid="sync-now" title="Sync now (Ctrl+R)">
        <RotateIcon size={13} /> {props.syncing ? "Syncing…" : "Sync now"}
      </button>
      {c.auth !== "embedded" && (
        <button type="button" class="icon-btn" aria-label="Disconnect" title="Disconnect from this server" onClick={() => props.onDisconnect(c.name)}>
          <XIcon size={14} />
        </button>
      )}
    </div>
  );
}

export function AdminScreen(props: {
  onToast: (text: string) => void;
  onVaultChanged: () => void;
  registerShortcuts: (h: ((s: Shortcut) => boolean) | null) => void;
}) {
  const [status, setStatus] = useState<AdminSyncStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [tab, setTabState] = useState<Tab>(remembered.tab);
  const setTab = (t: Tab) => {
    remembered.tab = t;
    setTabState(t);
  };
  const [search, setSearch] = useState("");
  const [kindFilter, setKindFilter] = useState<PrincipalKind | "all">("all");
  const [principals, setPrincipals] = useState<AdminObject[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [keys, setKeys] = useState<AdminObject[] | null>(null);
  const [keysError, setKeysError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [syncing, setSyncing] = useState(false);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  const [nowMs, setNowMs] = useState(Date.now());
  // Bumped whenever the local view may have changed: lists reload on it.
  const [version, setVersion] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const seq = useRef(0);
  const lastSig = useRef("");
  // A principal created here changes its id when the server assigns one: follow it by name.
  const selectedName = useRef<string | null>(remembered.principal);
  const showsPending = useRef(false);

  const connected = !!status && status.connections.length > 0;

  // The sync loop runs in Rust; here the strip re-reads its state and lists reload when it moves.
  useEffect(() => {
    let live = true;
    const read = (first: boolean) =>
      (first ? api.adminStartSync() : api.adminStatus())
        .then((s) => {
          if (!live) return;
          setStatus(s);
          setStatusError(null);
          const c = s.connections[0];
          const sig = `${s.connections.length}|${s.queued}|${s.failed}|${s.conflicts}|${c?.lastSyncAt ?? ""}`;
          // Objects shown as pending are re-read on every tick until the server has them: an action can
          // be queued and applied between two ticks, leaving the counters unchanged.
          if (sig !== lastSig.current || showsPending.current) {
            lastSig.current = sig;
            setVersion((v) => v + 1);
          }
        })
        .catch((e: IpcError) => live && setStatusError(e.message));
    void read(true);
    const t = window.setInterval(() => {
      setNowMs(Date.now());
      void read(false);
    }, POLL_MS);
    return () => {
      live = false;
      window.clearInterval(t);
    };
  }, []);

  const loadPrincipals = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const all = await api.adminList({
        connection: null,
        kind: "principal",
        search: search.trim() || null,
        principalId: null,
        enabled: null,
        pendingOnly: false,
        includeInactive: false,
      });
      if (mine !== seq.current) return;
      const list = kindFilter === "all" ? all : all.filter((p) => p.body.kind === kindFilter);
      setPrincipals(list);
      setListError(null);
      setSelectedId((cur) => {
        if (cur && list.some((p) => p.id === cur)) return cur;
        const byName = list.find((p) => selectedName.current !== null && str(p, "name") === selectedName.current);
        return (byName ?? list[0])?.id ?? null;
      });
    } catch (e) {
      if (mine === seq.current) setListError((e as IpcError).message);
    }
  }, [search, kindFilter]);

  useEffect(() => {
    if (connected) void loadPrincipals();
  }, [connected, search, kindFilter, version]);

  useEffect(() => {
    if (!connected || !selectedId) {
      setKeys(null);
      return;
    }
    let live = true;
    api
      .adminList({ connection: null, kind: "key", search: null, principalId: selectedId, enabled: null, pendingOnly: false, includeInactive: true })
      .then((k) => live && (setKeys(k), setKeysError(null)))
      .catch((e: IpcError) => live && setKeysError(e.message));
    return () => {
      live = false;
    };
  }, [connected, selectedId, version]);

  const bump = () => setVersion((v) => v + 1);
  /** Shows an object as the command returned it (queued: pending) at once, then reloads. */
  const upsertKey = (k: AdminObject) => {
    setKeys((list) => (list ? (list.some((x) => x.id === k.id) ? list.map((x) => (x.id === k.id ? k : x)) : [k, ...list]) : [k]));
    bump();
  };
  const upsertPrincipal = (p: AdminObject) => {
    setPrincipals((list) => list?.map((x) => (x.id === p.id ? p : x)) ?? list);
    bump();
  };
  const selected = principals?.find((p) => p.id === selectedId) ?? null;
  const groups = useGroups(version);
  const groupNames = new Map(groups.map((g) => [g.id, str(g, "name")]));
  showsPending.current = [...(principals ?? []), ...(keys ?? [])].some((o) => o.pending > 0);
  useEffect(() => {
    if (selected) selectedName.current = remembered.principal = str(selected, "name");
  }, [selected]);

  async function startEmbedded() {
    setStarting(true);
    setStartError(null);
    try {
      await api.adminConnectEmbedded();
      setStatus(await api.adminStartSync());
      props.onToast("The built-in key server is running on this machine.");
    } catch (e) {
      setStartError((e as IpcError).message);
    } finally {
      setStarting(false);
    }
  }

  async function syncNow() {
    setSyncing(true);
    try {
      const reports = await api.adminSyncNow({ connection: null });
      const r = reports[0];
      if (r?.error) props.onToast(`Sync failed: ${r.error}`);
      else if (r) props.onToast(r.applied || r.pulled ? `Synced: ${r.applied} sent, ${r.pulled} received.` : "Synced: nothing to send.");
      setStatus(await api.adminStatus());
      bump();
    } catch (e) {
      props.onToast((e as IpcError).message);
    } finally {
      setSyncing(false);
    }
  }

  function onKeyCreated(k: AdminCreatedKey, where: string) {
    setDialog(null);
    upsertKey(k.key);
    if (k.secretId) props.onVaultChanged();
    const name = str(k.key, "name");
    if (k.shownOnce) setDialog({ kind: "shown", text: k.shownOnce, name });
    else if (where === "clipboard") props.onToast(`Key ${name} copied. The clipboard clears in ${k.clipboardClearsAfterSeconds ?? 30} s.`);
    else props.onToast(`Key ${name} is in your vault. It works once the server has it.`);
  }

  useEffect(() => {
    props.registerShortcuts((sc) => {
      if (dialog || !connected) return false;
      if (sc === "search") {
        setTab("principals");
        requestAnimationFrame(() => (searchRef.current?.focus(), searchRef.current?.select()));
        return true;
      }
      if (sc === "new") {
        setDialog({ kind: "principal" });
        return true;
      }
      if (sc === "edit" && selected && tab === "principals") {
        setDialog({ kind: "edit", principal: selected });
        return true;
      }
      return false;
    });
    return () => props.registerShortcuts(null);
  }, [dialog, connected, selected, tab]);

  function onListKey(e: KeyboardEvent) {
    if (!principals?.length) return;
    const i = principals.findIndex((p) => p.id === selectedId);
    const next = moveSelection(i, e.key, principals.length);
    if (next !== null) {
      e.preventDefault();
      setSelectedId(principals[next]?.id ?? null);
    } else if (e.key === "k" && selected) {
      e.preventDefault();
      setDialog({ kind: "key", principal: selected });
    }
  }

  function onSearchKey(e: KeyboardEvent) {
    if (e.key === "Escape" && search) {
      e.preventDefault();
      setSearch("");
    } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && principals?.length) {
      e.preventDefault();
      listRef.current?.focus();
      onListKey(e);
    }
  }

  const problems = (status?.failed ?? 0) + (status?.conflicts ?? 0);

  return (
    <div class="screen admin">
      <header class="screen-head">
        <div class="screen-title">
          <h1>Admin</h1>
          <span class="muted">{connected && principals ? plural(principals.length, "principal") : ""}</span>
        </div>
        {connected && tab === "principals" && (
          <div class="search">
            <SearchIcon size={15} class="search-icon" />
            <input
              ref={searchRef}
              type="search"
              class="input search-input"
              placeholder="Search principals…"
              aria-label="Search principals"
              value={search}
              spellcheck={false}
              autocomplete="off"
              data-testid="admin-search"
              onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={onSearchKey}
            />
            {search ? (
              <button type="button" class="icon-btn search-clear" aria-label="Clear search" onClick={() => setSearch("")}>
                <XIcon size={14} />
              </button>
            ) : (
              <kbd class="search-kbd" aria-hidden="true">
                /
              </kbd>
            )}
          </div>
        )}
        {connected && (
          <button type="button" class="btn btn-primary" onClick={() => setDialog({ kind: "principal" })} data-testid="new-principal" title="New principal (Ctrl+N)">
            <PlusIcon size={15} /> New principal
          </button>
        )}
      </header>

      {statusError && (
        <div class="banner banner-danger" role="alert">
          <div class="banner-text">
            <strong>The admin side could not be opened</strong>
            <p>{statusError}</p>
          </div>
        </div>
      )}

      {status && !connected && (
        <div class="empty admin-empty" data-testid="admin-empty">
          <div class="empty-mark">
            <UsersIcon size={30} />
          </div>
          <h2>No key server yet</h2>
          <p>
            Manage users, service users, API clients and their keys. Every change is queued here first and reaches the server exactly once, even
            offline.
          </p>
          <div class="admin-choices">
            <button type="button" class="choice-card" onClick={startEmbedded} disabled={starting} data-testid="start-embedded">
              <ServerIcon size={22} />
              <strong>{starting ? "Starting…" : "Start the built-in key server"}</strong>
              <span class="muted small">Runs inside Keywarden on this machine, with its data next to your vault. Best to try things out.</span>
            </button>
            <button type="button" class="choice-card" onClick={() => setDialog({ kind: "connect" })} data-testid="connect-server">
              <GlobeIcon size={22} />
              <strong>Connect to a server</strong>
              <span class="muted small">Your team's keywarden-server: its URL and an admin key, or your user name and password.</span>
            </button>
          </div>
          {startError && (
            <div class="callout callout-danger" role="alert" data-testid="start-error">
              {startError}
            </div>
          )}
        </div>
      )}

      {connected && status && (
        <>
          <SyncStrip
            status={status}
            nowMs={nowMs}
            syncing={syncing}
            onSync={syncNow}
            onOpenSync={() => setTab("sync")}
            onDisconnect={(name) => setDialog({ kind: "disconnect", name })}
          />
          <div class="tabs admin-tabs" role="tablist" aria-label="Admin sections">
            {(
              [
                ["principals", "Principals"],
                ["access", "Groups and roles"],
                ["sync", "Sync"],
                ["audit", "Audit log"],
              ] as const
            ).map(([t, label]) => (
              <button type="button" role="tab" aria-selected={tab === t} class={`tab${tab === t ? " active" : ""}`} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
                {label}
                {t === "sync" && problems > 0 && <span class="tab-count tab-count-danger">{problems}</span>}
                {t === "sync" && problems === 0 && status.queued > 0 && <span class="tab-count tab-count-warn">{status.queued}</span>}
              </button>
            ))}
          </div>

          {tab === "principals" && (
            <div class="split admin-split">
              <div class="list-pane">
                <div class="kind-filter segmented" role="radiogroup" aria-label="Kind">
                  {[{ kind: "all" as const, plural: "All" }, ...PRINCIPAL_KINDS].map((k) => (
                    <button
                      type="button"
                      role="radio"
                      aria-checked={kindFilter === k.kind}
                      class={kindFilter === k.kind ? "on" : ""}
                      onClick={() => setKindFilter(k.kind)}
                      data-testid={`filter-${k.kind}`}
                    >
                      {k.plural}
                    </button>
                  ))}
                </div>
                {listError && <p class="field-error">{listError}</p>}
                {principals && principals.length === 0 ? (
                  <div class="no-match" data-testid="principals-empty">
                    {search.trim() || kindFilter !== "all" ? (
                      <>
                        <p>No principals match.</p>
                        <button type="button" class="btn btn-sm" onClick={() => (setSearch(""), setKindFilter("all"))}>
                          Clear filters
                        </button>
                      </>
                    ) : (
                      <>
                        <p>No principals yet.</p>
                        <button type="button" class="btn btn-sm btn-primary" onClick={() => setDialog({ kind: "principal" })}>
                          <PlusIcon size={13} /> Create the first one
                        </button>
                      </>
                    )}
                  </div>
                ) : (
                  <ul
                    class="secret-list principal-list"
                    role="listbox"
                    aria-label="Principals"
                    tabIndex={0}
                    ref={listRef}
                    aria-activedescendant={selectedId ? `p-${selectedId}` : undefined}
                    onKeyDown={onListKey}
                    data-testid="principal-list"
                  >
                    {(principals ?? []).map((p) => (
                      <li
                        id={`p-${p.id}`}
                        key={p.id}
                        role="option"
                        aria-selected={p.id === selectedId}
                        class={`secret-row${p.id === selectedId ? " selected" : ""}${enabled(p) ? "" : " is-disabled"}`}
                        data-testid="principal-row"
                        data-name={str(p, "name")}
                        onMouseDown={(e) => {
                          e.preventDefault();
                          listRef.current?.focus();
                          setSelectedId(p.id);
                        }}
                      >
                        <div class="row-main">
                          <span class={`row-dot${enabled(p) ? " on" : ""}`} aria-hidden="true" />
                          <span class="row-name mono">{str(p, "name")}</span>
                          <span class="row-badges">
                            {!enabled(p) && <span class="badge badge-muted">Disabled</span>}
                            <SyncBadgeView o={p} />
                          </span>
                        </div>
                        <div class="row-meta">
                          <span class="chip chip-sm">{kindLabel(p.body.kind)}</span>
                          {str(p, "description") && <span class="muted small row-desc">{str(p, "description")}</span>}
                        </div>
                      </li>
                    ))}
                  </ul>
                )}
              </div>
              <div class="detail-pane">
                {selected ? (
                  <PrincipalDetail
                    principal={selected}
                    keys={keys}
                    keysError={keysError}
                    now={Math.floor(nowMs / 1000)}
                    onChanged={upsertPrincipal}
                    onKeyChanged={upsertKey}
                    onNewKey={() => setDialog({ kind: "key", principal: selected })}
                    onEdit={() => setDialog({ kind: "edit", principal: selected })}
                    groupNames={groupNames}
                    onRotate={(k) => setDialog({ kind: "rotate", key: k })}
                    onRevoke={(k) => setDialog({ kind: "revoke", key: k })}
                  />
                ) : (
                  principals !== null && principals.length > 0 && <div class="detail-empty muted">Select a principal to see its keys.</div>
                )}
              </div>
            </div>
          )}
          {tab === "access" && (
            <div class="admin-panel">
              <AccessPanel version={version} onChanged={bump} />
            </div>
          )}
          {tab === "sync" && (
            <div class="admin-panel">
              <SyncPanel version={version} nowMs={nowMs} onChanged={bump} />
            </div>
          )}
          {tab === "audit" && (
            <div class="admin-panel">
              <AuditLog version={version} />
            </div>
          )}
        </>
      )}

      {dialog?.kind === "connect" && (
        <ConnectDialog
          onClose={() => setDialog(null)}
          onConnected={async (name, verified) => {
            setDialog(null);
            setStatus(await api.adminStartSync());
            props.onToast(verified ? `Connected to ${name}.` : `Saved ${name}; the server did not answer yet. Actions queue until it does.`);
          }}
        />
      )}
      {dialog?.kind === "principal" && (
        <PrincipalDialog
          version={version}
          onClose={() => setDialog(null)}
          onCreated={(p) => {
            setDialog(null);
            setSearch("");
            setKindFilter("all");
            setSelectedId(p.id);
            selectedName.current = remembered.principal = str(p, "name");
            bump();
            props.onToast(`Created ${str(p, "name")}. It reaches the server with the next sync.`);
          }}
        />
      )}
      {dialog?.kind === "edit" && (
        <EditPrincipalDialog
          principal={dialog.principal}
          onClose={() => setDialog(null)}
          onSaved={(p) => {
            setDialog(null);
            upsertPrincipal(p);
            props.onToast(`Saved ${str(p, "name")}. It reaches the server with the next sync.`);
          }}
        />
      )}
      {dialog?.kind === "key" && <KeyDialog principal={dialog.principal} onClose={() => setDialog(null)} onCreated={onKeyCreated} />}
      {dialog?.kind === "rotate" && (
        <RotateKeyDialog
          keyObj={dialog.key}
          onClose={() => setDialog(null)}
          onRotated={(k) => {
            setDialog(null);
            upsertKey(k.key);
            if (k.shownOnce) setDialog({ kind: "shown", text: k.shownOnce, name: str(k.key, "name") });
            else props.onToast(`Rotated ${str(k.key, "name")}; the vault copy is replaced when the server has the new key.`);
          }}
        />
      )}
      {dialog?.kind === "revoke" && (
        <ConfirmDialog
          title={`Revoke ${str(dialog.key, "name")}?`}
          confirm="Revoke key"
          busyLabel="Revoking…"
          tone="danger"
          testId="revoke-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            const name = str(dialog.key, "name");
            await api.adminRevokeKey({ connection: null, kind: "key", id: dialog.key.id });
            setDialog(null);
            bump();
            props.onToast(`Revoking ${name}: queued; a revoke is never dropped.`);
          }}
        >
          <p>
            <code>{str(dialog.key, "display_prefix")}</code> stops working for good once the server has the revoke. This cannot be undone; disable the key
            instead if you may need it again.
          </p>
        </ConfirmDialog>
      )}
      {dialog?.kind === "shown" && <ShowOnceDialog keyText={dialog.text} name={dialog.name} onClose={() => setDialog(null)} onToast={props.onToast} />}
      {dialog?.kind === "disconnect" && (
        <ConfirmDialog
          title={`Disconnect from ${dialog.name}?`}
          confirm="Disconnect"
          busyLabel="Disconnecting…"
          tone="danger"
          testId="disconnect-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.adminDisconnect({ connection: dialog.name });
            setDialog(null);
            setStatus(await api.adminStatus());
          }}
        >
          <p>Its credential is removed from the keychain. Actions not yet sent stay queued until you connect again.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
