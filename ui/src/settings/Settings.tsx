// Settings: where values are kept, the theme, the keyboard shortcuts.

import { useState } from "preact/hooks";
import { api, fieldKey } from "../ipc/api";
import type { BackendKind, IpcError, VaultStatus } from "../ipc/bindings";
import { DiskIcon, KeyIcon } from "../components/icons";
import { FieldError } from "../components/modal";
import { healthLabel } from "../lib/format";
import type { ThemePref } from "../lib/theme";
import { SHORTCUTS } from "../shortcuts";

export function Settings(props: {
  status: VaultStatus | null;
  theme: ThemePref;
  onTheme: (t: ThemePref) => void;
  onStatus: (s: VaultStatus) => void;
}) {
  const s = props.status;
  const [choice, setChoice] = useState<BackendKind | null>(null);
  const [pass, setPass] = useState("");
  const [pass2, setPass2] = useState("");
  const [errors, setErrors] = useState<{ passphrase?: string; confirm?: string; general?: string }>({});
  const [busy, setBusy] = useState(false);
  const selected = choice ?? s?.backend ?? "keychain";
  const changing = s !== null && selected !== s.backend;

  async function apply(e: Event) {
    e.preventDefault();
    if (!changing || busy) return;
    if (selected === "file") {
      if (pass.length < 8) return setErrors({ passphrase: "Use at least 8 characters; a few unrelated words work well." });
      if (pass !== pass2) return setErrors({ confirm: "The two passphrases differ." });
    }
    setBusy(true);
    setErrors({});
    try {
      const st = await api.chooseBackend({ backend: selected, passphrase: selected === "file" ? { passphrase: pass } : null });
      setPass("");
      setPass2("");
      setChoice(null);
      props.onStatus(st);
    } catch (err) {
      const ie = err as IpcError;
      setErrors(fieldKey(ie.field) === "passphrase" ? { passphrase: ie.message } : { general: ie.message });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="screen settings">
      <header class="screen-head">
        <div class="screen-title">
          <h1>Settings</h1>
        </div>
      </header>
      <div class="settings-body">
        <section class="card">
          <h2>Where secret values are kept</h2>
          {s && (
            <p class="muted">
              Now: <strong>{s.backendLabel}</strong> · {s.persistent ? "survives reboot" : "lost at reboot"} · {healthLabel(s.health)}
              <br />
              <code class="small">{s.location}</code>
            </p>
          )}
          <form onSubmit={apply} class="form">
            <div class="radio-cards" role="radiogroup" aria-label="Storage backend">
              <label class={`radio-card${selected === "keychain" ? " checked" : ""}`}>
                <input type="radio" name="backend" value="keychain" checked={selected === "keychain"} onChange={() => setChoice("keychain")} />
                <KeyIcon size={18} />
                <span>
                  <strong>OS keychain</strong>
                  <span class="muted small">Secret Service, macOS Keychain or Windows Credential Manager. Recommended.</span>
                </span>
              </label>
              <label class={`radio-card${selected === "file" ? " checked" : ""}`}>
                <input type="radio" name="backend" value="file" checked={selected === "file"} onChange={() => setChoice("file")} />
                <DiskIcon size={18} />
                <span>
                  <strong>Encrypted vault file</strong>
                  <span class="muted small">For machines without a keychain (headless Linux, WSL). Argon2id + XChaCha20-Poly1305, unlocked with a passphrase.</span>
                </span>
              </label>
            </div>
            {changing && selected === "file" && (
              <div class="field-row">
                <div class="field">
                  <label for="s-pass">New passphrase</label>
                  <input id="s-pass" type="password" class="input" value={pass} autocomplete="off" aria-invalid={errors.passphrase ? true : undefined} onInput={(e) => setPass((e.currentTarget as HTMLInputElement).value)} />
                  <FieldError id="s-pass-err" message={errors.passphrase} />
                </div>
                <div class="field">
                  <label for="s-pass2">Repeat passphrase</label>
                  <input id="s-pass2" type="password" class="input" value={pass2} autocomplete="off" aria-invalid={errors.confirm ? true : undefined} onInput={(e) => setPass2((e.currentTarget as HTMLInputElement).value)} />
                  <FieldError id="s-pass2-err" message={errors.confirm} />
                </div>
              </div>
            )}
            {errors.general && (
              <div class="callout callout-danger" role="alert">
                {errors.general}
              </div>
            )}
            {changing && (
              <div class="row-end">
                <p class="muted small">The store can be changed while the vault holds no secrets.</p>
                <button type="button" class="btn" onClick={() => (setChoice(null), setErrors({}))}>
                  Cancel
                </button>
                <button type="submit" class="btn btn-primary" disabled={busy}>
                  {busy ? "Switching…" : "Switch store"}
                </button>
              </div>
            )}
          </form>
        </section>

        <section class="card">
          <h2>Appearance</h2>
          <div class="segmented" role="radiogroup" aria-label="Theme">
            {(["system", "light", "dark"] as const).map((t) => (
              <button type="button" role="radio" aria-checked={props.theme === t} class={props.theme === t ? "on" : ""} onClick={() => props.onTheme(t)}>
                {t === "system" ? "Follow system" : t === "light" ? "Light" : "Dark"}
              </button>
            ))}
          </div>
        </section>

        <section class="card">
          <h2>Keyboard shortcuts</h2>
          <ShortcutTable />
        </section>

        {s && (
          <section class="card">
            <h2>About</h2>
            <p class="muted small">
              Data directory: <code>{s.dataDir}</code>
              <br />
              Names, details and fingerprints live in a local database there; values only in the store above.
            </p>
          </section>
        )}
      </div>
    </div>
  );
}

export function ShortcutTable() {
  return (
    <table class="shortcuts">
      <tbody>
        {SHORTCUTS.map(([keys, what]) => (
          <tr>
            <td>
              {keys.split(" / ").map((k, i) => (
                <>
                  {i > 0 && <span class="muted"> or </span>}
                  {k.split("+").map((p, j) => (
                    <>
                      {j > 0 && "+"}
                      <kbd>{p}</kbd>
                    </>
                  ))}
                </>
              ))}
            </td>
            <td>{what}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
