// WebDriver test of the Admin screen in the real window: start the built-in key server, create a
// principal and a key that goes straight into the vault, see it pending then synced, prove the
// server accepts it, disable it, and see the server refuse it. Then show-once, the Sync and Audit
// tabs, and screenshots in both themes.
// Run by scripts/e2e.sh; on its own fresh profile (`keywarden --home DIR`).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { remote } from "webdriverio";

const APP = process.env.KEYWARDEN_APP;
const HOME = mkdtempSync(join(tmpdir(), "kw-e2e-admin-"));
const SHOTS = process.env.E2E_SCREENSHOTS ?? new URL("./screenshots/", import.meta.url).pathname;
if (!APP) throw new Error("run through scripts/e2e.sh (KEYWARDEN_APP must be set)");

const PRINCIPAL = "billing-service";
const KEY = "ci";
const SECRET = `${PRINCIPAL}-${KEY}`;

/** @type {WebdriverIO.Browser} */
let browser;
let serverUrl = "";
let keyText = "";
let handover = "";

const byId = (id) => browser.$(`[data-testid="${id}"]`);
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const keyRow = (name) => browser.$(`[data-testid="key-row"][data-name="${name}"]`);

async function setField(selector, value) {
  await browser.execute(
    (sel, v) => {
      const el = document.querySelector(sel);
      el.value = v;
      el.dispatchEvent(new Event("input", { bubbles: true }));
    },
    selector,
    value,
  );
}

async function setTheme(theme) {
  for (let i = 0; i < 2; i++) {
    const now = await browser.execute(() => document.documentElement.dataset.theme);
    if (now === theme) return;
    await byId("theme-toggle").click();
    await pause(200);
  }
  assert.equal(await browser.execute(() => document.documentElement.dataset.theme), theme);
}

async function shot(name) {
  await byId("toast").waitForExist({ reverse: true, timeout: 8000 }).catch(() => {});
  await pause(300);
  await browser.saveScreenshot(join(SHOTS, name));
}

/** The sync state of the key row `name` as its badge shows it. */
const badgeOf = (name) =>
  browser.execute((n) => document.querySelector(`[data-testid="key-row"][data-name="${n}"] [data-testid="sync-badge"]`)?.getAttribute("data-state") ?? "", name);

/** Asks the embedded server whether `key` is valid, as a gateway would. */
async function verify(key) {
  const res = await fetch(`${serverUrl}/v1/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, method: "GET", path: "/v1/invoices" }),
  });
  assert.equal(res.status, 200, `verify answers 200, got ${res.status}`);
  return res.json();
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await remote({
    hostname: "127.0.0.1",
    port: Number(process.env.E2E_PORT ?? 4444),
    logLevel: "warn",
    connectionRetryCount: 3,
    capabilities: {
      browserName: "wry",
      "wdio:enforceWebDriverClassic": true,
      "tauri:options": { application: APP, args: ["--home", HOME] },
    },
  });
  await browser.waitUntil(async () => (await byId("status-health").getText()) === "Healthy", {
    timeout: 20000,
    timeoutMsg: "the status bar never reported a healthy keychain",
  });
});

after(async () => {
  await browser?.deleteSession();
  rmSync(HOME, { recursive: true, force: true });
});

describe("Admin screen", () => {
  test("no server yet: the empty state offers the built-in server", async () => {
    await setTheme("light");
    await byId("nav-admin").click();
    await byId("admin-empty").waitForDisplayed({ timeout: 10000 });
    assert.ok(await byId("start-embedded").isDisplayed());
    assert.ok(await byId("connect-server").isDisplayed());
    await shot("admin-empty-light.png");
  });

  test("start the built-in key server: the sync strip shows it online", async () => {
    await byId("start-embedded").click();
    await byId("sync-strip").waitForDisplayed({ timeout: 20000 });
    // The strip names the server's loopback URL once it runs.
    await browser.waitUntil(async () => /^http:\/\/127\.0\.0\.1:\d+$/.test((await byId("sync-url").getAttribute("data-url")) ?? ""), {
      timeout: 15000,
      timeoutMsg: "the strip never named the built-in server's URL",
    });
    serverUrl = await byId("sync-url").getAttribute("data-url");
    await browser.waitUntil(async () => (await byId("sync-strip").getAttribute("data-online")) === "online", {
      timeout: 15000,
      timeoutMsg: "the built-in server never showed online",
    });
    await browser.waitUntil(async () => (await byId("principal-list").isExisting()) || (await byId("principals-empty").isExisting()), {
      timeout: 10000,
      timeoutMsg: "no principal list",
    });
  });

  test("a group, and a role granting key:use to it", async () => {
    await byId("tab-access").click();
    await byId("access-panel").waitForDisplayed({ timeout: 5000 });
    await byId("new-group").click();
    await byId("group-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#g-name").setValue("api-clients");
    await byId("group-confirm").click();
    await byId("group-dialog").waitForExist({ reverse: true, timeout: 10000 });
    await browser.$('[data-testid="group-row"][data-name="api-clients"]').waitForExist({ timeout: 5000 });
    await byId("new-role").click();
    await byId("role-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#r-name").setValue("api-access");
    assert.equal(await byId("priv-key:use").isSelected(), true, "key:use is offered by default");
    await byId("role-group-api-clients").click();
    await byId("role-confirm").click();
    await byId("role-dialog").waitForExist({ reverse: true, timeout: 10000 });
    await browser.$('[data-testid="role-row"][data-name="api-access"]').waitForExist({ timeout: 5000 });
    await shot("admin-access-light.png");
    await byId("tab-principals").click();
  });

  test("create an API client", async () => {
    await byId("new-principal").click();
    await byId("principal-dialog").waitForDisplayed({ timeout: 5000 });
    await byId("kind-api_client").click();
    await browser.$("#p-name").setValue(PRINCIPAL);
    await browser.$("#p-description").setValue("Invoices and payouts integration");
    await byId("p-group-api-clients").click();
    await byId("principal-confirm").click();
    await byId("principal-dialog").waitForExist({ reverse: true, timeout: 10000 });
    await browser.$(`[data-testid="principal-row"][data-name="${PRINCIPAL}"]`).waitForExist({ timeout: 5000 });
    assert.equal(await byId("principal-name").getText(), PRINCIPAL);
    await byId("keys-empty").waitForDisplayed({ timeout: 5000 });
    assert.match(await byId("principal-detail").getText(), /api-clients/, "its group is shown");
  });

  test("edit the description: saved locally at once, then synced", async () => {
    await byId("edit-principal").click();
    await byId("edit-principal-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#e-description").setValue("Invoices, payouts and refunds");
    await byId("edit-principal-confirm").click();
    await byId("edit-principal-dialog").waitForExist({ reverse: true, timeout: 10000 });
    await browser.waitUntil(async () => (await byId("principal-detail").getText()).includes("Invoices, payouts and refunds"), { timeout: 5000 });
    const badge = () => byId("principal-detail").$('[data-testid="sync-badge"]').getAttribute("data-state");
    await browser.waitUntil(async () => (await badge()) === "synced", { timeout: 20000, timeoutMsg: "the edit never synced" });
  });

  test("create a key into the vault: pending, then synced", async () => {
    // Record every sync state the key's badge goes through, however briefly.
    await browser.execute((n) => {
      window.__kwStates = [];
      const seen = () => {
        const s = document.querySelector(`[data-testid="key-row"][data-name="${n}"] [data-testid="sync-badge"]`)?.getAttribute("data-state");
        if (s && window.__kwStates.at(-1) !== s) window.__kwStates.push(s);
      };
      window.__kwObserver = new MutationObserver(seen);
      window.__kwObserver.observe(document.body, { subtree: true, childList: true, attributes: true });
    }, KEY);
    await byId("new-key").click();
    await byId("key-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#k-name").setValue(KEY);
    await setField("#k-scopes", "invoices:read");
    await setField("#k-prefixes", "/v1/invoices");
    assert.equal(await browser.$('[data-testid="placement-vault"]').isSelected(), true, "into the vault is the default");
    await shot("admin-key-dialog-light.png");
    const t0 = Date.now();
    await byId("key-confirm").click();
    await byId("key-dialog").waitForExist({ reverse: true, timeout: 15000 });
    await keyRow(KEY).waitForExist({ timeout: 5000 });
    await browser.waitUntil(async () => (await byId("sync-queued").getAttribute("data-count")) === "0", { timeout: 20000, timeoutMsg: "the queue never emptied" });
    const queueEmpty = Date.now() - t0;
    await browser.waitUntil(async () => (await badgeOf(KEY)) === "synced", { timeout: 20000, timeoutMsg: "the key never showed synced" });
    console.log(`# queue empty ${queueEmpty} ms after the click, key badge synced ${Date.now() - t0} ms after it`);
    const states = await browser.execute(() => (window.__kwObserver.disconnect(), window.__kwStates));
    assert.equal(states[0], "pending", `the key showed pending first: ${states.join(" → ")}`);
    assert.equal(states.at(-1), "synced", `then synced: ${states.join(" → ")}`);
    const prefix = await keyRow(KEY).$(".key-prefix").getText();
    assert.match(prefix, /^kw_live_/, `display prefix shown: ${prefix}`);
    await shot("admin-principals-light.png");
  });

  test("the key is in the vault and the server accepts it", async () => {
    await byId("nav-vault").click();
    const row = browser.$(`[data-testid="secret-row"][data-name="${SECRET}"]`);
    await row.waitForExist({ timeout: 10000 });
    await row.click();
    await byId("reveal-button").click();
    await byId("revealed-value").waitForDisplayed({ timeout: 10000 });
    keyText = (await byId("revealed-value").getText()).trim();
    await byId("reveal-button").click();
    assert.match(keyText, /^kw_live_/, "the vault holds the generated key");
    const ok = await verify(keyText);
    assert.equal(ok.valid, true, `the server accepts the new key: ${JSON.stringify(ok)}`);
  });

  test("disable it in the app: the server refuses it within seconds", async () => {
    await byId("nav-admin").click();
    await keyRow(KEY).waitForExist({ timeout: 5000 });
    const sw = keyRow(KEY).$('[data-testid="key-enabled"]');
    assert.equal(await sw.getAttribute("aria-checked"), "true");
    const clicked = Date.now();
    await sw.click();
    let refusedAfter = -1;
    let last = null;
    while (Date.now() - clicked < 10000) {
      last = await verify(keyText);
      if (!last.valid) {
        refusedAfter = Date.now() - clicked;
        break;
      }
      await pause(50);
    }
    assert.ok(refusedAfter >= 0, `the server still accepts the disabled key: ${JSON.stringify(last)}`);
    assert.equal(last.reason, "key_disabled", `refused for the disable, not another reason: ${JSON.stringify(last)}`);
    console.log(`# the server refused the disabled key ${refusedAfter} ms after the click (${last.reason})`);
    await browser.waitUntil(async () => (await badgeOf(KEY)) === "synced", { timeout: 15000, timeoutMsg: "the disable never showed synced" });
    assert.equal(await keyRow(KEY).$('[data-testid="key-state"]').getText(), "Disabled");
  });

  test("a key shown once", async () => {
    await byId("new-key").click();
    await byId("key-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#k-name").setValue("handover");
    await setField("#k-env", "test");
    await byId("placement-showOnce").click();
    await byId("key-confirm").click();
    await byId("show-once").waitForDisplayed({ timeout: 15000 });
    const shown = await byId("show-once-key").getText();
    handover = shown;
    assert.match(shown, /^kw_test_/, "the key is shown once");
    await shot("admin-show-once-light.png");
    await byId("show-once-done").click();
    await byId("show-once").waitForExist({ reverse: true, timeout: 5000 });
    await keyRow("handover").waitForExist({ timeout: 5000 });
    await browser.waitUntil(async () => (await badgeOf("handover")) === "synced", { timeout: 20000 });
    const ok = await verify(shown);
    assert.equal(ok.valid, true, `the shown key works: ${JSON.stringify(ok)}`);
  });

  test("rotate with a grace period: the new key is shown once, both work during the grace", async () => {
    const before = await byId("show-once-key").isExisting();
    assert.equal(before, false);
    await keyRow("handover").$('[data-testid="key-rotate"]').click();
    await byId("rotate-key-dialog").waitForDisplayed({ timeout: 5000 });
    await byId("rotate-key-confirm").click();
    await byId("show-once").waitForDisplayed({ timeout: 15000 });
    const rotated = await byId("show-once-key").getText();
    assert.match(rotated, /^kw_test_/);
    await byId("show-once-done").click();
    await byId("show-once").waitForExist({ reverse: true, timeout: 5000 });
    await browser.waitUntil(async () => (await verify(rotated)).valid === true, { timeout: 15000, timeoutMsg: "the rotated key never worked" });
    assert.equal((await verify(handover)).valid, true, "the old key still works during the grace period");
  });

  test("an action the server refuses waits as failed, with its reason, until discarded", async () => {
    await byId("tab-principals").click();
    await byId("new-principal").click();
    await byId("principal-dialog").waitForDisplayed({ timeout: 5000 });
    await byId("kind-user").click();
    await browser.$("#p-name").setValue("admin");
    await byId("principal-confirm").click();
    await byId("principal-dialog").waitForExist({ reverse: true, timeout: 10000 });
    await byId("sync-problems").waitForDisplayed({ timeout: 20000 });
    await byId("tab-sync").click();
    const item = byId("failed-item");
    await item.waitForDisplayed({ timeout: 5000 });
    const text = await item.getText();
    assert.match(text, /admin/, `the failed action names its object: ${text}`);
    await shot("admin-sync-failed-light.png");
    await item.$('[data-testid="discard"]').click();
    await item.waitForExist({ reverse: true, timeout: 10000 });
    await byId("sync-problems").waitForExist({ reverse: true, timeout: 10000 });
  });

  test("the Sync tab and the audit log", async () => {
    await byId("tab-sync").click();
    await byId("sync-panel").waitForDisplayed({ timeout: 5000 });
    await byId("all-synced").waitForDisplayed({ timeout: 10000 });
    const done = await browser.$$('[data-testid="done-item"]').length;
    assert.ok(done >= 4, `recent actions are listed (${done})`);
    await shot("admin-sync-light.png");
    await byId("tab-audit").click();
    await byId("audit-log").waitForDisplayed({ timeout: 5000 });
    await browser.$('[data-testid="audit-row"]').waitForExist({ timeout: 10000 });
    const actions = await browser.execute(() => [...document.querySelectorAll('[data-testid="audit-row"]')].map((r) => r.getAttribute("data-action")));
    assert.ok(actions.some((a) => /key/.test(a)), `the audit log lists key actions: ${actions.join(", ")}`);
    assert.ok(!(await byId("audit-log").getText()).includes(keyText), "no key text in the audit log");
    await shot("admin-audit-light.png");
  });

  test("dark theme screenshots", async () => {
    await setTheme("dark");
    await byId("tab-principals").click();
    await browser.$(`[data-testid="principal-row"][data-name="${PRINCIPAL}"]`).click();
    await keyRow(KEY).waitForExist({ timeout: 5000 });
    await shot("admin-principals-dark.png");
    await byId("tab-audit").click();
    await byId("audit-log").waitForDisplayed({ timeout: 5000 });
    await shot("admin-audit-dark.png");
    await byId("tab-principals").click();
    await byId("new-key").click();
    await byId("key-dialog").waitForDisplayed({ timeout: 5000 });
    await shot("admin-key-dialog-dark.png");
    await browser.keys(["Escape"]);
    await byId("key-dialog").waitForExist({ reverse: true, timeout: 5000 });
    await setTheme("light");
  });
});
