// The Requests screen: saved requests and history on the left; the composer, its live preview and
// pre-flight check, and the response on the right. Rendering, sending and copying happen in Rust;
// this window only ever holds templates, names and fingerprints.

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../ipc/api";
import type {
  CopyReceipt,
  Environment,
  HistoryEntry,
  IpcError,
  KeyProfile,
  RequestPreview,
  RequestSpec,
  SavedRequest,
} from "../ipc/bindings";
import { AlertIcon, KeyIcon, PlusIcon, SaveIcon, SendIcon, SettingsIcon } from "../components/icons";
import type { Shortcut } from "../lib/keys";
import { envTone } from "../lib/format";
import { KeyValueEditor } from "./KeyValueEditor";
import { TemplateHints, TemplateInput } from "./TemplateInput";
import { PreviewPanel } from "./Preview";
import { ProfilesDialog } from "./ProfilesDialog";
import { EnvironmentsDialog } from "./EnvironmentsDialog";
import { RequestList } from "./RequestList";
import { ResponseView, type SendState } from "./ResponseView";
import { ConfirmDialog, SaveDialog } from "./dialogs";
import {
  METHODS,
  activeCount,
  cleanSpec,
  emptySpec,
  errorPlace,
  errorText,
  isBlank,
  presentation,
  sameSpec,
  styleLabel,
  switchBody,
  type ErrorPlace,
} from "./model";

type Tab = "query" | "headers" | "body" | "auth";
type Origin = { kind: "saved"; saved: SavedRequest } | { kind: "history"; id: number } | null;
type Dialog =
  | { kind: "profiles"; initial: string | null }
  | { kind: "environments"; initial: string | null }
  | { kind: "save" }
  | { kind: "clearHistory" }
  | { kind: "deleteSaved"; saved: SavedRequest }
  | { kind: "revealCurl" }
  | null;

// The draft survives switching screens (memory only; it holds templates, never values).
let draft: { spec: RequestSpec; origin: Origin; tab: Tab } = { spec: emptySpec(), origin: null, tab: "query" };

const PREVIEW_DELAY_MS = 150;

function isMac(): boolean {
  return /Mac/.test(navigator.platform);
}

export function RequestsScreen(props: {
  onCopied: (r: CopyReceipt, name: string) => void;
  onToast: (text: string) => void;
  registerShortcuts: (h: ((s: Shortcut) => boolean) | null) => void;
}) {
  const [spec, setSpecState] = useState<RequestSpec>(draft.spec);
  const [origin, setOrigin] = useState<Origin>(draft.origin);
  const [tab, setTab] = useState<Tab>(draft.tab);
  const [sideTab, setSideTab] = useState<"saved" | "history">("history");
  const [profiles, setProfiles] = useState<KeyProfile[] | null>(null);
  const [environments, setEnvironments] = useState<Environment[] | null>(null);
  const [saved, setSaved] = useState<SavedRequest[] | null>(null);
  const [history, setHistory] = useState<HistoryEntry[] | null>(null);
  const [secretNames, setSecretNames] = useState<string[]>([]);
  const [listError, setListError] = useState<string | null>(null);
  const [preview, setPreview] = useState<RequestPreview | null>(null);
  const [previewError, setPreviewError] = useState<IpcError | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const [previewView, setPreviewView] = useState<"http" | "curl">("http");
  const [send, setSend] = useState<SendState>({ kind: "idle" });
  const [dialog, setDialog] = useState<Dialog>(null);
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000));
  const urlRef = useRef<HTMLInputElement>(null);
  const searchRef = useRef<HTMLInputElement | null>(null);
  const seq = useRef(0);
  const sendingRef = useRef(false);
  const sendSeq = useRef(0);

  const setSpec = (f: (s: RequestSpec) => RequestSpec) => setSpecState((s) => f(s));
  useEffect(() => {
    draft = { spec, origin, tab };
  }, [spec, origin, tab]);

  // Lists: profiles, environments, saved requests and history.
  const loadLists = async () => {
    try {
      const [p, e, s, h] = await Promise.all([api.listProfiles(), api.listEnvironments(), api.listSavedRequests(), api.listHistory({ limit: 200 })]);
      setProfiles(p);
      setEnvironments(e);
      setSaved(s);
      setHistory(h);
      setListError(null);
      if (h.length === 0 && s.length > 0) setSideTab("saved");
    } catch (e) {
      setListError((e as IpcError).message);
    }
  };
  const reloadHistory = () =>
    api
      .listHistory({ limit: 200 })
      .then(setHistory)
      .catch((e: IpcError) => setListError(e.message));
  const reloadSaved = () =>
    api
      .listSavedRequests()
      .then(setSaved)
      .catch((e: IpcError) => setListError(e.message));

  useEffect(() => {
    void loadLists();
    // Names only, for completing ${secret.NAME}: metadata from SQLite, no keychain read.
    api
      .listSecrets({ search: null })
      .then((list) => setSecretNames(list.map((x) => x.name)))
      .catch(() => setSecretNames([]));
    const t = window.setInterval(() => setNow(Math.floor(Date.now() / 1000)), 30_000);
    return () => window.clearInterval(t);
  }, []);

  // The live preview: debounced, out-of-order answers dropped. Reads no secret value.
  const specKey = JSON.stringify(cleanSpec(spec));
  useEffect(() => {
    const mine = ++seq.current;
    if (isBlank(spec)) {
      setPreview(null);
      setPreviewError(null);
      setPreviewing(false);
      return;
    }
    setPreviewing(true);
    const t = window.setTimeout(async () => {
      try {
        const p = await api.previewRequest(cleanSpec(spec));
        if (mine !== seq.current) return;
        setPreview(p);
        setPreviewError(null);
      } catch (e) {
        if (mine !== seq.current) return;
        setPreviewError(e as IpcError);
      } finally {
        if (mine === seq.current) setPreviewing(false);
      }
    }, PREVIEW_DELAY_MS);
    return () => window.clearTimeout(t);
  }, [specKey, profiles, environments]);

  async function doSend() {
    if (sendingRef.current || isBlank(spec)) {
      if (isBlank(spec)) urlRef.current?.focus();
      return;
    }
    sendingRef.current = true;
    setSend({ kind: "sending", since: Date.now() });
    try {
      const result = await api.sendRequest(cleanSpec(spec));
      setSend({ kind: "done", result, seq: ++sendSeq.current });
      setOrigin((o) => (o?.kind === "saved" ? o : { kind: "history", id: result.historyId }));
    } catch (e) {
      const err = e as IpcError;
      setSend({ kind: "failed", error: err, seq: ++sendSeq.current });
      if (err.code === "template" || err.code === "invalidInput" || err.code === "notFound") setPreviewError(err);
    } finally {
      sendingRef.current = false;
      void reloadHistory();
    }
  }

  function doSave() {
    if (origin?.kind === "saved") {
      void api
        .saveRequest({ collection: origin.saved.collection, name: origin.saved.name, spec: cleanSpec(spec) })
        .then((s) => {
          setOrigin({ kind: "saved", saved: s });
          void reloadSaved();
          props.onToast(`Saved ${s.name} in ${s.collection}.`);
        })
        .catch((e: IpcError) => props.onToast(e.message));
    } else {
      setDialog({ kind: "save" });
    }
  }

  function newRequest() {
    setSpecState(emptySpec());
    setOrigin(null);
    setSend({ kind: "idle" });
    setTab("query");
    requestAnimationFrame(() => urlRef.current?.focus());
  }

  function load(s: RequestSpec, o: Origin) {
    setSpecState({ ...emptySpec(), ...s });
    setOrigin(o);
    setSend({ kind: "idle" });
    if (s.body.kind !== "none" && tab === "query" && s.query.length === 0) setTab("body");
  }

  async function copyCurl(reveal: boolean) {
    try {
      const r = await api.copyAsCurl({ spec: cleanSpec(spec), reveal });
      if (reveal && r.clearsAfterSeconds !== null) props.onCopied({ clearsAfterSeconds: r.clearsAfterSeconds }, "the curl command with its secrets");
      else props.onToast("Copied as curl. Secrets show as [secret.NAME].");
    } catch (e) {
      if (reveal) throw e;
      props.onToast((e as IpcError).message);
    }
  }

  // Ctrl+Enter sends and Ctrl+S saves from anywhere on the screen, text fields included.
  const latest = useRef({ doSend, doSave });
  latest.current = { doSend, doSave };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (document.querySelector("dialog[open]")) return;
      const mod = e.ctrlKey || e.metaKey;
      if (!mod || e.altKey) return;
      if (e.key === "Enter") {
        e.preventDefault();
        void latest.current.doSend();
      } else if (!e.shiftKey && (e.key === "s" || e.key === "S")) {
        e.preventDefault();
        latest.current.doSave();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // The window's shortcuts: Ctrl+N a new request, Ctrl+F or / find in the response (or the URL).
  useEffect(() => {
    props.registerShortcuts((sc) => {
      if (dialog) return false;
      if (sc === "new") {
        newRequest();
        return true;
      }
      if (sc === "search") {
        const target = searchRef.current && document.contains(searchRef.current) ? searchRef.current : urlRef.current;
        target?.focus();
        target?.select();
        return true;
      }
      return false;
    });
    return () => props.registerShortcuts(null);
  }, [dialog]);

  const place: ErrorPlace | null = previewError ? errorPlace(previewError) : null;
  const placeMsg = previewError ? errorText(previewError) : null;
  const errorIn = (t: ErrorPlace["tab"]) => place?.tab === t;
  const rowError = (t: "query" | "headers" | "body") => (place && place.tab === t ? { name: "name" in place ? place.name : null, message: placeMsg ?? "" } : null);
  const generalError = previewError && (place?.tab === "request" || place?.tab === "environment") ? previewError : null;

  const profile = profiles?.find((p) => p.name === spec.profile) ?? null;
  const env = environments?.find((e) => e.name === spec.environment) ?? null;
  const collections = Array.from(new Set((saved ?? []).map((s) => s.collection)));
  const edited = origin?.kind === "saved" && !sameSpec(origin.saved.spec, spec);

  const tabs: Array<{ id: Tab; label: string; count?: number }> = [
    { id: "query", label: "Query", count: activeCount(spec.query) },
    { id: "headers", label: "Headers", count: activeCount(spec.headers) },
    { id: "body", label: "Body" },
    { id: "auth", label: "Auth" },
  ];

  const hints = { secrets: secretNames, variables: Object.keys(env?.variables ?? {}) };

  return (
    <TemplateHints.Provider value={hints}>
    <div class="screen requests">
      <header class="screen-head">
        <div class="screen-title">
          <h1>Requests</h1>
          {origin?.kind === "saved" ? (
            <span class="muted crumb" data-testid="request-origin">
              {origin.saved.collection} / <strong>{origin.saved.name}</strong>
              {edited && (
                <span class="edited" title="Changed since it was saved (Ctrl+S saves)">
                  {" "}
                  · edited
                </span>
              )}
            </span>
          ) : (
            <span class="muted crumb">{origin?.kind === "history" ? "From history, not saved" : "New request"}</span>
          )}
        </div>
        <div class="env-picker">
          <label for="env-select" class="env-label">
            Environment
          </label>
          <select
            id="env-select"
            class={`input input-sm env-select${env ? ` env-sel-${env.production ? "prod" : envTone(env.name)}` : ""}`}
            value={spec.environment ?? ""}
            aria-invalid={errorIn("environment") ? true : undefined}
            data-testid="env-select"
            onChange={(e) => setSpec((s) => ({ ...s, environment: (e.currentTarget as HTMLSelectElement).value || null }))}
          >
            <option value="">No environment</option>
            {spec.environment && environments && !env && <option value={spec.environment}>{spec.environment} (missing)</option>}
            {environments?.map((e) => (
              <option value={e.name}>
                {e.name}
                {e.production ? " (production)" : ""}
              </option>
            ))}
          </select>
          <button
            type="button"
            class="icon-btn"
            title="Manage environments"
            aria-label="Manage environments"
            onClick={() => setDialog({ kind: "environments", initial: spec.environment })}
            data-testid="manage-environments"
          >
            <SettingsIcon size={16} />
          </button>
        </div>
        <button type="button" class="btn" onClick={newRequest} title="New request (Ctrl+N)" data-testid="new-request">
          <PlusIcon size={15} /> New
        </button>
        <button type="button" class="btn" onClick={doSave} title="Save (Ctrl+S)" data-testid="save-request">
          <SaveIcon size={15} /> Save
        </button>
      </header>
      {listError && (
        <div class="banner banner-danger" role="alert">
          <div class="banner-text">
            <strong>Profiles, environments or history could not be loaded</strong>
            <p>{listError}</p>
          </div>
          <div class="banner-actions">
            <button type="button" class="btn btn-sm" onClick={() => void loadLists()}>
              Try again
            </button>
          </div>
        </div>
      )}

      <div class="req-layout">
        <RequestList
          tab={sideTab}
          onTab={setSideTab}
          saved={saved}
          history={history}
          error={null}
          now={now}
          activeSavedId={origin?.kind === "saved" ? origin.saved.id : null}
          activeHistoryId={origin?.kind === "history" ? origin.id : null}
          onOpenSaved={(s) => load(s.spec, { kind: "saved", saved: s })}
          onDeleteSaved={(s) => setDialog({ kind: "deleteSaved", saved: s })}
          onOpenHistory={(h) => load(h.spec, { kind: "history", id: h.id })}
          onClearHistory={() => setDialog({ kind: "clearHistory" })}
        />

        <div class="req-work">
          <div class="url-bar">
            <div class={`url-group${errorIn("url") || errorIn("method") ? " invalid" : ""}`}>
              <select
                class={`method-select method-${spec.method.toLowerCase()}`}
                value={spec.method}
                aria-label="Method"
                data-testid="method-select"
                onChange={(e) => setSpec((s) => ({ ...s, method: (e.currentTarget as HTMLSelectElement).value }))}
              >
                {METHODS.map((m) => (
                  <option value={m}>{m}</option>
                ))}
              </select>
              <TemplateInput
                inputRef={urlRef}
                class="url-input mono"
                value={spec.url}
                placeholder="https://${env.host}/v1/invoices"
                ariaLabel="URL template"
                ariaInvalid={errorIn("url")}
                ariaDescribedBy={errorIn("url") ? "url-err" : undefined}
                autoFocus={isBlank(spec)}
                testId="url-input"
                onValue={(v) => setSpec((s) => ({ ...s, url: v }))}
                onKeyDown={(e) => {
                  // Enter in the URL sends, as in a browser's address bar.
                  if (e.key === "Enter" && !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey) {
                    e.preventDefault();
                    void doSend();
                  }
                }}
              />
              {previewing && <span class="url-busy" aria-hidden="true" />}
            </div>
            <button
              type="button"
              class="btn btn-primary send-btn"
              onClick={() => void doSend()}
              disabled={send.kind === "sending"}
              title={`Send (${isMac() ? "⌘" : "Ctrl+"}Enter)`}
              data-testid="send"
            >
              <SendIcon size={15} /> {send.kind === "sending" ? "Sending…" : "Send"}
            </button>
          </div>
          {(errorIn("url") || errorIn("method")) && (
            <p class="field-error url-error" id="url-err" role="alert" data-testid="url-error">
              {placeMsg}
            </p>
          )}

          <div class="req-editor">
            <section class="editor" aria-label="Request">
              <div class="tabs" role="tablist" aria-label="Request parts">
                {tabs.map((t) => (
                  <button
                    type="button"
                    role="tab"
                    id={`rtab-${t.id}`}
                    aria-selected={tab === t.id}
                    aria-controls={`rpanel-${t.id}`}
                    class={`tab${tab === t.id ? " active" : ""}`}
                    onClick={() => setTab(t.id)}
                    onKeyDown={(e) => {
                      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
                      e.preventDefault();
                      const i = tabs.findIndex((x) => x.id === tab);
                      const next = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length]!;
                      setTab(next.id);
                      document.getElementById(`rtab-${next.id}`)?.focus();
                    }}
                    tabIndex={tab === t.id ? 0 : -1}
                    data-testid={`tab-${t.id}`}
                  >
                    {t.label}
                    {t.count ? <span class="tab-count">{t.count}</span> : null}
                    {t.id === "body" && spec.body.kind !== "none" && <span class="tab-count">{spec.body.kind === "json" ? "JSON" : spec.body.kind}</span>}
                    {t.id === "auth" && spec.profile && <span class="tab-count tab-count-accent">{spec.profile}</span>}
                    {errorIn(t.id === "auth" ? "auth" : t.id) && <span class="tab-error" aria-label="has an error" />}
                  </button>
                ))}
              </div>
              <div class="tab-panel" role="tabpanel" id={`rpanel-${tab}`} aria-labelledby={`rtab-${tab}`}>
                {tab === "query" && (
                  <KeyValueEditor
                    rows={spec.query}
                    onChange={(query) => setSpec((s) => ({ ...s, query }))}
                    label="Query parameter"
                    namePlaceholder="Add a parameter"
                    valuePlaceholder="Value, e.g. ${env.tenant}"
                    error={rowError("query")}
                    idPrefix="q"
                    testId="query-editor"
                  />
                )}
                {tab === "headers" && (
                  <KeyValueEditor
                    rows={spec.headers}
                    onChange={(headers) => setSpec((s) => ({ ...s, headers }))}
                    label="Header"
                    namePlaceholder="Add a header"
                    valuePlaceholder="Value, e.g. ${uuid()}"
                    error={rowError("headers")}
                    idPrefix="h"
                    testId="headers-editor"
                  />
                )}
                {tab === "body" && <BodyEditor spec={spec} setSpec={setSpec} error={rowError("body")} rendered={previewError ? null : (preview?.body ?? null)} />}
                {tab === "auth" && (
                  <AuthPanel
                    spec={spec}
                    profiles={profiles}
                    profile={profile}
                    error={errorIn("auth") ? placeMsg : null}
                    onProfile={(name) => setSpec((s) => ({ ...s, profile: name }))}
                    onManage={() => setDialog({ kind: "profiles", initial: spec.profile })}
                  />
                )}
              </div>
            </section>
            <PreviewPanel
              preview={preview}
              error={generalError}
              blank={isBlank(spec)}
              stale={previewing || (!!previewError && !generalError)}
              view={previewView}
              onView={setPreviewView}
              onCopy={() => void copyCurl(false)}
              onCopyRevealed={() => setDialog({ kind: "revealCurl" })}
            />
          </div>

          <ResponseView state={send} searchRef={searchRef} />
        </div>
      </div>

      {dialog?.kind === "profiles" && profiles && (
        <ProfilesDialog
          profiles={profiles}
          initial={dialog.initial}
          onChanged={setProfiles}
          onUse={(name) => setSpec((s) => ({ ...s, profile: name }))}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog?.kind === "environments" && environments && (
        <EnvironmentsDialog
          environments={environments}
          initial={dialog.initial}
          onChanged={setEnvironments}
          onUse={(name) => setSpec((s) => ({ ...s, environment: name }))}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog?.kind === "save" && (
        <SaveDialog
          spec={cleanSpec(spec)}
          collections={collections}
          initial={{ collection: collections[0] ?? "Default", name: "" }}
          onClose={() => setDialog(null)}
          onSaved={(s) => {
            setDialog(null);
            setOrigin({ kind: "saved", saved: s });
            setSideTab("saved");
            void reloadSaved();
            props.onToast(`Saved ${s.name} in ${s.collection}.`);
          }}
        />
      )}
      {dialog?.kind === "clearHistory" && (
        <ConfirmDialog
          title="Clear the history?"
          confirm="Clear history"
          busyLabel="Clearing…"
          tone="danger"
          testId="clear-history-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.clearHistory();
            setDialog(null);
            if (origin?.kind === "history") setOrigin(null);
            await reloadHistory();
            props.onToast("History cleared.");
          }}
        >
          Every sent request is removed from this list: templates, statuses and fingerprints. Saved requests stay. This cannot be undone.
        </ConfirmDialog>
      )}
      {dialog?.kind === "deleteSaved" && (
        <ConfirmDialog
          title={`Delete ${dialog.saved.name}?`}
          confirm="Delete request"
          busyLabel="Deleting…"
          tone="danger"
          testId="delete-saved-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            const s = dialog.saved;
            await api.deleteSavedRequest({ id: s.id });
            setDialog(null);
            if (origin?.kind === "saved" && origin.saved.id === s.id) setOrigin(null);
            await reloadSaved();
            props.onToast(`Deleted ${s.name}.`);
          }}
        >
          The saved request is removed from <strong>{dialog.saved.collection}</strong>. The secrets it uses stay in the Vault.
        </ConfirmDialog>
      )}
      {dialog?.kind === "revealCurl" && (
        <ConfirmDialog
          title="Copy with the real secrets?"
          confirm="Copy with secrets"
          busyLabel="Copying…"
          tone="danger"
          testId="reveal-curl-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await copyCurl(true);
            setDialog(null);
          }}
        >
          <p>
            Keywarden reads {preview?.secrets.length ? preview.secrets.map((s) => s.name).join(", ") : "the secrets"} from the keychain and puts the complete curl
            command on the clipboard. It never appears in this window, and the clipboard is cleared after 30 seconds if it still holds it.
          </p>
          <p class="muted small">Anything you paste it into — a terminal history, a chat — keeps the key.</p>
        </ConfirmDialog>
      )}
    </div>
    </TemplateHints.Provider>
  );
}

function BodyEditor(props: {
  spec: RequestSpec;
  setSpec: (f: (s: RequestSpec) => RequestSpec) => void;
  error: { name: string | null; message: string } | null;
  /** The body as the preview rendered it (secrets as placeholders), to check JSON after templates. */
  rendered: string | null;
}) {
  const b = props.spec.body;
  const jsonProblem = b.kind === "json" && b.template.trim() && props.rendered !== null ? jsonError(props.rendered) : null;
  const kinds: Array<{ kind: typeof b.kind; label: string }> = [
    { kind: "none", label: "None" },
    { kind: "json", label: "JSON" },
    { kind: "form", label: "Form" },
    { kind: "raw", label: "Raw" },
  ];
  const setBody = (body: RequestSpec["body"]) => props.setSpec((s) => ({ ...s, body }));
  return (
    <div class="body-editor">
      <div class="segmented segmented-xs" role="radiogroup" aria-label="Body type">
        {kinds.map((k) => (
          <button type="button" role="radio" aria-checked={b.kind === k.kind} class={b.kind === k.kind ? "on" : ""} onClick={() => setBody(switchBody(b, k.kind))} data-testid={`body-${k.kind}`}>
            {k.label}
          </button>
        ))}
        {b.kind === "raw" && (
          <input
            class="input input-sm mono ct-input"
            value={b.contentType}
            aria-label="Content type"
            placeholder="text/plain"
            onInput={(e) => setBody({ ...b, contentType: (e.currentTarget as HTMLInputElement).value })}
          />
        )}
      </div>
      {b.kind === "none" && <p class="muted small">This request has no body.</p>}
      {(b.kind === "json" || b.kind === "raw") && (
        <>
          <textarea
            class="input mono body-text"
            value={b.template}
            spellcheck={false}
            aria-label="Body template"
            aria-invalid={props.error ? true : undefined}
            aria-describedby={props.error ? "body-err" : undefined}
            placeholder={b.kind === "json" ? '{"customer": "${env.customer_id}"}' : "Any text; templates work here"}
            data-testid="body-text"
            onInput={(e) => setBody({ ...b, template: (e.currentTarget as HTMLTextAreaElement).value })}
          />
          {props.error ? (
            <p class="field-error" id="body-err" role="alert" data-testid="field-error">
              {props.error.message}
            </p>
          ) : (
            jsonProblem && (
              <p class="hint text-warn" data-testid="body-json-warning">
                After rendering, this is not valid JSON: {jsonProblem}. It is sent as typed.
              </p>
            )
          )}
        </>
      )}
      {b.kind === "form" && (
        <KeyValueEditor rows={b.fields} onChange={(fields) => setBody({ kind: "form", fields })} label="Form field" namePlaceholder="Add a field" valuePlaceholder="Value or template" error={props.error} idPrefix="f" />
      )}
    </div>
  );
}

function AuthPanel(props: {
  spec: RequestSpec;
  profiles: KeyProfile[] | null;
  profile: KeyProfile | null;
  error: string | null;
  onProfile: (name: string | null) => void;
  onManage: () => void;
}) {
  const p = props.profile;
  const wire = p ? presentation(p) : null;
  return (
    <div class="auth-panel">
      <label for="profile-select" class="field-label">
        Key profile
      </label>
      <div class="auth-row">
        <select
          id="profile-select"
          class="input input-sm mono"
          value={props.spec.profile ?? ""}
          aria-invalid={props.error ? true : undefined}
          data-testid="profile-select"
          onChange={(e) => props.onProfile((e.currentTarget as HTMLSelectElement).value || null)}
        >
          <option value="">No key profile</option>
          {props.spec.profile && props.profiles && !p && <option value={props.spec.profile}>{props.spec.profile} (missing)</option>}
          {props.profiles?.map((x) => (
            <option value={x.name}>
              {x.name} — {styleLabel(x.style.kind)}
            </option>
          ))}
        </select>
        <button type="button" class="btn btn-sm" onClick={props.onManage} data-testid="manage-profiles">
          <KeyIcon size={14} /> Manage profiles
        </button>
      </div>
      {props.error && (
        <p class="field-error" role="alert" data-testid="auth-error">
          {props.error}
        </p>
      )}
      {p && wire ? (
        <div class="profile-card" data-testid="profile-card">
          <code class="wire-line">
            {wire.where === "header" ? (
              <>
                <span class="wire-name">{wire.name}:</span> <span class="secret-token">{wire.value}</span>
              </>
            ) : (
              <>
                ?<span class="wire-name">{wire.name}</span>=<span class="secret-token">{wire.value}</span>
              </>
            )}
          </code>
          <dl class="profile-facts">
            <div>
              <dt>Secret</dt>
              <dd class="mono">{p.secret}</dd>
            </div>
            <div>
              <dt>Allowed hosts</dt>
              <dd class="mono">{p.allowedHosts.length ? p.allowedHosts.join(", ") : <span class="muted">Any the secret allows</span>}</dd>
            </div>
            <div>
              <dt>Transport</dt>
              <dd>{p.httpsOnly ? "HTTPS only" : <span class="text-warn">HTTP allowed</span>}</dd>
            </div>
          </dl>
          {p.style.kind === "query" && (
            <p class="callout callout-warn callout-tight">
              <AlertIcon size={14} /> This profile puts the key in the URL, where proxies and servers log it.
            </p>
          )}
          {p.description && <p class="muted small">{p.description}</p>}
        </div>
      ) : (
        !props.error && (
          <p class="muted small auth-hint">
            {props.profiles && props.profiles.length === 0
              ? "No key profile yet. A profile presents a vault secret as Bearer, Key=, Basic, a custom header, a signed JWT or a query parameter, and binds it to the hosts it may go to."
              : "Without a profile, reference a secret directly in a header, e.g. Authorization: Bearer ${secret.NAME}."}
          </p>
        )
      )}
    </div>
  );
}

/** Why `text` is not JSON, or null when it is. Secret placeholders count as the strings they replace. */
function jsonError(text: string): string | null {
  try {
    JSON.parse(text.replace(/\[secret\.[^\]\s]+\]/g, "0"));
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^JSON\.parse: /, "");
  }
}
