// The window: navigation, theme, global shortcuts, status and notifications.

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./ipc/api";
import type { CopyReceipt, IpcError, VaultStatus } from "./ipc/bindings";
import { KeyboardIcon, MoonIcon, SendIcon, SettingsIcon, SunIcon, UsersIcon, VaultIcon } from "./components/icons";
import { Modal } from "./components/modal";
import { type Shortcut, shortcutFor } from "./lib/keys";
import { loadThemePref, nextThemePref, resolveTheme, saveThemePref, type ThemePref } from "./lib/theme";
import { Settings, ShortcutTable } from "./settings/Settings";
import { StatusBar, UnlockDialog } from "./status/status";
import { VaultScreen } from "./vault/VaultScreen";
import { RequestsScreen } from "./requests/RequestsScreen";
import { AdminScreen } from "./admin/AdminScreen";

type Route = "vault" | "requests" | "admin" | "settings";

const NAV: ReadonlyArray<{ route: Route; label: string; icon: () => preact.JSX.Element }> = [
  { route: "vault", label: "Vault", icon: () => <VaultIcon size={18} /> },
  { route: "requests", label: "Requests", icon: () => <SendIcon size={18} /> },
  { route: "admin", label: "Admin", icon: () => <UsersIcon size={18} /> },
  { route: "settings", label: "Settings", icon: () => <SettingsIcon size={18} /> },
];

function useSystemDark(): boolean {
  const mq = window.matchMedia("(prefers-color-scheme: dark)");
  const [dark, setDark] = useState(mq.matches);
  useEffect(() => {
    const on = () => setDark(mq.matches);
    mq.addEventListener("change", on);
    return () => mq.removeEventListener("change", on);
  }, []);
  return dark;
}

function isTextField(el: Element | null): boolean {
  if (!el) return false;
  const tag = el.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const t = (el as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit"].includes(t);
  }
  return (el as HTMLElement).isContentEditable;
}

export function App() {
  const [route, setRoute] = useState<Route>("vault");
  const [themePref, setThemePref] = useState<ThemePref>(() => loadThemePref(window.localStorage));
  const systemDark = useSystemDark();
  const theme = resolveTheme(themePref, systemDark);
  const [status, setStatus] = useState<VaultStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const [unlocking, setUnlocking] = useState(false);
  const [help, setHelp] = useState(false);
  const [toast, setToast] = useState<{ text: string; id: number } | null>(null);
  const [clipUntil, setClipUntil] = useState(0);
  const [clipLeft, setClipLeft] = useState(0);
  const shortcutHandler = useRef<((s: Shortcut) => boolean) | null>(null);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  const setTheme = (t: ThemePref) => {
    setThemePref(t);
    saveThemePref(window.localStorage, t);
  };

  const refreshStatus = () =>
    api
      .status()
      .then((s) => (setStatus(s), setStatusError(null)))
      .catch((e: IpcError) => setStatusError(e.message));

  const runSelfTest = async () => {
    setChecking(true);
    try {
      setStatus(await api.selfTest());
      setStatusError(null);
    } catch (e) {
      setStatusError((e as IpcError).message);
    } finally {
      setChecking(false);
    }
  };

  // First the cheap status, then the keychain round trip, so the status bar tells the truth early.
  useEffect(() => {
    void refreshStatus().then(runSelfTest);
  }, []);

  useEffect(() => {
    if (!toast) return;
    const t = window.setTimeout(() => setToast(null), 4500);
    return () => window.clearTimeout(t);
  }, [toast]);

  useEffect(() => {
    if (clipUntil <= Date.now()) return;
    const tick = () => {
      const left = Math.ceil((clipUntil - Date.now()) / 1000);
      setClipLeft(Math.max(0, left));
    };
    tick();
    const t = window.setInterval(tick, 500);
    return () => window.clearInterval(t);
  }, [clipUntil]);

  const showToast = (text: string) => setToast({ text, id: Date.now() });
  const onCopied = (r: CopyReceipt, name: string) => {
    setClipUntil(Date.now() + r.clearsAfterSeconds * 1000);
    showToast(`Copied ${name}. The clipboard clears in ${r.clearsAfterSeconds} s.`);
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (document.querySelector("dialog[open]")) return;
      const sc = shortcutFor({
        key: e.key,
        ctrlKey: e.ctrlKey,
        metaKey: e.metaKey,
        altKey: e.altKey,
        shiftKey: e.shiftKey,
        inTextField: isTextField(document.activeElement),
      });
      if (!sc) return;
      if (sc === "help") {
        e.preventDefault();
        setHelp(true);
        return;
      }
      if (sc === "theme") {
        e.preventDefault();
        setTheme(nextThemePref(themePref, systemDark));
        return;
      }
      // The Vault, Requests and Admin screens handle search and new themselves; elsewhere they lead to the Vault.
      const handles = route === "vault" || route === "requests" || route === "admin";
      if ((sc === "search" || sc === "new") && !handles) setRoute("vault");
      // Give the Vault screen a frame to mount before it handles the shortcut.
      const handle = () => shortcutHandler.current?.(sc);
      if (!handles) {
        e.preventDefault();
        requestAnimationFrame(() => requestAnimationFrame(handle));
      } else if (handle()) {
        e.preventDefault();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [route, themePref, systemDark]);

  return (
    <div class="shell">
      <nav class="sidebar" aria-label="Main">
        <div class="brand">
          <img src="/logo.svg" alt="" width={28} height={28} />
          <span>Keywarden</span>
        </div>
        <ul class="nav">
          {NAV.map((n) => (
            <li>
              <button
                type="button"
                class={`nav-item${route === n.route ? " active" : ""}`}
                aria-current={route === n.route ? "page" : undefined}
                data-testid={`nav-${n.route}`}
                onClick={() => setRoute(n.route)}
              >
                {n.icon()}
                <span>{n.label}</span>
              </button>
            </li>
          ))}
        </ul>
        <div class="sidebar-foot">
          <button type="button" class="icon-btn" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" onClick={() => setHelp(true)}>
            <KeyboardIcon size={17} />
          </button>
          <button
            type="button"
            class="icon-btn"
            data-testid="theme-toggle"
            title={`Switch to ${theme === "dark" ? "light" : "dark"} theme (Ctrl+Shift+L)`}
            aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
            onClick={() => setTheme(nextThemePref(themePref, systemDark))}
          >
            {theme === "dark" ? <SunIcon size={17} /> : <MoonIcon size={17} />}
          </button>
        </div>
      </nav>
      <main class="main">
        {route === "vault" && (
          <VaultScreen
            status={status}
            checking={checking}
            onStatusChanged={() => void refreshStatus()}
            onRetry={() => void runSelfTest()}
            onUnlock={() => setUnlocking(true)}
            onSettings={() => setRoute("settings")}
            onCopied={onCopied}
            onToast={showToast}
            registerShortcuts={(h) => (shortcutHandler.current = h)}
          />
        )}
        {route === "requests" && (
          <RequestsScreen onCopied={onCopied} onToast={showToast} registerShortcuts={(h) => (shortcutHandler.current = h)} />
        )}
        {route === "admin" && <AdminScreen onToast={showToast} onVaultChanged={() => void refreshStatus()} registerShortcuts={(h) => (shortcutHandler.current = h)} />}
        {route === "settings" && <Settings status={status} theme={themePref} onTheme={setTheme} onStatus={setStatus} />}
        <StatusBar status={status} checking={checking} clipboardLeft={clipLeft} error={statusError} />
      </main>
      {unlocking && status && (
        <UnlockDialog
          location={status.location}
          onClose={() => setUnlocking(false)}
          onUnlocked={(s) => {
            setUnlocking(false);
            setStatus(s);
            showToast("Vault file unlocked.");
          }}
        />
      )}
      {help && (
        <Modal title="Keyboard shortcuts" onClose={() => setHelp(false)} size="sm">
          <div class="modal-body">
            <ShortcutTable />
          </div>
        </Modal>
      )}
      <div class="toast-region" aria-live="polite" role="status">
        {toast && (
          <div class="toast" key={toast.id} data-testid="toast">
            {toast.text}
          </div>
        )}
      </div>
    </div>
  );
}
