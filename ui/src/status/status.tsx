// The status bar, the banner shown when the store cannot be used, and the unlock dialog.

import { useState } from "preact/hooks";
import { api } from "../ipc/api";
import type { IpcError, VaultStatus } from "../ipc/bindings";
import { AlertIcon, ClockIcon, DiskIcon, KeyIcon, LockIcon } from "../components/icons";
import { FieldError, Modal } from "../components/modal";
import { healthLabel, plural, sentence } from "../lib/format";

export function StatusBar(props: { status: VaultStatus | null; checking: boolean; clipboardLeft: number; error: string | null }) {
  const s = props.status;
  return (
    <footer class="statusbar" data-testid="status-bar" aria-label="Vault status">
      {props.error && (
        <span class="sb-item text-danger">
          <AlertIcon size={13} /> {props.error}
        </span>
      )}
      {s && (
        <>
          <span class="sb-item" title={s.location} data-testid="status-backend">
            {s.backend === "keychain" ? <KeyIcon size={13} /> : <DiskIcon size={13} />}
            {s.backendLabel}
          </span>
          {s.health !== "unavailable" && (
            <span
              class={`sb-item ${s.persistent ? "" : "text-warn"}`}
              data-testid="status-persistence"
              title={s.persistent ? "Values are kept on disk by the store and survive a reboot." : "Values are lost when the machine restarts."}
            >
              {s.persistent ? "Survives reboot" : "Lost at reboot"}
            </span>
          )}
          <span class={`sb-item health health-${props.checking ? "checking" : s.health}`} data-testid="status-health" title={s.message ?? undefined}>
            <span class="health-dot" aria-hidden="true" />
            {props.checking ? "Checking the store…" : healthLabel(s.health)}
          </span>
          {s.pendingRepairs > 0 && (
            <span class="sb-item text-warn" title="Secrets left half-written by an interruption; repaired at the next start.">
              {plural(s.pendingRepairs, "repair")} pending
            </span>
          )}
        </>
      )}
      <span class="spacer" />
      {props.clipboardLeft > 0 && (
        <span class="sb-item sb-clip" data-testid="clipboard-countdown" aria-live="polite">
          <ClockIcon size={13} /> Clipboard clears in {props.clipboardLeft} s
        </span>
      )}
      {s && <span class="sb-item muted">{plural(s.secretCount, "secret")}</span>}
    </footer>
  );
}

export function StatusBanner(props: {
  status: VaultStatus;
  checking: boolean;
  onRetry: () => void;
  onUnlock: () => void;
  onSettings: () => void;
}) {
  const s = props.status;
  if (s.health === "ok" || s.health === "untested") return null;
  const fileLocked = s.backend === "file" && s.health === "locked";
  const title = fileLocked
    ? "The vault file is locked"
    : s.health === "locked"
      ? "The keychain is locked"
      : s.backend === "keychain"
        ? "No keychain available"
        : "The vault file cannot be used";
  const fallback = fileLocked
    ? "Enter the passphrase of the vault file to read and change secret values."
    : s.health === "locked"
      ? "Unlock your login keyring (for example by logging in to the desktop session), then try again."
      : "Keywarden could not reach a keychain, and it never falls back silently to a store that forgets. Start a Secret Service (such as GNOME Keyring), or switch to an encrypted vault file in Settings.";
  return (
    <div class={`banner banner-${s.health === "locked" ? "warn" : "danger"}`} role="alert" data-testid="status-banner">
      {s.health === "locked" ? <LockIcon size={18} /> : <AlertIcon size={18} />}
      <div class="banner-text">
        <strong>{title}</strong>
        <p>{s.message ? sentence(s.message) : fallback}</p>
      </div>
      <div class="banner-actions">
        {fileLocked ? (
          <button type="button" class="btn btn-primary btn-sm" onClick={props.onUnlock} data-testid="unlock-button">
            <LockIcon size={14} /> Unlock…
          </button>
        ) : (
          <>
            <button type="button" class="btn btn-sm" onClick={props.onRetry} disabled={props.checking}>
              {props.checking ? "Checking…" : "Try again"}
            </button>
            {s.backend === "keychain" && s.secretCount === 0 && (
              <button type="button" class="btn btn-sm" onClick={props.onSettings}>
                Use a vault file…
              </button>
            )}
          </>
        )}
      </div>
    </div>
  );
}

export function UnlockDialog(props: { onClose: () => void; onUnlocked: (s: VaultStatus) => void; location: string }) {
  const [pass, setPass] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    if (busy) return;
    if (!pass) {
      setError("Enter the passphrase.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const s = await api.unlockVault({ passphrase: pass });
      setPass("");
      props.onUnlocked(s);
    } catch (err) {
      setError((err as IpcError).message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal title="Unlock the vault file" subtitle={props.location} onClose={props.onClose} size="sm" testId="unlock-dialog">
      <form class="modal-body form" onSubmit={submit} novalidate>
        <div class="field">
          <label for="u-pass">Passphrase</label>
          <input
            id="u-pass"
            type="password"
            class="input"
            value={pass}
            autoFocus
            autocomplete="off"
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "u-pass-err" : undefined}
            onInput={(e) => setPass((e.currentTarget as HTMLInputElement).value)}
          />
          <FieldError id="u-pass-err" message={error} />
        </div>
        <footer class="modal-foot">
          <button type="button" class="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? "Unlocking…" : "Unlock"}
          </button>
        </footer>
      </form>
    </Modal>
  );
}

