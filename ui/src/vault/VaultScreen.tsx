// The Vault screen: search, list, details and the dialogs that change secrets.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../ipc/api";
import type { CopyReceipt, IpcError, SecretSummary, VaultStatus } from "../ipc/bindings";
import { KeyIcon, PlusIcon, SearchIcon, XIcon } from "../components/icons";
import type { Shortcut } from "../lib/keys";
import { moveSelection } from "../lib/keys";
import { plural } from "../lib/format";
import { StatusBanner } from "../status/status";
import { SecretDetail } from "./SecretDetail";
import { SecretForm } from "./SecretForm";
import { SecretList } from "./SecretList";
import { DeleteDialog, RotateDialog } from "./dialogs";

type DialogState =
  | { kind: "create" }
  | { kind: "edit"; secret: SecretSummary }
  | { kind: "rotate"; secret: SecretSummary }
  | { kind: "delete"; secret: SecretSummary }
  | null;

export function VaultScreen(props: {
  status: VaultStatus | null;
  checking: boolean;
  onStatusChanged: () => void;
  onRetry: () => void;
  onUnlock: () => void;
  onSettings: () => void;
  onCopied: (r: CopyReceipt, name: string) => void;
  onToast: (text: string) => void;
  registerShortcuts: (h: ((s: Shortcut) => boolean) | null) => void;
}) {
  const [search, setSearch] = useState("");
  const [secrets, setSecrets] = useState<SecretSummary[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000));
  const [copyRequest, setCopyRequest] = useState(0);
  const searchRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement | null>(null);
  const seq = useRef(0);

  // The filter runs in Rust on every keystroke; answers that arrive out of order are dropped.
  const load = useCallback(async (q: string) => {
    const mine = ++seq.current;
    try {
      const list = await api.listSecrets({ search: q.trim() || null });
      if (mine !== seq.current) return;
      setSecrets(list);
      setLoadError(null);
      setSelectedId((cur) => (cur && list.some((s) => s.id === cur) ? cur : (list[0]?.id ?? null)));
    } catch (e) {
      if (mine === seq.current) setLoadError((e as IpcError).message);
    }
  }, []);

  useEffect(() => {
    void load(search);
  }, [search]);

  useEffect(() => {
    const t = window.setInterval(() => setNow(Math.floor(Date.now() / 1000)), 30_000);
    return () => window.clearInterval(t);
  }, []);

  const selected = secrets?.find((s) => s.id === selectedId) ?? null;

  const reload = () => {
    void load(search);
    props.onStatusChanged();
  };

  const replaceOne = (s: SecretSummary) => {
    setSecrets((list) => list?.map((x) => (x.id === s.id ? s : x)) ?? list);
    props.onStatusChanged();
  };

  // Global shortcuts, while no dialog is open.
  useEffect(() => {
    props.registerShortcuts((sc) => {
      if (dialog) return false;
      switch (sc) {
        case "search":
          searchRef.current?.focus();
          searchRef.current?.select();
          return true;
        case "new":
          setDialog({ kind: "create" });
          return true;
        case "copy":
          if (!selected) return false;
          setCopyRequest((n) => n + 1);
          return true;
        case "edit":
          if (!selected) return false;
          setDialog({ kind: "edit", secret: selected });
          return true;
        case "delete":
          if (!selected) return false;
          setDialog({ kind: "delete", secret: selected });
          return true;
        default:
          return false;
      }
    });
    return () => props.registerShortcuts(null);
  }, [dialog, selected]);

  function onSearchKey(e: KeyboardEvent) {
    if (e.key === "Escape" && search) {
      e.preventDefault();
      setSearch("");
      return;
    }
    if (!secrets?.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const i = secrets.findIndex((s) => s.id === selectedId);
      const next = moveSelection(i, e.key, secrets.length);
      if (next !== null) setSelectedId(secrets[next]?.id ?? null);
      listRef.current?.focus();
    } else if (e.key === "Enter" && selected) {
      e.preventDefault();
      listRef.current?.focus();
    }
  }

  const total = props.status?.secretCount ?? secrets?.length ?? 0;
  const emptyVault = secrets !== null && secrets.length === 0 && !search.trim();
  const noMatch = secrets !== null && secrets.length === 0 && !!search.trim();

  return (
    <div class="screen vault">
      <header class="screen-head">
        <div class="screen-title">
          <h1>Vault</h1>
          <span class="muted">{secrets === null ? "" : search.trim() ? `${secrets.length} of ${plural(total, "secret")}` : plural(total, "secret")}</span>
        </div>
        <div class="search">
          <SearchIcon size={15} class="search-icon" />
          <input
            ref={searchRef}
            type="search"
            class="input search-input"
            placeholder="Search name, tag, environment…"
            aria-label="Search secrets"
            value={search}
            spellcheck={false}
            autocomplete="off"
            data-testid="search-input"
            onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
            onKeyDown={onSearchKey}
          />
          {search ? (
            <button type="button" class="icon-btn search-clear" aria-label="Clear search" onClick={() => (setSearch(""), searchRef.current?.focus())}>
              <XIcon size={14} />
            </button>
          ) : (
            <kbd class="search-kbd" aria-hidden="true">
              /
            </kbd>
          )}
        </div>
        <button type="button" class="btn btn-primary" onClick={() => setDialog({ kind: "create" })} data-testid="new-secret" title="New secret (Ctrl+N)">
          <PlusIcon size={15} /> New secret
        </button>
      </header>

      {props.status && (
        <StatusBanner status={props.status} checking={props.checking} onRetry={props.onRetry} onUnlock={props.onUnlock} onSettings={props.onSettings} />
      )}
      {loadError && (
        <div class="banner banner-danger" role="alert">
          <div class="banner-text">
            <strong>The list could not be loaded</strong>
            <p>{loadError}</p>
          </div>
          <div class="banner-actions">
            <button type="button" class="btn btn-sm" onClick={reload}>
              Try again
            </button>
          </div>
        </div>
      )}

      {emptyVault ? (
        <div class="empty" data-testid="empty-state">
          <div class="empty-mark">
            <KeyIcon size={30} />
          </div>
          <h2>Your vault is empty</h2>
          <p>
            Keep API keys and tokens here. Values go to your OS keychain, never into plain files; Keywarden stores only their names,
            details and fingerprints.
          </p>
          <button type="button" class="btn btn-primary" onClick={() => setDialog({ kind: "create" })}>
            <PlusIcon size={15} /> Add your first secret
          </button>
          <p class="muted small">
            Tip: press <kbd>Ctrl</kbd>+<kbd>N</kbd> for a new secret, <kbd>/</kbd> to search, <kbd>?</kbd> for all shortcuts.
          </p>
        </div>
      ) : (
        <div class="split">
          <div class="list-pane">
            {noMatch ? (
              <div class="no-match" data-testid="no-match">
                <p>
                  No secrets match <strong>“{search.trim()}”</strong>.
                </p>
                <button type="button" class="btn btn-sm" onClick={() => setSearch("")}>
                  Clear search
                </button>
              </div>
            ) : (
              secrets && (
                <SecretList
                  secrets={secrets}
                  selectedId={selectedId}
                  now={now}
                  onSelect={setSelectedId}
                  onOpen={(s) => setDialog({ kind: "edit", secret: s })}
                  onDelete={(s) => setDialog({ kind: "delete", secret: s })}
                  listRef={listRef}
                />
              )
            )}
          </div>
          <div class="detail-pane">
            {selected ? (
              <SecretDetail
                secret={selected}
                now={now}
                onChanged={replaceOne}
                onEdit={() => setDialog({ kind: "edit", secret: selected })}
                onRotate={() => setDialog({ kind: "rotate", secret: selected })}
                onDelete={() => setDialog({ kind: "delete", secret: selected })}
                onCopied={props.onCopied}
                copyRequest={copyRequest}
              />
            ) : (
              secrets !== null && <div class="detail-empty muted">Select a secret to see its details.</div>
            )}
          </div>
        </div>
      )}

      {dialog?.kind === "create" && (
        <SecretForm
          mode="create"
          onClose={() => setDialog(null)}
          onSaved={(s) => {
            setDialog(null);
            setSelectedId(s.id);
            reload();
            props.onToast(`Saved ${s.name} to the keychain.`);
          }}
        />
      )}
      {dialog?.kind === "edit" && (
        <SecretForm
          mode="edit"
          secret={dialog.secret}
          onClose={() => setDialog(null)}
          onSaved={(s) => {
            setDialog(null);
            replaceOne(s);
            reload();
          }}
        />
      )}
      {dialog?.kind === "rotate" && (
        <RotateDialog
          secret={dialog.secret}
          onClose={() => setDialog(null)}
          onSaved={(s) => {
            setDialog(null);
            replaceOne(s);
            props.onToast(`Rotated ${s.name}. The previous value's fingerprint is kept in the history.`);
          }}
        />
      )}
      {dialog?.kind === "delete" && (
        <DeleteDialog
          secret={dialog.secret}
          onClose={() => setDialog(null)}
          onDeleted={() => {
            const name = dialog.secret.name;
            setDialog(null);
            setSelectedId(null);
            reload();
            props.onToast(`Deleted ${name}.`);
          }}
        />
      )}
    </div>
  );
}
