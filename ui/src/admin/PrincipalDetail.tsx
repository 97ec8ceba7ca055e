// The right-hand pane of the Admin screen: one principal, its switch and its keys.

import { useEffect, useState } from "preact/hooks";
import { api } from "../ipc/api";
import type { AdminObject, IpcError } from "../ipc/bindings";
import { EditIcon, KeyIcon, PlusIcon, RotateIcon, TrashIcon } from "../components/icons";
import { formatDate, relativePast } from "../lib/format";
import { Switch } from "../vault/SecretDetail";
import { enabled, keyState, kindLabel, list, num, revoked, str, syncBadge } from "./model";

export function SyncBadgeView(props: { o: AdminObject }) {
  const b = syncBadge(props.o);
  return (
    <span class={`badge badge-${b.tone} sync-badge`} title={b.title} data-testid="sync-badge" data-state={b.label.toLowerCase()}>
      {b.label}
    </span>
  );
}

function KeyRow(props: {
  k: AdminObject;
  now: number;
  onChanged: (k: AdminObject) => void;
  onRotate: (k: AdminObject) => void;
  onRevoke: (k: AdminObject) => void;
}) {
  const k = props.k;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const state = keyState(k, props.now);
  const gone = revoked(k) || k.deleted;
  async function toggle(on: boolean) {
    setBusy(true);
    setError(null);
    try {
      props.onChanged(await api.adminSetEnabled({ connection: null, kind: "key", id: k.id, enabled: on }));
    } catch (e) {
      setError((e as IpcError).message);
    } finally {
      setBusy(false);
    }
  }
  const scopes = list(k, "scopes");
  const lastUsed = num(k, "last_used_at");
  const expires = num(k, "expires_at");
  return (
    <li class={`key-card${gone ? " is-disabled" : ""}`} data-testid="key-row" data-name={str(k, "name")} data-id={k.id}>
      <div class="key-head">
        <KeyIcon size={15} />
        <span class="key-name mono">{str(k, "name")}</span>
        <code class="key-prefix" title="The key's display prefix: enough to tell keys apart, never enough to use one">
          {str(k, "display_prefix") || "…"}
        </code>
        <span class="chip chip-sm">{str(k, "environment")}</span>
        <span class={`badge badge-${state.tone}`} data-testid="key-state">
          {state.label}
        </span>
        <SyncBadgeView o={k} />
      </div>
      <div class="key-meta muted small">
        <span>{scopes.length ? `scopes: ${scopes.join(", ")}` : "all of the principal's privileges"}</span>
        {k.body.read_only === true && <span>read-only</span>}
        {list(k, "path_prefixes").length > 0 && <span>paths: {list(k, "path_prefixes").join(", ")}</span>}
        {list(k, "ip_allowlist").length > 0 && <span>from: {list(k, "ip_allowlist").join(", ")}</span>}
        <span>{expires === null ? "never expires" : `expires ${formatDate(expires)}`}</span>
        <span>{lastUsed === null ? "never used" : `used ${relativePast(lastUsed, props.now)}`}</span>
      </div>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
      {!gone && (
        <div class="key-actions">
          <Switch checked={enabled(k)} label={`${str(k, "name")} enabled`} onChange={toggle} disabled={busy} testId="key-enabled" />
          <span class="spacer" />
          <button type="button" class="btn btn-sm" onClick={() => props.onRotate(k)} data-testid="key-rotate">
            <RotateIcon size={13} /> Rotate
          </button>
          <button type="button" class="btn btn-sm btn-ghost-danger" onClick={() => props.onRevoke(k)} data-testid="key-revoke">
            <TrashIcon size={13} /> Revoke
          </button>
        </div>
      )}
    </li>
  );
}

export function PrincipalDetail(props: {
  principal: AdminObject;
  keys: AdminObject[] | null;
  keysError: string | null;
  now: number;
  onChanged: (p: AdminObject) => void;
  onKeyChanged: (k: AdminObject) => void;
  onNewKey: () => void;
  onEdit: () => void;
  groupNames: Map<string, string>;
  onRotate: (k: AdminObject) => void;
  onRevoke: (k: AdminObject) => void;
}) {
  const p = props.principal;
  const [toggleError, setToggleError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [showRevoked, setShowRevoked] = useState(false);
  useEffect(() => setToggleError(null), [p.id]);
  async function toggle(on: boolean) {
    setBusy(true);
    setToggleError(null);
    try {
      props.onChanged(await api.adminSetEnabled({ connection: null, kind: "principal", id: p.id, enabled: on }));
    } catch (e) {
      setToggleError((e as IpcError).message);
    } finally {
      setBusy(false);
    }
  }
  const logo = str(p, "logo");
  const created = num(p, "created_at");
  const keys = props.keys ?? [];
  const active = keys.filter((k) => !revoked(k) && !k.deleted);
  const inactive = keys.length - active.length;
  const shown = showRevoked ? keys : active;
  return (
    <section class="detail" aria-label={`Details of ${str(p, "name")}`} data-testid="principal-detail">
      <header class="detail-head">
        <div class="detail-title">
          <div class="principal-title">
            {logo && /^https?:\/\//.test(logo) ? <img class="principal-logo" src={logo} alt="" width={28} height={28} /> : null}
            <h2 class="mono" data-testid="principal-name">
              {str(p, "name")}
            </h2>
          </div>
          <div class="detail-badges">
            <span class="chip">{kindLabel(p.body.kind)}</span>
            <SyncBadgeView o={p} />
          </div>
        </div>
        <div class="head-actions">
          <button type="button" class="btn btn-sm" onClick={props.onEdit} data-testid="edit-principal" title="Edit (E)">
            <EditIcon size={13} /> Edit
          </button>
          <Switch checked={enabled(p)} label={`${str(p, "name")} enabled`} onChange={toggle} disabled={busy} testId="principal-enabled" />
        </div>
      </header>
      {toggleError && (
        <p class="field-error" role="alert">
          {toggleError}
        </p>
      )}
      {str(p, "description") ? <p class="detail-desc">{str(p, "description")}</p> : <p class="detail-desc muted">No description.</p>}
      {!enabled(p) && <div class="callout callout-muted">This principal is disabled: none of its keys is accepted until you enable it again.</div>}
      <dl class="facts">
        <div class="span-2">
          <dt>Id</dt>
          <dd class="mono small" title={p.id.startsWith("local-") ? "Not yet on the server" : undefined}>
            {p.id}
          </dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{created === null ? <span class="muted">Not yet on the server</span> : formatDate(created)}</dd>
        </div>
        <div>
          <dt>Groups</dt>
          <dd>
            {list(p, "groups").length === 0 ? (
              <span class="muted">None: its keys are refused</span>
            ) : (
              <span class="chips">
                {list(p, "groups").map((g) => (
                  <span class="chip">{props.groupNames.get(g) ?? g}</span>
                ))}
              </span>
            )}
          </dd>
        </div>
      </dl>


      <section class="keys" aria-label="Keys">
        <div class="keys-head">
          <h3>Keys</h3>
          <span class="muted small">{active.length === 1 ? "1 active" : `${active.length} active`}</span>
          <span class="spacer" />
          {inactive > 0 && (
            <button type="button" class="link-btn" onClick={() => setShowRevoked(!showRevoked)}>
              {showRevoked ? "Hide revoked" : `Show ${inactive} revoked`}
            </button>
          )}
          <button type="button" class="btn btn-sm btn-primary" onClick={props.onNewKey} data-testid="new-key" title="New key (K)">
            <PlusIcon size={13} /> New key
          </button>
        </div>
        {props.keysError && <p class="field-error">{props.keysError}</p>}
        {props.keys !== null && shown.length === 0 ? (
          <div class="keys-empty muted" data-testid="keys-empty">
            No keys yet. A new key is generated on this machine and can go straight into your vault.
          </div>
        ) : (
          <ul class="key-list" data-testid="key-list">
            {shown.map((k) => (
              <KeyRow k={k} now={props.now} onChanged={props.onKeyChanged} onRotate={props.onRotate} onRevoke={props.onRevoke} />
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}
