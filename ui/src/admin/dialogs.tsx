// Dialogs of the Admin screen: connect to a key server, new principal, new key, rotate,
// and the show-once panel for a key that is displayed exactly once.

import { useEffect, useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { AdminCreatedKey, AdminObject, IpcError, KeyPlacement } from "../ipc/bindings";
import { Modal } from "../components/modal";
import { CopyIcon } from "../components/icons";
import { TextField } from "../vault/fields";
import { dateInputToTimestamp, splitList } from "../lib/format";
import { GroupChecks, useGroups } from "./AccessPanel";
import { GRACE_CHOICES, PRINCIPAL_KINDS, type PrincipalKind, str, vaultSecretName } from "./model";

function useForm() {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Runs `f`; an error naming one of `fields` goes under that field, any other above the form. */
  async function run(fields: string[], f: () => Promise<void>) {
    if (busy) return;
    setBusy(true);
    setErrors({});
    setGeneral(null);
    try {
      await f();
    } catch (err) {
      const x = err as IpcError;
      const k = fieldKey(x.field);
      const match = fields.find((f) => fieldKey(f) === k);
      if (match) setErrors({ [match]: x.message });
      else setGeneral(x.message);
    } finally {
      setBusy(false);
    }
  }
  return { errors, setErrors, general, busy, run };
}

function General(props: { message: string | null }) {
  return props.message ? (
    <div class="callout callout-danger" role="alert" data-testid="dialog-error">
      {props.message}
    </div>
  ) : null;
}

export function ConnectDialog(props: { onClose: () => void; onConnected: (name: string, verified: boolean) => void }) {
  const [name, setName] = useState("main");
  const [url, setUrl] = useState("");
  const [method, setMethod] = useState<"adminKey" | "password">("adminKey");
  const [key, setKey] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [ca, setCa] = useState("");
  const f = useForm();
  function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!url.trim()) errs.url = "The server's address, e.g. https://keys.example.com.";
    if (method === "adminKey" && !key.trim()) errs.key = "Paste an admin key of that server.";
    if (method === "password" && !username.trim()) errs.username = "Your user name on that server.";
    if (method === "password" && !password) errs.password = "Your password.";
    if (Object.keys(errs).length) return f.setErrors(errs);
    void f.run(["name", "url", "key", "username", "password", "caPem"], async () => {
      const r = await api.adminConnect({
        name: name.trim() || "main",
        url: url.trim(),
        caPem: ca.trim() || null,
        signIn: method === "adminKey" ? { method, key: key.trim() } : { method, username: username.trim(), password },
      });
      props.onConnected(r.name, r.verified);
    });
  }
  return (
    <Modal
      title="Connect to a key server"
      subtitle="The credential goes to your OS keychain, never into Keywarden's database."
      onClose={props.onClose}
      testId="connect-dialog"
    >
      <form class="modal-body form" onSubmit={submit} novalidate>
        <General message={f.general} />
        <div class="field-row">
          <TextField id="c-url" name="url" label="Server URL" value={url} onInput={setUrl} error={f.errors.url} placeholder="https://keys.example.com" mono autoFocus />
          <TextField id="c-name" name="name" label="Name" value={name} onInput={setName} error={f.errors.name} hint="Letters, digits, - and _." />
        </div>
        <div class="field">
          <span class="label">Sign in with</span>
          <div class="segmented" role="radiogroup" aria-label="Sign in with">
            <button type="button" role="radio" aria-checked={method === "adminKey"} class={method === "adminKey" ? "on" : ""} onClick={() => setMethod("adminKey")}>
              Admin key
            </button>
            <button type="button" role="radio" aria-checked={method === "password"} class={method === "password" ? "on" : ""} onClick={() => setMethod("password")}>
              User name and password
            </button>
          </div>
        </div>
        {method === "adminKey" ? (
          <div class="field">
            <label for="c-key">Admin key</label>
            <input id="c-key" type="password" class="input mono" value={key} autocomplete="off" spellcheck={false} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} aria-invalid={f.errors.key ? true : undefined} />
            {f.errors.key && <p class="field-error">{f.errors.key}</p>}
          </div>
        ) : (
          <div class="field-row">
            <TextField id="c-user" name="username" label="User name" value={username} onInput={setUsername} error={f.errors.username} />
            <div class="field">
              <label for="c-pass">Password</label>
              <input id="c-pass" type="password" class="input" value={password} autocomplete="off" onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)} aria-invalid={f.errors.password ? true : undefined} />
              {f.errors.password ? <p class="field-error">{f.errors.password}</p> : <p class="hint">Kept only as a short-lived session token.</p>}
            </div>
          </div>
        )}
        <div class="field">
          <label for="c-ca">
            Extra CA certificate <span class="optional">optional</span>
          </label>
          <textarea id="c-ca" class="input mono" rows={2} value={ca} placeholder="-----BEGIN CERTIFICATE-----" onInput={(e) => setCa((e.currentTarget as HTMLTextAreaElement).value)} />
          {f.errors.caPem && <p class="field-error">{f.errors.caPem}</p>}
        </div>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={f.busy} data-testid="connect-confirm">
            {f.busy ? "Connecting…" : "Connect"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

export function PrincipalDialog(props: { version: number; onClose: () => void; onCreated: (p: AdminObject) => void }) {
  const groups = useGroups(props.version);
  const [chosen, setChosen] = useState<string[]>([]);
  const [kind, setKind] = useState<PrincipalKind>("api_client");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [logo, setLogo] = useState("");
  const [on, setOn] = useState(true);
  const f = useForm();
  function submit(e: Event) {
    e.preventDefault();
    if (!name.trim()) return f.setErrors({ name: "Give it a name, e.g. billing-service." });
    void f.run(["name", "description", "logo", "kind"], async () => {
      const fields: Record<string, unknown> = { kind, name: name.trim(), description: description.trim(), enabled: on, groups: chosen };
      if (kind === "api_client" && logo.trim()) fields.logo = logo.trim();
      props.onCreated(await api.adminCreate({ connection: null, kind: "principal", fields }));
    });
  }
  return (
    <Modal title="New principal" subtitle="Queued at once; it reaches the server with the next sync." onClose={props.onClose} testId="principal-dialog">
      <form class="modal-body form" onSubmit={submit} novalidate>
        <General message={f.general} />
        <div class="field">
          <span class="label">Kind</span>
          <div class="radio-cards radio-cards-3" role="radiogroup" aria-label="Kind">
            {PRINCIPAL_KINDS.map((k) => (
              <label class={`radio-card${kind === k.kind ? " checked" : ""}`}>
                <input type="radio" name="p-kind" value={k.kind} checked={kind === k.kind} onChange={() => setKind(k.kind)} data-testid={`kind-${k.kind}`} />
                <span>
                  <strong>{k.label}</strong>
                  <span class="muted small">
                    {k.kind === "user" ? "A person who signs in" : k.kind === "service_user" ? "A machine account" : "An integration with its own keys"}
                  </span>
                </span>
              </label>
            ))}
          </div>
        </div>
        <TextField id="p-name" name="name" label="Name" value={name} onInput={setName} error={f.errors.name} placeholder="billing-service" mono autoFocus />
        <TextField id="p-description" name="description" label="Description" value={description} onInput={setDescription} error={f.errors.description} optional />
        {kind === "api_client" && (
          <TextField id="p-logo" name="logo" label="Logo URL" value={logo} onInput={setLogo} error={f.errors.logo} placeholder="https://…/logo.svg" mono optional />
        )}
        <div class="field">
          <span class="label">Groups</span>
          <GroupChecks groups={groups} chosen={chosen} onChange={setChosen} idPrefix="p-group" />
          <p class="hint">Its privileges come from the roles of its groups; keys work only with key:use.</p>
        </div>
        <label class="check">
          <input type="checkbox" checked={on} onChange={(e) => setOn((e.currentTarget as HTMLInputElement).checked)} /> Enabled
        </label>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={f.busy} data-testid="principal-confirm">
            {f.busy ? "Creating…" : "Create principal"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

type Where = "vault" | "showOnce" | "clipboard";

function PlacementChoice(props: { where: Where; onChange: (w: Where) => void }) {
  const opts: Array<{ w: Where; title: string; text: string }> = [
    { w: "vault", title: "Put it straight into my vault", text: "Bound to the server's host; the Requests screen can use it at once. Never shown." },
    { w: "showOnce", title: "Show it once", text: "Displayed here a single time, to hand over. Keywarden keeps no copy." },
    { w: "clipboard", title: "Copy to the clipboard", text: "Never shown; the clipboard is cleared after 30 s." },
  ];
  return (
    <div class="field">
      <span class="label">Where the key goes</span>
      <div class="radio-cards radio-cards-3" role="radiogroup" aria-label="Where the key goes">
        {opts.map((o) => (
          <label class={`radio-card${props.where === o.w ? " checked" : ""}`}>
            <input type="radio" name="placement" value={o.w} checked={props.where === o.w} onChange={() => props.onChange(o.w)} data-testid={`placement-${o.w}`} />
            <span>
              <strong>{o.title}</strong>
              <span class="muted small">{o.text}</span>
            </span>
          </label>
        ))}
      </div>
    </div>
  );
}

function placement(where: Where, secretName: string): KeyPlacement {
  if (where === "vault") return { to: "vault", secret_name: secretName, hosts: [] };
  return where === "clipboard" ? { to: "clipboard" } : { to: "showOnce" };
}

export function KeyDialog(props: { principal: AdminObject; onClose: () => void; onCreated: (k: AdminCreatedKey, where: Where) => void }) {
  const pname = str(props.principal, "name");
  const [name, setName] = useState("");
  const [environment, setEnvironment] = useState("live");
  const [description, setDescription] = useState("");
  const [scopes, setScopes] = useState("");
  const [readOnly, setReadOnly] = useState(false);
  const [prefixes, setPrefixes] = useState("");
  const [ips, setIps] = useState("");
  const [expires, setExpires] = useState("");
  const [where, setWhere] = useState<Where>("vault");
  const [secretName, setSecretName] = useState("");
  const [secretTouched, setSecretTouched] = useState(false);
  const f = useForm();
  useEffect(() => {
    if (!secretTouched) setSecretName(vaultSecretName(pname, name || "key"));
  }, [name, secretTouched]);
  function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!name.trim()) errs.name = "Give the key a name, e.g. ci or production.";
    if (!/^[a-z0-9]{1,16}$/.test(environment.trim())) errs.environment = "Lower-case letters and digits, e.g. live or test.";
    const expiresAt = expires ? dateInputToTimestamp(expires) : null;
    if (expires && expiresAt === null) errs.expires_at = "A date such as 2027-01-31.";
    if (where === "vault" && !secretName.trim()) errs.secret_name = "The name of the secret in your vault.";
    if (Object.keys(errs).length) return f.setErrors(errs);
    const fields: Record<string, unknown> = {
      name: name.trim(),
      description: description.trim(),
      environment: environment.trim(),
      scopes: splitList(scopes),
      read_only: readOnly,
      path_prefixes: splitList(prefixes),
      ip_allowlist: splitList(ips),
      enabled: true,
    };
    if (expiresAt !== null) fields.expires_at = expiresAt;
    void f.run(["name", "description", "environment", "scopes", "path_prefixes", "ip_allowlist", "expires_at", "secret_name"], async () => {
      const k = await api.adminCreateKey({ connection: null, principalId: props.principal.id, fields, placement: placement(where, secretName.trim()) });
      props.onCreated(k, where);
    });
  }
  return (
    <Modal
      title={`New key for ${pname}`}
      subtitle="Generated on this machine; only its digest goes to the server."
      onClose={props.onClose}
      size="lg"
      testId="key-dialog"
    >
      <form class="modal-body form" onSubmit={submit} novalidate>
        <div class="form-scroll">
          <General message={f.general} />
          <div class="field-row">
            <TextField id="k-name" name="name" label="Name" value={name} onInput={setName} error={f.errors.name} placeholder="ci" mono autoFocus />
            <TextField id="k-env" name="environment" label="Environment" value={environment} onInput={setEnvironment} error={f.errors.environment} mono list="k-env-options" hint="Part of the key text: kw_live_…" />
            <datalist id="k-env-options">
              <option value="live" />
              <option value="test" />
            </datalist>
          </div>
          <TextField id="k-description" name="description" label="Description" value={description} onInput={setDescription} error={f.errors.description} optional />
          <div class="field-row">
            <TextField id="k-scopes" name="scopes" label="Scopes" value={scopes} onInput={setScopes} error={f.errors.scopes} placeholder="invoices:read, invoices:write" mono optional hint="Empty: all of the principal's privileges." />
            <TextField id="k-expires" name="expires" label="Expires" type="date" value={expires} onInput={setExpires} error={f.errors.expires_at} optional />
          </div>
          <div class="field-row">
            <TextField id="k-prefixes" name="path_prefixes" label="Path prefixes" value={prefixes} onInput={setPrefixes} error={f.errors.path_prefixes} placeholder="/v1/invoices, =/v1/health" mono optional hint="Empty: any path." />
            <TextField id="k-ips" name="ip_allowlist" label="IP allowlist" value={ips} onInput={setIps} error={f.errors.ip_allowlist} placeholder="10.0.0.0/8, 192.0.2.7" mono optional hint="Empty: any address." />
          </div>
          <label class="check">
            <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly((e.currentTarget as HTMLInputElement).checked)} data-testid="k-readonly" /> Read-only
            <span class="muted small">(GET, HEAD and OPTIONS only)</span>
          </label>
          <PlacementChoice where={where} onChange={setWhere} />
          {where === "vault" && (
            <TextField
              id="k-secret"
              name="secret_name"
              label="Secret name in the vault"
              value={secretName}
              onInput={(v) => (setSecretTouched(true), setSecretName(v))}
              error={f.errors.secret_name}
              mono
            />
          )}
        </div>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={f.busy} data-testid="key-confirm">
            {f.busy ? "Generating…" : "Create key"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

export function RotateKeyDialog(props: { keyObj: AdminObject; onClose: () => void; onRotated: (k: AdminCreatedKey) => void }) {
  const [grace, setGrace] = useState<number | null>(86400);
  const f = useForm();
  function submit(e: Event) {
    e.preventDefault();
    void f.run([], async () => {
      props.onRotated(await api.adminRotateKey({ connection: null, id: props.keyObj.id, graceSeconds: grace, placement: { to: "showOnce" } }));
    });
  }
  return (
    <Modal title={`Rotate ${str(props.keyObj, "name")}`} subtitle="A new key replaces this one." onClose={props.onClose} size="sm" testId="rotate-key-dialog">
      <form class="modal-body form" onSubmit={submit}>
        <General message={f.general} />
        <div class="field">
          <label for="r-grace">Grace period for the old key</label>
          <select id="r-grace" class="input" value={grace === null ? "" : String(grace)} onChange={(e) => {
            const v = (e.currentTarget as HTMLSelectElement).value;
            setGrace(v === "" ? null : Number(v));
          }}>
            {GRACE_CHOICES.map((g) => (
              <option value={g.seconds === null ? "" : String(g.seconds)}>{g.label}</option>
            ))}
          </select>
          <p class="hint">A vault copy of the key is replaced once the server has the new key; otherwise the new key is shown once.</p>
        </div>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose} autoFocus>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={f.busy} data-testid="rotate-key-confirm">
            {f.busy ? "Rotating…" : "Rotate"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** The key, shown this one time. Copy writes the clipboard and clears it after 30 s. */
export function ShowOnceDialog(props: { keyText: string; name: string; onClose: () => void; onToast: (t: string) => void }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      const receipt = await api.copyText({ text: props.keyText });
      setCopied(true);
      props.onToast(`Key copied. The clipboard clears in ${receipt.clearsAfterSeconds} s.`);
    } catch {
      props.onToast("The clipboard is not available: select the key and copy it by hand.");
    }
  }
  return (
    <Modal title="Your new key" subtitle={`${props.name}: shown this once. Keywarden keeps no copy.`} onClose={props.onClose} size="md" tone="danger" testId="show-once">
      <div class="modal-body form">
        <div class="callout callout-muted">Store it now. After you close this, nobody can see it again: not you, not the server.</div>
        <code class="show-once-key mono" data-testid="show-once-key" onClick={(e) => window.getSelection()?.selectAllChildren(e.currentTarget as Node)}>
          {props.keyText}
        </code>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={copy} data-testid="show-once-copy">
            <CopyIcon size={14} /> {copied ? "Copied" : "Copy"}
          </button>
          <button type="button" class="btn btn-primary" onClick={props.onClose} data-testid="show-once-done">
            I have stored it
          </button>
        </footer>
      </div>
    </Modal>
  );
}

export function EditPrincipalDialog(props: { principal: AdminObject; onClose: () => void; onSaved: (p: AdminObject) => void }) {
  const p = props.principal;
  const [description, setDescription] = useState(str(p, "description"));
  const [logo, setLogo] = useState(str(p, "logo"));
  const f = useForm();
  function submit(e: Event) {
    e.preventDefault();
    void f.run(["description", "logo"], async () => {
      const patch: Record<string, unknown> = { description: description.trim() };
      if (p.body.kind === "api_client") patch.logo = logo.trim() || null;
      props.onSaved(await api.adminUpdate({ connection: null, kind: "principal", id: p.id, patch }));
    });
  }
  return (
    <Modal
      title={`Edit ${str(p, "name")}`}
      subtitle="Sent with the version you see: a change made meanwhile on the server becomes a conflict to resolve, never an overwrite."
      onClose={props.onClose}
      size="sm"
      testId="edit-principal-dialog"
    >
      <form class="modal-body form" onSubmit={submit} novalidate>
        <General message={f.general} />
        <TextField id="e-description" name="description" label="Description" value={description} onInput={setDescription} error={f.errors.description} autoFocus />
        {p.body.kind === "api_client" && (
          <TextField id="e-logo" name="logo" label="Logo URL" value={logo} onInput={setLogo} error={f.errors.logo} mono optional />
        )}
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={f.busy} data-testid="edit-principal-confirm">
            {f.busy ? "Saving…" : "Save"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
