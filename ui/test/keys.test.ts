import { describe, expect, test } from "vitest";
import { type KeyPress, moveSelection, shortcutFor } from "../src/lib/keys";

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  inTextField: false,
  ...mods,
});

describe("shortcutFor", () => {
  test("search: / outside text fields, Ctrl+F and Ctrl+K anywhere", () => {
    expect(shortcutFor(press("/"))).toBe("search");
    expect(shortcutFor(press("/", { inTextField: true }))).toBeNull();
    expect(shortcutFor(press("f", { ctrlKey: true, inTextField: true }))).toBe("search");
    expect(shortcutFor(press("k", { metaKey: true }))).toBe("search");
  });
  test("Ctrl+N new, Ctrl+Shift+C copy, Ctrl+Shift+L theme", () => {
    expect(shortcutFor(press("n", { ctrlKey: true }))).toBe("new");
    expect(shortcutFor(press("N", { ctrlKey: true }))).toBe("new");
    expect(shortcutFor(press("C", { ctrlKey: true, shiftKey: true }))).toBe("copy");
    expect(shortcutFor(press("c", { ctrlKey: true }))).toBeNull(); // plain Ctrl+C stays the webview's copy
    expect(shortcutFor(press("L", { ctrlKey: true, shiftKey: true }))).toBe("theme");
  });
  test("letter shortcuts never fire while typing", () => {
    expect(shortcutFor(press("e"))).toBe("edit");
    expect(shortcutFor(press("e", { inTextField: true }))).toBeNull();
    expect(shortcutFor(press("Delete"))).toBe("delete");
    expect(shortcutFor(press("Delete", { inTextField: true }))).toBeNull();
    expect(shortcutFor(press("?", { shiftKey: true }))).toBe("help");
  });
  test("Alt combinations are left to the system", () => {
    expect(shortcutFor(press("n", { ctrlKey: true, altKey: true }))).toBeNull();
  });
});

describe("moveSelection", () => {
  test("arrows move within bounds", () => {
    expect(moveSelection(0, "ArrowDown", 3)).toBe(1);
    expect(moveSelection(2, "ArrowDown", 3)).toBe(2);
    expect(moveSelection(0, "ArrowUp", 3)).toBe(0);
    expect(moveSelection(2, "ArrowUp", 3)).toBe(1);
  });
  test("from no selection, down picks the first row and up the last", () => {
    expect(moveSelection(-1, "ArrowDown", 3)).toBe(0);
    expect(moveSelection(-1, "ArrowUp", 3)).toBe(2);
  });
  test("Home, End and paging", () => {
    expect(moveSelection(5, "Home", 30)).toBe(0);
    expect(moveSelection(5, "End", 30)).toBe(29);
    expect(moveSelection(5, "PageDown", 30)).toBe(15);
    expect(moveSelection(25, "PageDown", 30)).toBe(29);
    expect(moveSelection(5, "PageUp", 30)).toBe(0);
  });
  test("a stale index after the list shrank is clamped", () => {
    expect(moveSelection(10, "ArrowUp", 3)).toBe(1);
  });
  test("other keys and empty lists do nothing", () => {
    expect(moveSelection(0, "a", 3)).toBeNull();
    expect(moveSelection(-1, "ArrowDown", 0)).toBeNull();
  });
});
