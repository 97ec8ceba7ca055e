// Small dialogs of the Requests screen: save into a collection, and confirmations.

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { IpcError, RequestSpec, SavedRequest } from "../ipc/bindings";
import { Modal } from "../components/modal";
import { TextField } from "../vault/fields";

export function SaveDialog(props: {
  spec: RequestSpec;
  collections: string[];
  initial: { collection: string; name: string };
  onClose: () => void;
  onSaved: (s: SavedRequest) => void;
}) {
  const [collection, setCollection] = useState(props.initial.collection);
  const [name, setName] = useState(props.initial.name);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    if (!name.trim()) {
      setErrors({ name: "Give the request a name, e.g. List invoices." });
      return;
    }
    setBusy(true);
    setErrors({});
    setGeneral(null);
    try {
      props.onSaved(await api.saveRequest({ collection: collection.trim() || "Default", name: name.trim(), spec: props.spec }));
    } catch (err) {
      const x = err as IpcError;
      const k = fieldKey(x.field);
      if (k === "name" || k === "collection") setErrors({ [k]: x.message });
      else setGeneral(x.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal title="Save request" subtitle="Saved as templates: secret values are never stored with it." onClose={props.onClose} size="sm" testId="save-dialog">
      <form class="modal-body form" onSubmit={submit} novalidate>
        {general && (
          <div class="callout callout-danger" role="alert">
            {general}
          </div>
        )}
        <TextField id="s-name" name="name" label="Name" value={name} onInput={setName} error={errors.name} placeholder="List invoices" autoFocus />
        <TextField
          id="s-collection"
          name="collection"
          label="Collection"
          value={collection}
          onInput={setCollection}
          error={errors.collection}
          placeholder="Default"
          list="collection-options"
          hint="A request with the same name in the same collection is replaced."
        />
        <datalist id="collection-options">
          {props.collections.map((c) => (
            <option value={c} />
          ))}
        </datalist>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy} data-testid="save-request-confirm">
            {busy ? "Saving…" : "Save"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** A yes/no question whose "yes" runs an IPC call; the error stays in the dialog. */
export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirm: string;
  busyLabel: string;
  tone?: "danger" | "warn";
  testId: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function go(e: Event) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
    } catch (err) {
      setError((err as IpcError).message);
      setBusy(false);
    }
  }
  return (
    <Modal title={props.title} onClose={props.onClose} size="sm" {...(props.tone === "danger" ? { tone: "danger" as const } : {})} testId={props.testId}>
      <form class="modal-body" onSubmit={go}>
        <div class="lead">{props.children}</div>
        {error && (
          <div class="callout callout-danger" role="alert">
            {error}
          </div>
        )}
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose} autoFocus>
            Cancel
          </button>
          <button type="submit" class={`btn ${props.tone === "danger" ? "btn-danger" : "btn-primary"}`} disabled={busy} data-testid={`${props.testId}-confirm`}>
            {busy ? props.busyLabel : props.confirm}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
