// The live preview: the request as it will go out, with secrets as [secret.NAME], and the
// pre-flight findings. Built by Rust from metadata only; no secret value is read for it.

import type { Finding, IpcError, RequestPreview } from "../ipc/bindings";
import { AlertIcon, CheckIcon, CopyIcon, LockIcon, ShieldIcon } from "../components/icons";
import { shortFingerprint } from "../lib/format";
import { errorText } from "./model";

/** Text with every `[secret.NAME]` placeholder marked. */
export function Redacted(props: { text: string }) {
  const parts = props.text.split(/(\[secret\.[^\]\s]+\])/g);
  return (
    <>
      {parts.map((p, i) =>
        i % 2 === 1 ? (
          <span class="secret-token" title="Filled in from the keychain when sent">
            {p}
          </span>
        ) : (
          p
        ),
      )}
    </>
  );
}

function FindingRow(props: { f: Finding }) {
  const f = props.f;
  return (
    <li class={`finding finding-${f.level}`} data-testid="finding" data-code={f.code} data-level={f.level}>
      {f.level === "info" ? <ShieldIcon size={14} /> : <AlertIcon size={14} />}
      <span>{sentence(f.message)}</span>
    </li>
  );
}

function sentence(s: string): string {
  const t = s.trim();
  const u = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(u) ? u : `${u}.`;
}

export function PreviewPanel(props: {
  preview: RequestPreview | null;
  /** An error that belongs to the request as a whole (refused destination, unknown environment…). */
  error: IpcError | null;
  blank: boolean;
  stale: boolean;
  view: "http" | "curl";
  onView: (v: "http" | "curl") => void;
  onCopy: () => void;
  onCopyRevealed: () => void;
}) {
  const p = props.preview;
  const findings = p?.findings ?? [];
  return (
    <section class="preview" aria-label="Preview and pre-flight check" data-testid="preview">
      <header class="pane-head">
        <span class="label">Preview</span>
        <div class="segmented segmented-xs" role="group" aria-label="Preview format">
          <button type="button" class={props.view === "http" ? "on" : ""} aria-pressed={props.view === "http"} onClick={() => props.onView("http")}>
            HTTP
          </button>
          <button type="button" class={props.view === "curl" ? "on" : ""} aria-pressed={props.view === "curl"} onClick={() => props.onView("curl")} data-testid="preview-curl-toggle">
            curl
          </button>
        </div>
        <span class="spacer" />
        <button
          type="button"
          class="icon-btn"
          onClick={props.onCopy}
          disabled={!p || props.blank}
          title="Copy as curl, secrets shown as [secret.NAME]"
          aria-label="Copy as curl, secrets redacted"
          data-testid="copy-curl"
        >
          <CopyIcon size={15} />
        </button>
        <button
          type="button"
          class="icon-btn icon-btn-warn"
          onClick={props.onCopyRevealed}
          disabled={!p || props.blank}
          title="Copy as curl with the real secrets… (asks first; the clipboard clears after 30 s)"
          aria-label="Copy as curl with the real secrets"
          data-testid="copy-curl-secrets"
        >
          <LockIcon size={15} />
        </button>
      </header>
      <div class={`preview-body${props.stale ? " stale" : ""}`}>
        {props.blank ? (
          <p class="muted small preview-empty">Type a URL to see the request as it will be sent, and what Keywarden checks before sending it.</p>
        ) : (
          <>
            {props.error && (
              <div class={`callout ${props.error.code === "refused" ? "callout-danger" : "callout-warn"} callout-icon callout-tight`} role="alert" data-testid="preview-error">
                {props.error.code === "refused" ? <ShieldIcon size={15} /> : <AlertIcon size={15} />}
                <div>
                  <strong>{props.error.code === "refused" ? "Will not be sent" : "Cannot render the request"}</strong>
                  <p>{errorText(props.error)}</p>
                </div>
              </div>
            )}
            {p && (
              <div class="checks" aria-label="Pre-flight check">
                <span class="label">Pre-flight check</span>
                {findings.length === 0 ? (
                  <p class="finding finding-ok" data-testid="preflight-ok">
                    <CheckIcon size={14} /> {p.secrets.length ? "Nothing to warn about for this key and destination." : "No secret in this request."}
                  </p>
                ) : (
                  <ul class="findings" data-testid="findings">
                    {findings.map((f) => (
                      <FindingRow f={f} />
                    ))}
                  </ul>
                )}
                {p.secrets.length > 0 && (
                  <p class="uses small">
                    Uses{" "}
                    {p.secrets.map((s) => (
                      <span class="secret-ref" title={`Fingerprint ${s.fingerprint}`}>
                        <span class="mono">{s.name}</span> <span class="fp mono">{shortFingerprint(s.fingerprint).slice(0, 8)}</span>
                      </span>
                    ))}
                  </p>
                )}
              </div>
            )}
            {p &&
              (props.view === "http" ? (
                <pre class="code-block wire-block" data-testid="preview-http">
                  <span class="wire-method">{p.method}</span> <Redacted text={p.url} />
                  {p.headers.map((h) => (
                    <>
                      {"\n"}
                      <span class="wire-name">{h.name}:</span> <Redacted text={h.value} />
                    </>
                  ))}
                  {p.body !== null && (
                    <>
                      {"\n\n"}
                      <Redacted text={p.body} />
                    </>
                  )}
                </pre>
              ) : (
                <pre class="code-block wire-block" data-testid="preview-curl">
                  <Redacted text={p.curl} />
                </pre>
              ))}
          </>
        )}
      </div>
    </section>
  );
}
