// Rotate value and delete confirmation.

import { useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { IpcError, SecretSummary } from "../ipc/bindings";
import { Modal } from "../components/modal";
import { SecretValueInput } from "./fields";

export function RotateDialog(props: { secret: SecretSummary; onClose: () => void; onSaved: (s: SecretSummary) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    if (!value) {
      setError("Paste or type the new value.");
      return;
    }
    setBusy(true);
    setError(null);
    setGeneral(null);
    try {
      const saved = await api.replaceValue({ id: props.secret.id, value });
      setValue("");
      props.onSaved(saved);
    } catch (err) {
      const e = err as IpcError;
      if (fieldKey(e.field) === "value") setError(e.message);
      else setGeneral(e.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal
      title={`Rotate ${props.secret.name}`}
      subtitle="The new value replaces the current one in the keychain. The old value's fingerprint and dates stay in the history."
      onClose={props.onClose}
      testId="rotate-dialog"
    >
      <form class="modal-body form" onSubmit={submit} novalidate>
        {general && (
          <div class="callout callout-danger" role="alert">
            {general}
          </div>
        )}
        <SecretValueInput id="r-value" label="New value" value={value} onInput={setValue} error={error} autoFocus hint="Ctrl+Enter saves." />
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? "Rotating…" : "Rotate value"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

export function DeleteDialog(props: { secret: SecretSummary; onClose: () => void; onDeleted: () => void }) {
  const [general, setGeneral] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function confirm(e: Event) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setGeneral(null);
    try {
      await api.deleteSecret({ id: props.secret.id });
      props.onDeleted();
    } catch (err) {
      setGeneral((err as IpcError).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal title={`Delete ${props.secret.name}?`} onClose={props.onClose} size="sm" tone="danger" testId="delete-dialog">
      <form class="modal-body" onSubmit={confirm}>
        <p class="lead">
          The value is removed from the keychain and the secret from this vault, with its history. Requests that use{" "}
          <code>{"${secret." + props.secret.name + "}"}</code> will stop working. This cannot be undone.
        </p>
        {general && (
          <div class="callout callout-danger" role="alert">
            {general}
          </div>
        )}
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose} autoFocus>
            Cancel
          </button>
          <button type="submit" class="btn btn-danger" disabled={busy} data-testid="confirm-delete">
            {busy ? "Deleting…" : "Delete secret"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}
