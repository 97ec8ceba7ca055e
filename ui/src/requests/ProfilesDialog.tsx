// "Manage profiles": create, edit and delete key profiles. A profile says which vault secret is
// sent, how it is presented (every style of the sources) and where it may go. No value is read here.

import { useEffect, useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { IpcError, KeyProfile, SecretSummary, Style } from "../ipc/bindings";
import { AlertIcon, KeyIcon, PlusIcon, TrashIcon } from "../components/icons";
import { FieldError, Modal, submitOnModEnter } from "../components/modal";
import { splitList } from "../lib/format";
import { TextField } from "../vault/fields";
import { TemplateInput } from "./TemplateInput";
import { JWT_ALGORITHMS, STYLE_KINDS, defaultStyle, presentation, styleLabel } from "./model";

type Errors = Record<string, string>;

function blankProfile(secret: string): KeyProfile {
  return { name: "", description: "", secret, style: { kind: "bearer" }, allowedHosts: [], httpsOnly: true };
}

function errorsFrom(e: IpcError): { fields: Errors; general: string | null } {
  const key = fieldKey(e.field);
  if (!key) return { fields: {}, general: e.message };
  if (key.startsWith("profile")) return { fields: { template: e.message }, general: null };
  const known = ["name", "secret", "user", "header", "scheme", "algorithm", "param", "allowedhosts", "claims", "template"];
  if (known.includes(key)) return { fields: { [key]: e.message }, general: null };
  return { fields: {}, general: e.message };
}

export function ProfilesDialog(props: {
  profiles: KeyProfile[];
  initial?: string | null;
  onChanged: (list: KeyProfile[]) => void;
  onUse: (name: string) => void;
  onClose: () => void;
}) {
  const [secrets, setSecrets] = useState<SecretSummary[] | null>(null);
  const [secretsError, setSecretsError] = useState<string | null>(null);
  const first = props.profiles.find((p) => p.name === props.initial) ?? props.profiles[0] ?? null;
  const [editing, setEditing] = useState<string | null>(first?.name ?? null);
  const [draft, setDraft] = useState<KeyProfile>(() => first ?? blankProfile(""));
  const [hosts, setHosts] = useState(draft.allowedHosts.join(", "));
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  useEffect(() => {
    api
      .listSecrets({ search: null })
      .then((list) => {
        setSecrets(list);
        setDraft((d) => (d.secret || !list[0] ? d : { ...d, secret: list[0].name }));
      })
      .catch((e: IpcError) => setSecretsError(e.message));
  }, []);

  const open = (p: KeyProfile | null) => {
    const next = p ?? blankProfile(secrets?.[0]?.name ?? "");
    setEditing(p?.name ?? null);
    setDraft(next);
    setHosts(next.allowedHosts.join(", "));
    setErrors({});
    setGeneral(null);
    setConfirmDelete(false);
  };

  const set = (patch: Partial<KeyProfile>) => setDraft((d) => ({ ...d, ...patch }));
  const setStyle = (patch: Partial<Style>) => setDraft((d) => ({ ...d, style: { ...d.style, ...patch } as Style }));

  async function save(e: Event) {
    e.preventDefault();
    if (busy) return;
    const local: Errors = {};
    if (!draft.name.trim()) local.name = "Give the profile a name, e.g. billing-bearer.";
    if (!draft.secret) local.secret = "Choose the vault secret this profile sends.";
    setErrors(local);
    setGeneral(null);
    if (Object.keys(local).length) return;
    setBusy(true);
    const profile: KeyProfile = { ...draft, name: draft.name.trim(), description: draft.description.trim(), allowedHosts: splitList(hosts) };
    try {
      let list = await api.saveProfile(profile);
      // Profiles are keyed by name: a rename saves the new one, then removes the old one.
      if (editing && editing !== profile.name) list = await api.deleteProfile({ name: editing });
      props.onChanged(list);
      setEditing(profile.name);
      setDraft(profile);
    } catch (err) {
      const r = errorsFrom(err as IpcError);
      setErrors(r.fields);
      setGeneral(r.general);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!editing || busy) return;
    setBusy(true);
    try {
      const list = await api.deleteProfile({ name: editing });
      props.onChanged(list);
      const first = list[0] ?? null;
      open(first);
    } catch (err) {
      setGeneral((err as IpcError).message);
    } finally {
      setBusy(false);
    }
  }

  const st = draft.style;
  const wire = presentation(draft);
  const chosenSecret = secrets?.find((s) => s.name === draft.secret);

  return (
    <Modal title="Key profiles" subtitle="How a vault secret is presented, and where it may be sent." onClose={props.onClose} size="lg" testId="profiles-dialog">
      <div class="manager">
        <aside class="manager-list" aria-label="Profiles">
          <button type="button" class={`manager-item manager-new${editing === null ? " selected" : ""}`} onClick={() => open(null)} data-testid="new-profile">
            <PlusIcon size={14} /> New profile
          </button>
          {props.profiles.map((p) => (
            <button
              type="button"
              class={`manager-item${editing === p.name ? " selected" : ""}`}
              onClick={() => open(p)}
              data-testid="profile-item"
              data-name={p.name}
            >
              <span class="manager-name mono">{p.name}</span>
              <span class="manager-meta">
                {styleLabel(p.style.kind)} · <span class="mono">{p.secret}</span>
              </span>
            </button>
          ))}
          {props.profiles.length === 0 && <p class="manager-empty muted small">No profiles yet. The first one is on the right.</p>}
        </aside>
        <form class="manager-form form" onSubmit={save} novalidate data-testid="profile-form">
          {general && (
            <div class="callout callout-danger" role="alert" data-testid="form-error">
              {general}
            </div>
          )}
          <div class="field-row">
            <TextField id="p-name" name="name" label="Name" value={draft.name} onInput={(v) => set({ name: v })} error={errors.name} placeholder="billing-bearer" mono autoFocus={editing === null} />
            <div class="field">
              <label for="p-secret">Secret</label>
              <select
                id="p-secret"
                class="input mono"
                value={draft.secret}
                aria-invalid={errors.secret ? true : undefined}
                aria-describedby={errors.secret ? "p-secret-err" : "p-secret-hint"}
                data-testid="profile-secret"
                onChange={(e) => set({ secret: (e.currentTarget as HTMLSelectElement).value })}
              >
                {!draft.secret && <option value="">Choose a secret…</option>}
                {draft.secret && secrets && !chosenSecret && <option value={draft.secret}>{draft.secret} (not in the vault)</option>}
                {secrets?.map((s) => (
                  <option value={s.name}>
                    {s.name}
                    {s.environment ? ` · ${s.environment}` : ""}
                    {s.enabled ? "" : " · disabled"}
                  </option>
                ))}
              </select>
              <FieldError id="p-secret-err" message={errors.secret ?? secretsError} />
              {!errors.secret && !secretsError && (
                <p class="hint" id="p-secret-hint">
                  {secrets && secrets.length === 0
                    ? "The vault is empty: add the key in the Vault first."
                    : chosenSecret
                      ? `Fingerprint ${chosenSecret.fingerprint}`
                      : "From your vault; its value is read only when you send."}
                </p>
              )}
            </div>
          </div>
          <TextField id="p-desc" name="description" label="Description" value={draft.description} onInput={(v) => set({ description: v })} placeholder="Which API and account this is for" optional />

          <div class="field">
            <label for="p-style">Presented as</label>
            <select
              id="p-style"
              class="input"
              value={st.kind}
              data-testid="profile-style"
              onChange={(e) => set({ style: defaultStyle((e.currentTarget as HTMLSelectElement).value as Style["kind"], draft.secret) })}
            >
              {STYLE_KINDS.map((k) => (
                <option value={k.kind}>
                  {k.label} — {k.hint}
                </option>
              ))}
            </select>
          </div>

          {st.kind === "basic" && (
            <TextField id="p-user" name="user" label="User name" value={st.user} onInput={(v) => setStyle({ user: v })} error={errors.user} placeholder="haplo" hint="Sent with the key as the password. May not contain “:”." mono />
          )}
          {st.kind === "header" && (
            <div class="field-row">
              <div class="field field-narrow">
                <TextField id="p-header" name="header" label="Header" value={st.name} onInput={(v) => setStyle({ name: v })} error={errors.header} placeholder="X-Api-Key" mono />
              </div>
              <div class="field">
                <label for="p-template">Value template</label>
                <TemplateInput
                  class="input mono"
                  value={st.template}
                  placeholder="${secret.NAME}"
                  ariaLabel="Value template"
                  ariaInvalid={!!errors.template}
                  ariaDescribedBy={errors.template ? "p-template-err" : "p-template-hint"}
                  onValue={(v) => setStyle({ template: v })}
                />
                <FieldError id="p-template-err" message={errors.template} />
                {!errors.template && (
                  <p class="hint" id="p-template-hint">
                    Any template: {"${secret.NAME}"}, {"${env.NAME}"}, {"${base64(…)}"}. Type {"${"} for suggestions.
                  </p>
                )}
              </div>
            </div>
          )}
          {st.kind === "apiToken" && (
            <TextField id="p-header" name="header" label="Header" value={st.header} onInput={(v) => setStyle({ header: v })} error={errors.header} placeholder="X-API-Token" hint="The key is sent as the header's value, as it is." mono />
          )}
          {st.kind === "jwt" && (
            <>
              <div class="field-row">
                <div class="field">
                  <label for="p-alg">Signing algorithm</label>
                  <select id="p-alg" class="input" value={st.algorithm} onChange={(e) => setStyle({ algorithm: (e.currentTarget as HTMLSelectElement).value })}>
                    {JWT_ALGORITHMS.map((a) => (
                      <option value={a}>
                        {a}
                        {a.startsWith("HS") ? " — HMAC with the secret" : " — the secret is a PEM private key"}
                      </option>
                    ))}
                  </select>
                  <FieldError id="p-alg-err" message={errors.algorithm} />
                </div>
                <div class="field field-narrow">
                  <label for="p-life">
                    Lifetime <span class="optional">seconds</span>
                  </label>
                  <input
                    id="p-life"
                    type="number"
                    min={1}
                    class="input"
                    value={st.lifetimeSeconds ?? ""}
                    placeholder="none"
                    onInput={(e) => {
                      const v = (e.currentTarget as HTMLInputElement).value;
                      setStyle({ lifetimeSeconds: v === "" ? null : Math.max(1, Math.floor(Number(v)) || 1) });
                    }}
                  />
                </div>
              </div>
              <div class="field">
                <label for="p-claims">Claims</label>
                <textarea
                  id="p-claims"
                  class="input mono"
                  rows={3}
                  value={st.claims}
                  spellcheck={false}
                  aria-invalid={errors.template || errors.claims ? true : undefined}
                  onInput={(e) => setStyle({ claims: (e.currentTarget as HTMLTextAreaElement).value })}
                  onKeyDown={submitOnModEnter}
                />
                <FieldError id="p-claims-err" message={errors.template ?? errors.claims} />
                {!errors.template && !errors.claims && <p class="hint">A JSON template; iat and exp are added from the lifetime. ${"{env.NAME}"} works here.</p>}
              </div>
              <div class="field-row">
                <TextField id="p-jwt-header" name="header" label="Header" value={st.header ?? ""} onInput={(v) => setStyle({ header: v.trim() ? v : null })} error={errors.header} placeholder="Authorization" mono optional />
                <div class="field">
                  <TextField
                    id="p-scheme"
                    name="scheme"
                    label="Scheme"
                    value={st.scheme ?? ""}
                    onInput={(v) => setStyle({ scheme: v.trim() ? v : null })}
                    error={errors.scheme}
                    placeholder={st.scheme === "" ? "none" : "Bearer"}
                    mono
                    optional
                  />
                  <label class="check small">
                    <input type="checkbox" checked={st.scheme === ""} onChange={(e) => setStyle({ scheme: (e.currentTarget as HTMLInputElement).checked ? "" : null })} />
                    <span>Token only, no scheme</span>
                  </label>
                </div>
              </div>
            </>
          )}
          {st.kind === "query" && (
            <>
              <TextField id="p-param" name="param" label="Query parameter" value={st.param} onInput={(v) => setStyle({ param: v })} error={errors.param} placeholder="auth-key" mono />
              <div class="callout callout-warn callout-icon" role="note" data-testid="query-warning">
                <AlertIcon size={15} /> <span>Keys in URLs end up in proxy, server and browser logs (RFC 6750 §2.3). Use a header where the API allows it; every request with this profile is flagged.</span>
              </div>
            </>
          )}

          <div class="wire" aria-label="What this profile sends">
            <span class="label">On the wire</span>
            <code class="wire-line" data-testid="profile-wire">
              {wire.where === "header" ? (
                <>
                  <span class="wire-name">{wire.name}:</span> {wire.value}
                </>
              ) : (
                <>
                  ?<span class="wire-name">{wire.name}</span>={wire.value}
                </>
              )}
            </code>
          </div>

          <div class="field-row">
            <TextField
              id="p-hosts"
              name="allowedHosts"
              label="Allowed hosts"
              value={hosts}
              onInput={setHosts}
              error={errors.allowedhosts}
              placeholder="api.billing.example, *.billing.example"
              hint="The key is refused anywhere else. Empty: any host the secret allows."
              mono
              optional
            />
          </div>
          <label class="check">
            <input type="checkbox" checked={draft.httpsOnly} onChange={(e) => set({ httpsOnly: (e.currentTarget as HTMLInputElement).checked })} data-testid="profile-https-only" />
            <span>HTTPS only — never send this key over plain http://</span>
          </label>

          <footer class="modal-foot">
            {editing &&
              (confirmDelete ? (
                <span class="confirm-inline" role="alert">
                  Delete {editing}?
                  <button type="button" class="btn btn-sm btn-danger" onClick={remove} disabled={busy} data-testid="confirm-delete-profile">
                    Delete
                  </button>
                  <button type="button" class="btn btn-sm" onClick={() => setConfirmDelete(false)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button type="button" class="btn btn-ghost-danger" onClick={() => setConfirmDelete(true)} data-testid="delete-profile">
                  <TrashIcon size={14} /> Delete
                </button>
              ))}
            <span class="spacer" />
            {editing && editing === draft.name && (
              <button type="button" class="btn" onClick={() => (props.onUse(editing), props.onClose())} data-testid="use-profile">
                <KeyIcon size={14} /> Use in request
              </button>
            )}
            <button type="submit" class="btn btn-primary" disabled={busy} data-testid="save-profile">
              {busy ? "Saving…" : editing ? "Save changes" : "Create profile"}
            </button>
          </footer>
        </form>
      </div>
    </Modal>
  );
}
