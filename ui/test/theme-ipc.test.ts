import { describe, expect, test } from "vitest";
import { fieldKey, toIpcError } from "../src/ipc/api";
import { loadThemePref, nextThemePref, resolveTheme, saveThemePref } from "../src/lib/theme";

describe("theme", () => {
  test("follows the system until the person picks one", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
  });
  test("the toggle flips what is shown", () => {
    expect(nextThemePref("system", true)).toBe("light");
    expect(nextThemePref("system", false)).toBe("dark");
    expect(nextThemePref("dark", false)).toBe("light");
  });
  test("only a known preference is loaded", () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    expect(loadThemePref(storage)).toBe("system");
    saveThemePref(storage, "dark");
    expect(loadThemePref(storage)).toBe("dark");
    store.set("keywarden.theme", "<script>");
    expect(loadThemePref(storage)).toBe("system");
    expect(loadThemePref(undefined)).toBe("system");
  });
});

describe("IPC errors", () => {
  test("a command's IpcError passes through", () => {
    expect(toIpcError({ code: "conflict", message: "Name taken.", field: "name" })).toEqual({
      code: "conflict",
      message: "Name taken.",
      field: "name",
    });
  });
  test("Tauri's own string errors become internal errors without a field", () => {
    expect(toIpcError("missing required key req")).toEqual({ code: "internal", message: "Missing required key req.", field: null });
    expect(toIpcError(undefined).code).toBe("internal");
  });
  test("field names match whatever their case", () => {
    expect(fieldKey("allowed_hosts")).toBe("allowedhosts");
    expect(fieldKey("allowedHosts")).toBe("allowedhosts");
    expect(fieldKey(null)).toBeNull();
  });
});
