// Theme preference. Only the preference ("system" | "light" | "dark") is stored; never anything secret.

export type ThemePref = "system" | "light" | "dark";
const KEY = "keywarden.theme";

export function loadThemePref(storage: Pick<Storage, "getItem"> | undefined): ThemePref {
  const v = storage?.getItem(KEY);
  return v === "light" || v === "dark" || v === "system" ? v : "system";
}

export function saveThemePref(storage: Pick<Storage, "setItem">, pref: ThemePref): void {
  storage.setItem(KEY, pref);
}

export function resolveTheme(pref: ThemePref, systemDark: boolean): "light" | "dark" {
  return pref === "system" ? (systemDark ? "dark" : "light") : pref;
}

/** The next preference when the toggle is pressed: flips what is shown now, leaving "system" once. */
export function nextThemePref(pref: ThemePref, systemDark: boolean): ThemePref {
  return resolveTheme(pref, systemDark) === "dark" ? "light" : "dark";
}
