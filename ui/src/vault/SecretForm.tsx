// The create and edit dialogs. Create asks for the value; edit changes metadata only
// (a new value is a rotation, see RotateDialog).

import { useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { IpcError, SecretSummary } from "../ipc/bindings";
import { Modal } from "../components/modal";
import { dateInputToTimestamp, splitList, timestampToDateInput } from "../lib/format";
import { SecretValueInput, TextField } from "./fields";

const ENVIRONMENTS = ["production", "staging", "development", "test"];

type Errors = Record<string, string>;

function errorsFrom(e: IpcError): { fields: Errors; general: string | null } {
  const key = fieldKey(e.field);
  const known = ["name", "value", "description", "tags", "environment", "expiresat", "allowedhosts"];
  if (key && known.includes(key)) return { fields: { [key]: e.message }, general: null };
  return { fields: {}, general: e.message };
}

export function SecretForm(props: {
  mode: "create" | "edit";
  secret?: SecretSummary;
  onClose: () => void;
  onSaved: (s: SecretSummary) => void;
}) {
  const s = props.secret;
  const [name, setName] = useState(s?.name ?? "");
  const [value, setValue] = useState("");
  const [description, setDescription] = useState(s?.description ?? "");
  const [environment, setEnvironment] = useState(s?.environment ?? "");
  const [tags, setTags] = useState((s?.tags ?? []).join(", "));
  const [expires, setExpires] = useState(timestampToDateInput(s?.expiresAt ?? null));
  const [hosts, setHosts] = useState((s?.allowedHosts ?? []).join(", "));
  const [enabled, setEnabled] = useState(true);
  const [errors, setErrors] = useState<Errors>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const tagList = splitList(tags);
  const hostList = splitList(hosts);

  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    const local: Errors = {};
    if (!name.trim()) local.name = "Give the secret a name, e.g. billing_api.";
    if (props.mode === "create" && value.length === 0) local.value = "Paste or type the secret value.";
    if (expires && dateInputToTimestamp(expires) === null) local.expiresat = "Use a date such as 2026-12-31.";
    setErrors(local);
    setGeneral(null);
    if (Object.keys(local).length) return;
    setBusy(true);
    const common = {
      name: name.trim(),
      description: description.trim(),
      tags: tagList,
      environment: environment.trim() || null,
      expiresAt: dateInputToTimestamp(expires),
      allowedHosts: hostList,
    };
    try {
      const saved =
        props.mode === "create"
          ? await api.createSecret({ ...common, enabled, value })
          : await api.updateSecret({ ...common, id: s!.id });
      setValue("");
      props.onSaved(saved);
    } catch (err) {
      const { fields, general } = errorsFrom(err as IpcError);
      setErrors(fields);
      setGeneral(general);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      title={props.mode === "create" ? "New secret" : `Edit ${s?.name ?? ""}`}
      subtitle={
        props.mode === "create"
          ? "The value goes straight to the keychain; Keywarden keeps only its fingerprint."
          : "Changes the details only. To change the value, use Rotate value."
      }
      onClose={props.onClose}
      testId="secret-form"
    >
      <form class="modal-body form" onSubmit={submit} novalidate>
        {general && (
          <div class="callout callout-danger" role="alert" data-testid="form-error">
            {general}
          </div>
        )}
        <TextField
          id="f-name"
          name="name"
          label="Name"
          value={name}
          onInput={setName}
          error={errors.name}
          placeholder="billing_api"
          hint="Letters, digits, . - and _. Templates use it as ${secret.NAME}."
          mono
          autoFocus={props.mode === "create"}
        />
        {props.mode === "create" && (
          <SecretValueInput
            id="f-value"
            label="Value"
            value={value}
            onInput={setValue}
            error={errors.value}
            hint="Masked while you type; multi-line values (PEM, JSON) are fine. Ctrl+Enter saves."
          />
        )}
        <TextField
          id="f-description"
          name="description"
          label="Description"
          value={description}
          onInput={setDescription}
          error={errors.description}
          placeholder="What this key is for and who issued it"
          optional
        />
        <div class="field-row">
          <TextField
            id="f-environment"
            name="environment"
            label="Environment"
            value={environment}
            onInput={setEnvironment}
            error={errors.environment}
            placeholder="production"
            list="env-options"
            optional
          />
          <TextField
            id="f-expires"
            name="expiresAt"
            label="Expires"
            type="date"
            value={expires}
            onInput={setExpires}
            error={errors.expiresat}
            optional
          />
        </div>
        <datalist id="env-options">
          {ENVIRONMENTS.map((e) => (
            <option value={e} />
          ))}
        </datalist>
        <div class="field-row">
          <TextField
            id="f-tags"
            name="tags"
            label="Tags"
            value={tags}
            onInput={setTags}
            error={errors.tags}
            placeholder="billing, stripe"
            hint="Separate with commas or spaces."
            optional
          />
          <TextField
            id="f-hosts"
            name="allowedHosts"
            label="Allowed hosts"
            value={hosts}
            onInput={setHosts}
            error={errors.allowedhosts}
            placeholder="api.stripe.com"
            hint="Sent nowhere else. Empty: any host."
            mono
            optional
          />
        </div>
        {tagList.length > 0 && (
          <div class="chips chips-preview" aria-label="Tags preview">
            {tagList.map((t) => (
              <span class="chip">{t}</span>
            ))}
          </div>
        )}
        {props.mode === "create" && (
          <label class="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled((e.currentTarget as HTMLInputElement).checked)} />
            <span>Enabled — usable in requests as soon as it is saved</span>
          </label>
        )}
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="save-secret">
            {busy ? "Saving…" : props.mode === "create" ? "Save secret" : "Save changes"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
