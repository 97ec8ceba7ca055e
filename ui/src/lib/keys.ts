// Keyboard handling as pure functions: which global shortcut a key press means, and where the
// list selection moves. The components only translate DOM events into these.

export type Shortcut = "search" | "new" | "copy" | "edit" | "delete" | "help" | "theme";

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  /** Whether focus is in a text field (shortcuts made of plain letters must not fire there). */
  inTextField: boolean;
}

/** Maps a key press to an application shortcut, or null. Ctrl and Cmd are treated alike. */
export function shortcutFor(e: KeyPress): Shortcut | null {
  const mod = e.ctrlKey || e.metaKey;
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.altKey) return null;
  if (mod && !e.shiftKey && (k === "f" || k === "k")) return "search";
  if (mod && !e.shiftKey && k === "n") return "new";
  if (mod && e.shiftKey && k === "c") return "copy";
  if (mod && e.shiftKey && k === "l") return "theme";
  if (mod || e.inTextField) return null;
  if (k === "/") return "search";
  if (k === "?") return "help";
  if (k === "e" && !e.shiftKey) return "edit";
  if (k === "Delete") return "delete";
  return null;
}

/** The new selected index after a navigation key in a list of `length` rows, or null when the key is not a navigation key. */
export function moveSelection(current: number, key: string, length: number, page = 10): number | null {
  if (length === 0) return null;
  const last = length - 1;
  const from = current < 0 ? -1 : Math.min(current, last);
  switch (key) {
    case "ArrowDown":
      return from < 0 ? 0 : Math.min(from + 1, last);
    case "ArrowUp":
      return from < 0 ? last : Math.max(from - 1, 0);
    case "Home":
      return 0;
    case "End":
      return last;
    case "PageDown":
      return Math.min(Math.max(from, 0) + page, last);
    case "PageUp":
      return Math.max(from - page, 0);
    default:
      return null;
  }
}

/** Human label for a shortcut, adapted to the platform. */
export function shortcutLabel(keys: string, mac: boolean): string {
  return mac ? keys.replace(/Ctrl\+/g, "⌘").replace(/Shift\+/g, "⇧") : keys;
}
