// The right-hand pane: one secret's details, its value controls and its history.

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../ipc/api";
import type { CopyReceipt, IpcError, SecretSummary, ValueVersion } from "../ipc/bindings";
import { CopyIcon, EditIcon, EyeIcon, EyeOffIcon, RotateIcon, TrashIcon } from "../components/icons";
import { envTone, expiryBadge, formatDate, formatDateTime, relativePast } from "../lib/format";

const MASK = "•".repeat(24);

export function Switch(props: { checked: boolean; label: string; onChange: (v: boolean) => void; disabled?: boolean; testId?: string }) {
  return (
    <button
      type="button"
      role="switch"
      class="switch"
      aria-checked={props.checked}
      aria-label={props.label}
      disabled={props.disabled}
      data-testid={props.testId}
      onClick={() => props.onChange(!props.checked)}
    >
      <span class="switch-track">
        <span class="switch-thumb" />
      </span>
      <span class="switch-text">{props.checked ? "Enabled" : "Disabled"}</span>
    </button>
  );
}

/** Holds a revealed value only while it is shown; clears it on timeout, on another secret, and when the window is hidden. */
function useReveal(id: string) {
  const [revealed, setRevealed] = useState<{ id: string; value: string; until: number } | null>(null);
  const [left, setLeft] = useState(0);
  const timer = useRef<number | undefined>(undefined);
  const hide = () => {
    setRevealed(null);
    setLeft(0);
    window.clearInterval(timer.current);
  };
  useEffect(() => hide, [id]);
  useEffect(() => {
    const onHidden = () => document.hidden && hide();
    document.addEventListener("visibilitychange", onHidden);
    return () => document.removeEventListener("visibilitychange", onHidden);
  }, []);
  const show = (value: string, seconds: number) => {
    const until = Date.now() + seconds * 1000;
    setRevealed({ id, value, until });
    setLeft(seconds);
    window.clearInterval(timer.current);
    timer.current = window.setInterval(() => {
      const s = Math.ceil((until - Date.now()) / 1000);
      if (s <= 0) hide();
      else setLeft(s);
    }, 250);
  };
  return { value: revealed?.id === id ? revealed.value : null, left, show, hide };
}

export function SecretDetail(props: {
  secret: SecretSummary;
  now: number;
  onChanged: (s: SecretSummary) => void;
  onEdit: () => void;
  onRotate: () => void;
  onDelete: () => void;
  onCopied: (r: CopyReceipt, name: string) => void;
  copyRequest: number;
}) {
  const s = props.secret;
  const reveal = useReveal(s.id);
  const [valueError, setValueError] = useState<string | null>(null);
  const [toggleError, setToggleError] = useState<string | null>(null);
  const [busy, setBusy] = useState<"reveal" | "copy" | "toggle" | null>(null);
  const [versions, setVersions] = useState<ValueVersion[] | null>(null);
  const [versionsError, setVersionsError] = useState<string | null>(null);

  useEffect(() => {
    setValueError(null);
    setToggleError(null);
  }, [s.id]);

  useEffect(() => {
    let live = true;
    setVersionsError(null);
    api
      .secretVersions({ id: s.id })
      .then((v) => live && setVersions(v))
      .catch((e: IpcError) => live && (setVersions(null), setVersionsError(e.message)));
    return () => {
      live = false;
    };
  }, [s.id, s.versions, s.fingerprint]);

  async function doReveal() {
    if (reveal.value !== null) return reveal.hide();
    setBusy("reveal");
    setValueError(null);
    try {
      const r = await api.revealSecret({ id: s.id });
      reveal.show(r.value, r.hideAfterSeconds);
    } catch (e) {
      setValueError((e as IpcError).message);
    } finally {
      setBusy(null);
    }
  }
  async function doCopy() {
    setBusy("copy");
    setValueError(null);
    try {
      props.onCopied(await api.copySecret({ id: s.id }), s.name);
    } catch (e) {
      setValueError((e as IpcError).message);
    } finally {
      setBusy(null);
    }
  }
  async function doToggle(enabled: boolean) {
    setBusy("toggle");
    setToggleError(null);
    try {
      props.onChanged(await api.setEnabled({ id: s.id, enabled }));
    } catch (e) {
      setToggleError((e as IpcError).message);
    } finally {
      setBusy(null);
    }
  }

  // Ctrl+Shift+C from anywhere in the vault copies the selected secret.
  const lastCopy = useRef(props.copyRequest);
  useEffect(() => {
    if (props.copyRequest !== lastCopy.current) {
      lastCopy.current = props.copyRequest;
      void doCopy();
    }
  }, [props.copyRequest]);

  const badge = expiryBadge(s, props.now);

  return (
    <section class="detail" aria-label={`Details of ${s.name}`} data-testid="secret-detail">
      <header class="detail-head">
        <div class="detail-title">
          <h2 class="mono" data-testid="detail-name">
            {s.name}
          </h2>
          <div class="detail-badges">
            {s.environment && <span class={`chip chip-env env-${envTone(s.environment)}`}>{s.environment}</span>}
            {badge && (
              <span class={`badge badge-${badge.tone}`} title={badge.title}>
                {badge.label}
              </span>
            )}
          </div>
        </div>
        <Switch
          checked={s.enabled}
          label={`${s.name} enabled`}
          onChange={doToggle}
          disabled={busy === "toggle"}
          testId="enabled-switch"
        />
      </header>
      {toggleError && (
        <p class="field-error" role="alert">
          {toggleError}
        </p>
      )}
      {s.description ? <p class="detail-desc">{s.description}</p> : <p class="detail-desc muted">No description.</p>}
      {!s.enabled && (
        <div class="callout callout-muted">
          This secret is disabled: templates that reference it fail until you enable it again.
        </div>
      )}

      <div class="value-card">
        <div class="value-card-head">
          <span class="label">Value</span>
          {reveal.value !== null && (
            <span class="countdown" aria-live="polite">
              Hides in {reveal.left} s
            </span>
          )}
        </div>
        <div class="value-row">
          {reveal.value !== null ? (
            <pre class="value-revealed mono" data-testid="revealed-value">
              {reveal.value}
            </pre>
          ) : (
            <span class="value-masked mono" aria-label="Value hidden">
              {MASK}
            </span>
          )}
          <div class="value-actions">
            <button
              type="button"
              class="btn btn-sm"
              onClick={doReveal}
              disabled={busy === "reveal"}
              aria-pressed={reveal.value !== null}
              data-testid="reveal-button"
            >
              {reveal.value !== null ? <EyeOffIcon size={14} /> : <EyeIcon size={14} />}
              {reveal.value !== null ? "Hide" : "Reveal"}
            </button>
            <button
              type="button"
              class="btn btn-sm"
              onClick={doCopy}
              disabled={busy === "copy"}
              title="Copy the value (Ctrl+Shift+C). The clipboard is cleared after 30 s."
              data-testid="copy-button"
            >
              <CopyIcon size={14} />
              Copy
            </button>
          </div>
        </div>
        {valueError && (
          <p class="field-error" role="alert" data-testid="value-error">
            {valueError}
          </p>
        )}
        <div class="fingerprint" title="A keyed hash that identifies this value without revealing it">
          <span class="label">Fingerprint</span> <code>{s.fingerprint}</code>
        </div>
      </div>

      <dl class="facts">
        <div>
          <dt>Created</dt>
          <dd title={formatDateTime(s.createdAt)}>{formatDate(s.createdAt)}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd title={formatDateTime(s.updatedAt)}>{relativePast(s.updatedAt, props.now)}</dd>
        </div>
        <div>
          <dt>Last used</dt>
          <dd>{s.lastUsedAt === null ? <span class="muted">Never</span> : relativePast(s.lastUsedAt, props.now)}</dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd title={s.expiresAt === null ? undefined : formatDateTime(s.expiresAt)}>
            {s.expiresAt === null ? (
              <span class="muted">Never</span>
            ) : (
              <span class={s.expiry === "expired" ? "text-danger" : s.expiry === "soon" ? "text-warn" : ""}>{formatDate(s.expiresAt)}</span>
            )}
          </dd>
        </div>
        <div class="span-2">
          <dt>Allowed hosts</dt>
          <dd>
            {s.allowedHosts.length === 0 ? (
              <span class="muted">Any host</span>
            ) : (
              <span class="chips">
                {s.allowedHosts.map((h) => (
                  <span class="chip chip-host mono">{h}</span>
                ))}
              </span>
            )}
          </dd>
        </div>
        <div class="span-2">
          <dt>Tags</dt>
          <dd>
            {s.tags.length === 0 ? (
              <span class="muted">None</span>
            ) : (
              <span class="chips">
                {s.tags.map((t) => (
                  <span class="chip">{t}</span>
                ))}
              </span>
            )}
          </dd>
        </div>
      </dl>

      <div class="detail-actions">
        <button type="button" class="btn" onClick={props.onEdit} data-testid="edit-button">
          <EditIcon size={14} /> Edit <kbd>E</kbd>
        </button>
        <button type="button" class="btn" onClick={props.onRotate} data-testid="rotate-button">
          <RotateIcon size={14} /> Rotate value
        </button>
        <span class="spacer" />
        <button type="button" class="btn btn-ghost-danger" onClick={props.onDelete} data-testid="delete-button">
          <TrashIcon size={14} /> Delete
        </button>
      </div>

      <section class="history" aria-label="Version history">
        <h3>Version history</h3>
        {versionsError && <p class="field-error">{versionsError}</p>}
        {versions && (
          <ol class="versions" data-testid="versions">
            {[...versions]
              .sort((a, b) => b.version - a.version)
              .map((v) => (
                <li class={v.retiredAt === null ? "current" : ""}>
                  <span class="v-num">v{v.version}</span>
                  <code class="v-fp">{v.fingerprint}</code>
                  <span class="v-dates">
                    {v.retiredAt === null ? (
                      <>
                        <span class="badge badge-ok">current</span> since {formatDate(v.createdAt)}
                      </>
                    ) : (
                      <>
                        {formatDate(v.createdAt)} – {formatDate(v.retiredAt)}
                      </>
                    )}
                  </span>
                </li>
              ))}
          </ol>
        )}
      </section>
    </section>
  );
}
