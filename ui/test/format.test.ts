import { describe, expect, test } from "vitest";
import {
  dateInputToTimestamp,
  envTone,
  expiresIn,
  expiryBadge,
  formatDate,
  healthLabel,
  plural,
  relativePast,
  sentence,
  shortFingerprint,
  splitList,
  timestampToDateInput,
} from "../src/lib/format";

const NOW = Date.UTC(2026, 2, 12, 12, 0, 0) / 1000; // 12 Mar 2026 12:00 UTC
const H = 3600;
const D = 86400;

describe("relativePast", () => {
  test.each([
    [NOW - 10, "just now"],
    [NOW - 5 * 60, "5 min ago"],
    [NOW - 3 * H, "3 h ago"],
    [NOW - D - H, "yesterday"],
    [NOW - 12 * D, "12 days ago"],
    [NOW - 90 * D, "12 Dec 2025"],
  ])("%i -> %s", (at, want) => expect(relativePast(at, NOW)).toBe(want));
});

describe("expiry", () => {
  test("no badge without an expiry date or while it is far away", () => {
    expect(expiryBadge({ expiry: "none", expiresAt: null }, NOW)).toBeNull();
    expect(expiryBadge({ expiry: "ok", expiresAt: NOW + 90 * D }, NOW)).toBeNull();
  });
  test("soon: a warning with the time left", () => {
    const b = expiryBadge({ expiry: "soon", expiresAt: NOW + 4 * D }, NOW);
    expect(b).toMatchObject({ tone: "warn", label: "Expires in 4 days" });
    expect(b?.title).toContain("16 Mar 2026");
  });
  test("expired: a danger badge that says since when", () => {
    expect(expiryBadge({ expiry: "expired", expiresAt: NOW - 2 * D - H }, NOW)?.label).toBe("Expired 2 days ago");
    expect(expiryBadge({ expiry: "expired", expiresAt: NOW - D - H }, NOW)?.label).toBe("Expired yesterday");
    expect(expiryBadge({ expiry: "expired", expiresAt: NOW - H }, NOW)).toMatchObject({ tone: "danger", label: "Expired today" });
  });
  test("the state comes from Rust, not from the window's clock", () => {
    // Rust says "ok" even though the date is near: the window does not second-guess it.
    expect(expiryBadge({ expiry: "ok", expiresAt: NOW + D }, NOW)).toBeNull();
  });
  test.each([
    [NOW + 30 * 60, "Expires in 30 min"],
    [NOW + 5 * H, "Expires in 5 h"],
    [NOW + D + 2 * H, "Expires tomorrow"],
    [NOW + 6 * D, "Expires in 6 days"],
    [NOW - 1, "Expired"],
  ])("expiresIn(%i) = %s", (at, want) => expect(expiresIn(at, NOW)).toBe(want));
});

describe("form helpers", () => {
  test("splitList splits on commas, spaces and new lines and drops duplicates", () => {
    expect(splitList(" billing, stripe  payments\nbilling,, ")).toEqual(["billing", "stripe", "payments"]);
    expect(splitList("")).toEqual([]);
  });
  test("date input <-> end of that day in UTC", () => {
    const at = dateInputToTimestamp("2026-12-31");
    expect(at).toBe(Date.UTC(2026, 11, 31, 23, 59, 59) / 1000);
    expect(timestampToDateInput(at)).toBe("2026-12-31");
    expect(dateInputToTimestamp("")).toBeNull();
    expect(dateInputToTimestamp("31/12/2026")).toBeNull();
    expect(timestampToDateInput(null)).toBe("");
  });
  test("formatDate is stable across time zones", () => {
    expect(formatDate(NOW)).toBe("12 Mar 2026");
  });
});

describe("labels", () => {
  test("plural", () => {
    expect(plural(1, "secret")).toBe("1 secret");
    expect(plural(0, "secret")).toBe("0 secrets");
  });
  test("environment tones", () => {
    expect(envTone("production")).toBe("prod");
    expect(envTone("Staging")).toBe("stage");
    expect(envTone("test")).toBe("dev");
    expect(envTone("eu-west")).toBe("other");
  });
  test("health and fingerprints", () => {
    expect(healthLabel("untested")).toBe("Not checked yet");
    expect(shortFingerprint("kwfp:3f9a1c0b7d2e")).toBe("3f9a1c0b7d2e");
  });
  test("messages read as sentences", () => {
    expect(sentence("the keychain is locked")).toBe("The keychain is locked.");
    expect(sentence("Already fine.")).toBe("Already fine.");
    expect(sentence("")).toBe("");
  });
});
