// The response panel: status coloured by class, timing and size, headers, a pretty-printed and
// searchable body, the explanation after a 401/403, and the headers dropped on a cross-origin redirect.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { IpcError, SendResult } from "../ipc/bindings";
import { AlertIcon, SearchIcon, SendIcon, ShieldIcon, XIcon } from "../components/icons";
import { errorText, formatBytes, formatDuration, jsonTokens, prettyBody, splitMatches, statusClass } from "./model";

const HIGHLIGHT_LIMIT = 512 * 1024;

export type SendState =
  | { kind: "idle" }
  | { kind: "sending"; since: number }
  | { kind: "done"; result: SendResult; seq: number }
  | { kind: "failed"; error: IpcError; seq: number };

function Elapsed(props: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 100);
    return () => window.clearInterval(t);
  }, []);
  return <span>{((now - props.since) / 1000).toFixed(1)} s</span>;
}

export function ResponseView(props: { state: SendState; searchRef: { current: HTMLInputElement | null } }) {
  const st = props.state;
  if (st.kind === "idle")
    return (
      <section class="response response-empty" aria-label="Response" data-testid="response-empty">
        <div class="empty-mark empty-mark-sm">
          <SendIcon size={22} />
        </div>
        <p>
          Send the request to see the response here. <kbd>Ctrl</kbd>+<kbd>Enter</kbd>
        </p>
        <p class="muted small">Secrets are read from the keychain only now, once each, and never shown in this window.</p>
      </section>
    );
  if (st.kind === "sending")
    return (
      <section class="response response-empty" aria-label="Response" aria-busy="true" data-testid="response-sending">
        <span class="spinner" aria-hidden="true" />
        <p>
          Sending… <Elapsed since={st.since} />
        </p>
      </section>
    );
  if (st.kind === "failed")
    return (
      <section class="response" aria-label="Response" data-testid="response-error" data-seq={st.seq}>
        <div class="resp-status-line">
          <span class={`status-pill status-${st.error.code === "refused" ? "client" : "server"}`}>{failedLabel(st.error.code)}</span>
        </div>
        <div class="resp-scroll">
          <div class={`callout ${st.error.code === "refused" ? "callout-warn" : "callout-danger"} callout-icon`} role="alert" data-testid="send-error">
            {st.error.code === "refused" ? <ShieldIcon size={16} /> : <AlertIcon size={16} />}
            <div>
              <strong>{failedTitle(st.error.code)}</strong>
              <p>{errorText(st.error)}</p>
            </div>
          </div>
        </div>
      </section>
    );
  return <ResponseDone result={st.result} seq={st.seq} searchRef={props.searchRef} />;
}

function failedLabel(code: IpcError["code"]): string {
  switch (code) {
    case "refused":
      return "Not sent";
    case "timeout":
      return "Timed out";
    case "template":
    case "invalidInput":
      return "Not sent";
    default:
      return "Failed";
  }
}

function failedTitle(code: IpcError["code"]): string {
  switch (code) {
    case "refused":
      return "Keywarden refused to send the key there";
    case "timeout":
      return "The server did not answer in time";
    case "sendFailed":
      return "The request could not be sent";
    case "template":
    case "invalidInput":
      return "The request is not complete";
    default:
      return "The request failed";
  }
}

function ResponseDone(props: { result: SendResult; seq: number; searchRef: { current: HTMLInputElement | null } }) {
  const r = props.result;
  const [tab, setTab] = useState<"body" | "headers">("body");
  const [search, setSearch] = useState("");
  const [current, setCurrent] = useState(0);
  const bodyRef = useRef<HTMLPreElement>(null);
  const contentType = r.headers.find((h) => h.name.toLowerCase() === "content-type")?.value ?? null;
  const body = useMemo(() => prettyBody(r.body, contentType), [r]);
  const matches = useMemo(
    () => (body.text.length <= HIGHLIGHT_LIMIT ? splitMatches(body.text, search) : { parts: [body.text], count: 0 }),
    [body, search],
  );
  const cls = statusClass(r.status);

  useEffect(() => setCurrent(0), [search, r]);
  useEffect(() => {
    const marks = bodyRef.current?.querySelectorAll("mark");
    marks?.forEach((m, i) => m.classList.toggle("current", i === current));
    marks?.[current]?.scrollIntoView({ block: "nearest" });
  }, [current, matches]);

  const onSearchKey = (e: KeyboardEvent) => {
    if (e.key === "Enter" && matches.count) {
      e.preventDefault();
      setCurrent((c) => (e.shiftKey ? (c - 1 + matches.count) % matches.count : (c + 1) % matches.count));
    } else if (e.key === "Escape" && search) {
      e.preventDefault();
      e.stopPropagation();
      setSearch("");
    }
  };

  return (
    <section class="response" aria-label="Response" data-testid="response" data-seq={props.seq}>
      <div class="resp-status-line">
        <span class={`status-pill status-${cls}`} data-testid="response-status">
          {r.status} {r.reason}
        </span>
        <span class="resp-fact" title="Time to the whole response">
          {formatDuration(r.durationMs)}
        </span>
        <span class="resp-fact" data-testid="response-size">
          {formatBytes(r.bodyBytes)}
          {r.truncated ? " (cut)" : ""}
        </span>
        <span class="resp-fact muted">{r.version}</span>
        <span class="spacer" />
        <div class="tabs tabs-sm" role="tablist" aria-label="Response parts">
          <button type="button" role="tab" aria-selected={tab === "body"} class={`tab${tab === "body" ? " active" : ""}`} onClick={() => setTab("body")} data-testid="response-tab-body">
            Body
          </button>
          <button type="button" role="tab" aria-selected={tab === "headers"} class={`tab${tab === "headers" ? " active" : ""}`} onClick={() => setTab("headers")} data-testid="response-tab-headers">
            Headers <span class="tab-count">{r.headers.length}</span>
          </button>
        </div>
      </div>

      <div class="resp-scroll">
        {r.explanation.length > 0 && (
          <div class="callout callout-warn callout-icon" role="note" data-testid="refusal-explanation">
            <ShieldIcon size={16} />
            <div>
              <strong>Why the server may have refused it</strong>
              <ul class="explain-list">
                {r.explanation.map((x) => (
                  <li>{sentenceCase(x)}</li>
                ))}
              </ul>
            </div>
          </div>
        )}
        {r.findings
          .filter((f) => f.code.startsWith("response-"))
          .map((f) => (
            <div class="callout callout-warn callout-icon" role="note" data-testid="response-finding" data-code={f.code}>
              <ShieldIcon size={16} />
              <div>
                <strong>The server sent a secret back</strong>
                <p>{sentenceCase(f.message)}</p>
              </div>
            </div>
          ))}
        {r.droppedHeaders.length > 0 && (
          <div class="callout callout-muted callout-icon" role="note" data-testid="dropped-headers">
            <ShieldIcon size={16} />
            <div>
              <strong>Not sent to the redirect target</strong>
              <p>
                The request was redirected to another origin, so Keywarden kept {r.droppedHeaders.map((h, i) => (
                  <>
                    {i > 0 && ", "}
                    <code>{h}</code>
                  </>
                ))}{" "}
                to itself.
              </p>
              {r.redirects.length > 0 && <p class="muted small mono">{r.redirects.join("  ·  ")}</p>}
            </div>
          </div>
        )}
        {r.droppedHeaders.length === 0 && r.redirects.length > 0 && <p class="muted small mono resp-redirects">Redirects: {r.redirects.join("  ·  ")}</p>}

        {tab === "body" ? (
          <div class="resp-body">
            <div class="resp-body-tools">
              <div class="search search-sm">
                <SearchIcon size={14} class="search-icon" />
                <input
                  ref={(el) => {
                    props.searchRef.current = el;
                  }}
                  type="search"
                  class="input input-sm search-input"
                  placeholder="Find in body"
                  aria-label="Find in the response body"
                  value={search}
                  spellcheck={false}
                  data-testid="response-search"
                  onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)}
                  onKeyDown={onSearchKey}
                />
                {search && (
                  <button type="button" class="icon-btn search-clear" aria-label="Clear" onClick={() => setSearch("")}>
                    <XIcon size={13} />
                  </button>
                )}
              </div>
              {search && (
                <span class="muted small" aria-live="polite" data-testid="response-matches">
                  {matches.count === 0 ? "No match" : `${current + 1} of ${matches.count}`}
                </span>
              )}
              <span class="spacer" />
              <span class="muted small">{body.json ? "JSON, formatted" : (contentType ?? (r.bodyIsText ? "text" : "binary"))}</span>
            </div>
            {r.bodyBytes === 0 ? (
              <p class="muted resp-nobody">No body.</p>
            ) : (
              <pre class={`code-block resp-pre${body.json ? " json" : ""}`} ref={bodyRef} data-testid="response-body" tabIndex={0}>
                {search || !body.json || body.text.length > HIGHLIGHT_LIMIT
                  ? matches.parts.map((p, i) => (i % 2 === 1 ? <mark>{p}</mark> : p))
                  : jsonTokens(body.text).map((t) => (t.t === "punct" ? t.s : <span class={`j-${t.t}`}>{t.s}</span>))}
              </pre>
            )}
          </div>
        ) : (
          <table class="hdr-table" data-testid="response-headers">
            <tbody>
              {r.headers.map((h) => (
                <tr>
                  <th class="mono">{h.name}</th>
                  <td class="mono">{h.value}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}

function sentenceCase(s: string): string {
  const t = s.trim();
  const u = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(u) ? u : `${u}.`;
}
