// "Manage environments": named environments with variables for ${env.NAME}, an optional query
// parameter that names the environment on every request (`_profile=Test`), and a production flag.

import { useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { Environment, IpcError, KeyValue } from "../ipc/bindings";
import { PlusIcon, TrashIcon } from "../components/icons";
import { Modal } from "../components/modal";
import { envTone } from "../lib/format";
import { TextField } from "../vault/fields";
import { KeyValueEditor } from "./KeyValueEditor";
import { usedRows } from "./model";

type Draft = { name: string; production: boolean; variables: KeyValue[]; qpName: string; qpValue: string };

function toDraft(e: Environment | null): Draft {
  return {
    name: e?.name ?? "",
    production: e?.production ?? false,
    variables: Object.entries(e?.variables ?? {}).map(([name, value]) => ({ name, value: value ?? "", enabled: true })),
    qpName: e?.queryParam?.name ?? "",
    qpValue: e?.queryParam?.value ?? "",
  };
}

export function EnvironmentsDialog(props: {
  environments: Environment[];
  initial?: string | null;
  onChanged: (list: Environment[]) => void;
  onUse: (name: string) => void;
  onClose: () => void;
}) {
  const first = props.environments.find((e) => e.name === props.initial) ?? props.environments[0] ?? null;
  const [editing, setEditing] = useState<string | null>(first?.name ?? null);
  const [draft, setDraft] = useState<Draft>(() => toDraft(first));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);

  const open = (e: Environment | null) => {
    setEditing(e?.name ?? null);
    setDraft(toDraft(e));
    setErrors({});
    setGeneral(null);
    setConfirmDelete(false);
  };
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));

  async function save(ev: Event) {
    ev.preventDefault();
    if (busy) return;
    const local: Record<string, string> = {};
    if (!draft.name.trim()) local.name = "Give the environment a name, e.g. Test or Production.";
    const rows = usedRows(draft.variables);
    const names = rows.map((r) => r.name.trim());
    if (names.some((n) => !n)) local.variables = "Every variable needs a name.";
    else if (new Set(names).size !== names.length) local.variables = "Two variables have the same name.";
    if (draft.qpValue.trim() && !draft.qpName.trim()) local.queryparam = "Name the query parameter, e.g. _profile.";
    setErrors(local);
    setGeneral(null);
    if (Object.keys(local).length) return;
    const env: Environment = {
      name: draft.name.trim(),
      production: draft.production,
      variables: Object.fromEntries(rows.map((r) => [r.name.trim(), r.value])),
      queryParam: draft.qpName.trim() ? { name: draft.qpName.trim(), value: draft.qpValue } : null,
    };
    setBusy(true);
    try {
      let list = await api.saveEnvironment(env);
      if (editing && editing !== env.name) list = await api.deleteEnvironment({ name: editing });
      props.onChanged(list);
      setEditing(env.name);
    } catch (err) {
      const e = err as IpcError;
      const key = fieldKey(e.field);
      if (key === "name" || key === "variables") setErrors({ [key]: e.message });
      else setGeneral(e.message);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!editing || busy) return;
    setBusy(true);
    try {
      const list = await api.deleteEnvironment({ name: editing });
      props.onChanged(list);
      open(list[0] ?? null);
    } catch (err) {
      setGeneral((err as IpcError).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal title="Environments" subtitle="Variables for ${env.NAME}, and the query parameter that names the environment." onClose={props.onClose} size="lg" testId="environments-dialog">
      <div class="manager">
        <aside class="manager-list" aria-label="Environments">
          <button type="button" class={`manager-item manager-new${editing === null ? " selected" : ""}`} onClick={() => open(null)} data-testid="new-environment">
            <PlusIcon size={14} /> New environment
          </button>
          {props.environments.map((e) => (
            <button type="button" class={`manager-item${editing === e.name ? " selected" : ""}`} onClick={() => open(e)} data-testid="environment-item" data-name={e.name}>
              <span class="manager-name">
                {e.name} {e.production && <span class="chip chip-sm chip-env env-prod">production</span>}
              </span>
              <span class="manager-meta">
                {Object.keys(e.variables).length} variable{Object.keys(e.variables).length === 1 ? "" : "s"}
                {e.queryParam ? ` · ?${e.queryParam.name}=${e.queryParam.value}` : ""}
              </span>
            </button>
          ))}
          {props.environments.length === 0 && <p class="manager-empty muted small">No environments yet.</p>}
        </aside>
        <form class="manager-form form" onSubmit={save} novalidate data-testid="environment-form">
          {general && (
            <div class="callout callout-danger" role="alert">
              {general}
            </div>
          )}
          <div class="field-row">
            <TextField id="e-name" name="name" label="Name" value={draft.name} onInput={(v) => set({ name: v })} error={errors.name} placeholder="Test" autoFocus={editing === null} />
            <div class="field field-end">
              <label class="check">
                <input type="checkbox" checked={draft.production} onChange={(e) => set({ production: (e.currentTarget as HTMLInputElement).checked })} data-testid="env-production" />
                <span>
                  Production{" "}
                  {draft.name.trim() && <span class={`chip chip-sm chip-env env-${draft.production ? "prod" : envTone(draft.name)}`}>{draft.name.trim()}</span>}
                </span>
              </label>
              <p class="hint">Test keys sent here are flagged before sending.</p>
            </div>
          </div>
          <div class="field">
            <span class="field-label">Variables</span>
            <KeyValueEditor
              rows={draft.variables}
              onChange={(variables) => set({ variables })}
              label="Variable"
              namePlaceholder="Add a variable, e.g. host"
              valuePlaceholder="api.test.billing.example"
              noToggle
              plain
              idPrefix="e-var"
              testId="env-variables"
            />
            {errors.variables ? <p class="field-error">{errors.variables}</p> : <p class="hint">Stored in clear in the local database: hosts, tenant ids. Secrets belong in the Vault as ${"{secret.NAME}"}.</p>}
          </div>
          <div class="field">
            <span class="field-label">
              Environment query parameter <span class="optional">optional</span>
            </span>
            <div class="qp-row">
              <input class="input mono" value={draft.qpName} placeholder="_profile" aria-label="Query parameter name" onInput={(e) => set({ qpName: (e.currentTarget as HTMLInputElement).value })} />
              <span class="qp-eq">=</span>
              <input class="input mono" value={draft.qpValue} placeholder="Test" aria-label="Query parameter value" onInput={(e) => set({ qpValue: (e.currentTarget as HTMLInputElement).value })} />
            </div>
            {errors.queryparam ? <p class="field-error">{errors.queryparam}</p> : <p class="hint">Added to every request in this environment, e.g. ?_profile=Test for APIs that pick the target environment by parameter.</p>}
          </div>
          <footer class="modal-foot">
            {editing &&
              (confirmDelete ? (
                <span class="confirm-inline" role="alert">
                  Delete {editing}?
                  <button type="button" class="btn btn-sm btn-danger" onClick={remove} disabled={busy}>
                    Delete
                  </button>
                  <button type="button" class="btn btn-sm" onClick={() => setConfirmDelete(false)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button type="button" class="btn btn-ghost-danger" onClick={() => setConfirmDelete(true)}>
                  <TrashIcon size={14} /> Delete
                </button>
              ))}
            <span class="spacer" />
            {editing && editing === draft.name && (
              <button type="button" class="btn" onClick={() => (props.onUse(editing), props.onClose())}>
                Use in request
              </button>
            )}
            <button type="submit" class="btn btn-primary" disabled={busy} data-testid="save-environment">
              {busy ? "Saving…" : editing ? "Save changes" : "Create environment"}
            </button>
          </footer>
        </form>
      </div>
    </Modal>
  );
}
