import { describe, expect, test } from "vitest";
import type { AdminObject } from "../src/ipc/bindings";
import { refLabel } from "../src/admin/SyncPanel";
import { actionLabel, agoMs, conflictRows, detailPairs, keyState, syncBadge, vaultSecretName } from "../src/admin/model";

const obj = (body: Record<string, unknown>, extra: Partial<AdminObject> = {}): AdminObject => ({
  kind: "key",
  id: "k1",
  label: "ci",
  version: 1,
  body,
  deleted: false,
  pending: 0,
  problem: null,
  ...extra,
});

describe("admin model", () => {
  test("sync badge: conflict and failure win over pending, pending over synced", () => {
    expect(syncBadge(obj({}, { pending: 2, problem: "conflict" })).label).toBe("Conflict");
    expect(syncBadge(obj({}, { pending: 1, problem: "failed" })).label).toBe("Failed");
    expect(syncBadge(obj({}, { pending: 1 })).label).toBe("Pending");
    expect(syncBadge(obj({})).label).toBe("Synced");
  });

  test("key state: revoked, expired, disabled, expiring, active", () => {
    const now = 1_000_000;
    expect(keyState(obj({ revoked_at: 5, enabled: false }), now).label).toBe("Revoked");
    expect(keyState(obj({ expires_at: now - 1 }), now).label).toBe("Expired");
    expect(keyState(obj({ enabled: false }), now).label).toBe("Disabled");
    expect(keyState(obj({ expires_at: now + 3600 }), now).label).toBe("Expires soon");
    expect(keyState(obj({ enabled: true }), now).label).toBe("Active");
    expect(keyState(obj({ replaced_by: "k2", expires_at: now + 3600 }), now).label).toBe("Rotated: in grace period");
  });

  test("vault secret names are derived from principal and key", () => {
    expect(vaultSecretName("Billing Service", "CI key")).toBe("billing-service-ci-key");
    expect(vaultSecretName("", "")).toBe("api-key");
  });

  test("conflict rows compare my fields with the server's, hiding bookkeeping", () => {
    const rows = conflictRows({ description: "mine", enabled: false, version: 3 }, { description: "theirs", enabled: false, version: 4 });
    expect(rows).toEqual([
      { field: "description", mine: "mine", theirs: "theirs", differs: true },
      { field: "enabled", mine: "false", theirs: "false", differs: false },
    ]);
  });

  test("labels", () => {
    expect(actionLabel("key.disable")).toBe("Disable key");
    expect(actionLabel("principal.create")).toBe("Create principal");
    expect(detailPairs({ display_prefix: "kw_live_Ab", scopes: [] })).toBe("display prefix: kw_live_Ab · scopes: none");
    expect(agoMs(10_000, 12_000)).toBe("just now");
    expect(agoMs(0, 90_000)).toBe("2 min ago");
    const names = new Map([["p1", "billing-service"]]);
    expect(refLabel("principal:p1", names)).toBe("principal billing-service");
    expect(refLabel("key:unknown", names)).toBe("key:unknown");
    expect(detailPairs({ principal_id: "p1", enabled: true }, names)).toBe("principal: billing-service · enabled: true");
  });
});
