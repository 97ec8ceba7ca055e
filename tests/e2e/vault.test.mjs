// WebDriver tests of the real Keywarden window (tauri-driver + WebKitWebDriver), against a
// real Secret Service. Run by scripts/e2e.sh, which builds the app, starts a private
// unlocked gnome-keyring, Xvfb and tauri-driver, and sets:
//   KEYWARDEN_APP   absolute path of the binary under test
//   KEYWARDEN_HOME  a fresh data directory for this run
//   E2E_SCREENSHOTS where screenshots go (default tests/e2e/screenshots)

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, sep } from "node:path";
import { remote } from "webdriverio";

const APP = process.env.KEYWARDEN_APP;
const HOME = process.env.KEYWARDEN_HOME;
const SHOTS = process.env.E2E_SCREENSHOTS ?? new URL("./screenshots/", import.meta.url).pathname;
if (!APP || !HOME) throw new Error("run through scripts/e2e.sh (KEYWARDEN_APP and KEYWARDEN_HOME must be set)");

const CANARY = `sk_test_e2e_${Math.random().toString(36).slice(2, 12)}_canary`;
const NAME = "e2e_billing_api";

/** @type {WebdriverIO.Browser} */
let browser;

const byId = (id) => browser.$(`[data-testid="${id}"]`);
const row = (name) => browser.$(`[data-testid="secret-row"][data-name="${name}"]`);
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function rowNames() {
  const rows = await browser.$$('[data-testid="secret-row"]');
  const names = [];
  for (const r of rows) names.push(await r.getAttribute("data-name"));
  return names;
}

/** Sets a field the way typing does (React-style input event), for date inputs and long values. */
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

async function typeSearch(text) {
  const search = await byId("search-input");
  await search.click();
  // WebDriver's clear does not fire an input event; empty the field the way a person would.
  await setField('[data-testid="search-input"]', "");
  if (text) await search.addValue(text);
  await browser.waitUntil(async () => (await search.getValue()) === text, { timeout: 2000 });
  await pause(200);
}

/** The keychain service this profile uses, as the status bar reports it: `service "keywarden:…"`. */
async function keychainService() {
  const title = await byId("status-backend").getAttribute("title");
  const m = /service "([^"]+)"/.exec(title ?? "");
  assert.ok(m, `status bar location names the service: ${title}`);
  return m[1];
}

function secretToolSearch(service) {
  try {
    return execFileSync("secret-tool", ["search", "--all", "--unlock", "service", service], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    // secret-tool exits 1 when nothing matches.
    return `${e.stdout ?? ""}${e.stderr ?? ""}`;
  }
}

const envelope = (value) => `kw1:${Buffer.from(value, "utf8").toString("base64")}`;

async function createSecret({ name, value, description = "", environment = "", tags = "", hosts = "", expires = "" }) {
  await byId("new-secret").click();
  const form = await byId("secret-form");
  await form.waitForDisplayed({ timeout: 5000 });
  await browser.$("#f-name").addValue(name);
  await setField("#f-value", value);
  if (description) await browser.$("#f-description").addValue(description);
  if (environment) await browser.$("#f-environment").addValue(environment);
  if (tags) await browser.$("#f-tags").addValue(tags);
  if (hosts) await browser.$("#f-hosts").addValue(hosts);
  if (expires) await setField("#f-expires", expires);
  await byId("save-secret").click();
  await form.waitForExist({ reverse: true, timeout: 10000 });
  await row(name).waitForExist({ timeout: 5000 });
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

/** Every regular file under `dir` (sockets, pipes and dangling links are not files to read). */
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

const daysFromNow = (d) => new Date(Date.now() + d * 86400_000).toISOString().slice(0, 10);

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
      "tauri:options": { application: APP },
    },
  });
  // The status bar turns "Healthy" once the keychain round trip has passed.
  await browser.waitUntil(async () => (await byId("status-health").getText()) === "Healthy", {
    timeout: 20000,
    timeoutMsg: "the status bar never reported a healthy keychain",
  });
});

after(async () => {
  await browser?.deleteSession();
});

describe("Vault screen", () => {
  test("starts empty, on the real Secret Service, surviving reboot", async () => {
    await byId("empty-state").waitForDisplayed({ timeout: 5000 });
    assert.match(await byId("status-backend").getText(), /Secret Service/);
    assert.equal(await byId("status-persistence").getText(), "Survives reboot");
  });

  test("keyboard: Ctrl+N opens the new-secret dialog, Esc closes it, / focuses search", async () => {
    await browser.$("body").click();
    await browser.keys(["Control", "n"]);
    await byId("secret-form").waitForDisplayed({ timeout: 3000 });
    assert.equal(await browser.execute(() => document.activeElement?.id), "f-name");
    await browser.keys("Escape");
    await byId("secret-form").waitForExist({ reverse: true, timeout: 3000 });
    await browser.keys("/");
    assert.equal(await browser.execute(() => document.activeElement?.dataset.testid), "search-input");
    await browser.keys("Escape");
  });

  test("an invalid name is refused next to the field", async () => {
    await byId("new-secret").click();
    await browser.$("#f-name").setValue("not a valid name!");
    await setField("#f-value", "x");
    await byId("save-secret").click();
    const err = await browser.$("#f-name-err");
    await err.waitForDisplayed({ timeout: 5000 });
    assert.ok((await err.getText()).length > 5);
    assert.equal(await browser.$("#f-name").getAttribute("aria-invalid"), "true");
    await browser.keys("Escape");
    await byId("secret-form").waitForExist({ reverse: true, timeout: 3000 });
  });

  test("create a secret: its value lands in the keychain, not in the window", async () => {
    await createSecret({
      name: NAME,
      value: CANARY,
      description: "Billing API key used by the end-to-end test",
      environment: "staging",
      tags: "billing e2e",
      hosts: "api.billing.example",
    });
    await byId("detail-name").waitForDisplayed();
    assert.equal(await byId("detail-name").getText(), NAME);
    assert.ok(!(await browser.getPageSource()).includes(CANARY), "the value is not in the DOM after saving");

    const found = secretToolSearch(await keychainService());
    assert.ok(found.includes(`secret = ${envelope(CANARY)}`), `secret-tool finds the value:\n${found}`);
  });

  test("search filters the list as you type", async () => {
    await createSecret({ name: "github_token", value: "ghp_e2e_other", environment: "development", tags: "ci" });
    await typeSearch("billing");
    assert.deepEqual(await rowNames(), [NAME]);
    await typeSearch("zzz-nothing-matches");
    await byId("no-match").waitForDisplayed({ timeout: 3000 });
    await typeSearch("e2e_bill");
    assert.deepEqual(await rowNames(), [NAME]);
    await row(NAME).click();
  });

  test("reveal shows the value, and hides it again", async () => {
    await byId("reveal-button").click();
    const shown = await byId("revealed-value");
    await shown.waitForDisplayed({ timeout: 5000 });
    assert.equal(await shown.getText(), CANARY);
    assert.match(await browser.$(".countdown").getText(), /Hides in \d+ s/);
    await browser.saveScreenshot(join(SHOTS, "revealed-light.png"));
    await byId("reveal-button").click();
    await shown.waitForExist({ reverse: true, timeout: 3000 });
    assert.ok(!(await browser.getPageSource()).includes(CANARY), "hidden means gone from the DOM");
  });

  test("a revealed value hides itself after hideAfterSeconds", async () => {
    await byId("reveal-button").click();
    const shown = await byId("revealed-value");
    await shown.waitForDisplayed({ timeout: 5000 });
    await shown.waitForExist({ reverse: true, timeout: 15000, timeoutMsg: "the value stayed on screen" });
    assert.ok(!(await browser.getPageSource()).includes(CANARY));
  });

  test("copy happens in Rust and says when the clipboard clears", async () => {
    await byId("copy-button").click();
    // An earlier toast may still be showing; wait for the copy receipt.
    await browser.waitUntil(
      async () => /Copied e2e_billing_api\. The clipboard clears in 30 s\./.test(await byId("toast").getText().catch(() => "")),
      { timeout: 5000, timeoutMsg: "no copy receipt" },
    );
    assert.match(await byId("clipboard-countdown").getText(), /Clipboard clears in \d+ s/);
  });

  test("disable the secret", async () => {
    const sw = await byId("enabled-switch");
    assert.equal(await sw.getAttribute("aria-checked"), "true");
    await sw.click();
    await browser.waitUntil(async () => (await sw.getAttribute("aria-checked")) === "false", { timeout: 5000 });
    assert.match(await row(NAME).getText(), /Disabled/);
  });

  test("delete the secret after confirming: gone from the list and from the keychain", async () => {
    const service = await keychainService();
    await byId("delete-button").click();
    await byId("delete-dialog").waitForDisplayed({ timeout: 3000 });
    await byId("confirm-delete").click();
    await row(NAME).waitForExist({ reverse: true, timeout: 10000 });
    await typeSearch("");
    assert.deepEqual(await rowNames(), ["github_token"]);
    const found = secretToolSearch(service);
    assert.ok(!found.includes(envelope(CANARY)), `the value is gone from the keychain:\n${found}`);
  });

  test("nothing the window did left the value on disk or in webview storage", async () => {
    // The value and the encodings a store might give it; WebKit keeps localStorage as UTF-16.
    const value = Buffer.from(CANARY);
    const forms = {
      raw: value,
      base64: Buffer.from(value.toString("base64")),
      base64url: Buffer.from(value.toString("base64url")),
      hex: Buffer.from(value.toString("hex")),
      "UTF-16": Buffer.from(CANARY, "utf16le"),
    };
    // The profile, and everything WebKit wrote under this run's private HOME (the keyrings
    // are encrypted; they hold the value, sealed, by design).
    const webkit = [process.env.XDG_DATA_HOME, process.env.XDG_CACHE_HOME, join(homedir(), ".cache"), join(homedir(), ".local", "share")]
      .filter((d) => d && existsSync(d))
      .flatMap((d) => filesUnder(d))
      .filter((f) => !f.includes(`${sep}keyrings${sep}`));
    const files = [...new Set([...filesUnder(HOME), ...webkit])];
    assert.ok(files.some((f) => f.endsWith("keywarden.db")), "the profile was searched");
    assert.ok(webkit.length > 0, "WebKit's storage under this run's HOME was searched");
    console.log(`# searched ${files.length} files (${webkit.length} of WebKit's) for the value in ${Object.keys(forms).length} forms`);
    for (const [name, bytes] of Object.entries(forms)) {
      const hits = files.filter((f) => readFileSync(f).includes(bytes));
      assert.deepEqual(hits, [], `files holding the value (${name})`);
    }
    const storage = await browser.execute(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!storage.includes(CANARY));
    assert.ok(!(await browser.getTitle()).includes(CANARY));
  });

  test("screenshots of the Vault screen, light and dark", async () => {
    await createSecret({
      name: "stripe_live_secret",
      value: "sk_live_51H8xE2eScreenshotOnly",
      description: "Stripe secret key for the billing service (restricted: charges, refunds)",
      environment: "production",
      tags: "billing, stripe, payments",
      hosts: "api.stripe.com",
      expires: daysFromNow(4),
    });
    await createSecret({
      name: "openai_api_key",
      value: "sk-proj-e2eScreenshotOnly",
      description: "Embeddings for search indexing",
      environment: "production",
      tags: "ml",
      hosts: "api.openai.com",
      expires: daysFromNow(120),
    });
    await createSecret({
      name: "sendgrid_staging",
      value: "SG.e2eScreenshotOnly",
      description: "Transactional email in staging",
      environment: "staging",
      tags: "email",
      hosts: "api.sendgrid.com",
    });
    await createSecret({
      name: "datadog_api_key",
      value: "dd_e2eScreenshotOnly",
      description: "Metrics and log shipping from CI",
      environment: "production",
      tags: "observability, ci",
      expires: daysFromNow(-3),
    });
    await typeSearch("");
    await row("sendgrid_staging").click();
    await byId("enabled-switch").click();
    await browser.waitUntil(async () => /Disabled/.test(await row("sendgrid_staging").getText()), { timeout: 5000 });
    await row("stripe_live_secret").click();
    // Rotate once, so the history shows a retired value.
    await byId("rotate-button").click();
    await byId("rotate-dialog").waitForDisplayed({ timeout: 3000 });
    await setField("#r-value", "sk_live_51H8xE2eScreenshotOnlyRotated");
    await browser.$('[data-testid="rotate-dialog"] button[type="submit"]').click();
    await byId("rotate-dialog").waitForExist({ reverse: true, timeout: 10000 });
    await browser.waitUntil(async () => (await browser.$$('[data-testid="versions"] li').length) === 2, {
      timeout: 5000,
      timeoutMsg: "the history does not show two values after a rotation",
    });
    await byId("toast").waitForExist({ reverse: true, timeout: 8000 });
    await browser.$("body").moveTo({ xOffset: 5, yOffset: 5 });
    await setTheme("light");
    await browser.$("h1").moveTo();
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "vault-light.png"));
    await setTheme("dark");
    await browser.$("h1").moveTo();
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "vault-dark.png"));
    // The dialogs and Settings, for looking at (not compared).
    await byId("new-secret").click();
    await browser.$("#f-name").setValue("stripe_live_secret");
    await setField("#f-value", "sk_live_duplicate");
    await byId("save-secret").click();
    await browser.$("#f-name-err").waitForDisplayed({ timeout: 5000 });
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "new-secret-error-dark.png"));
    await browser.keys("Escape");
    await setTheme("light");
    await byId("nav-settings").click();
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "settings-light.png"));
    await byId("nav-vault").click();
    assert.ok(statSync(join(SHOTS, "vault-light.png")).size > 10_000);
    assert.ok(statSync(join(SHOTS, "vault-dark.png")).size > 10_000);
  });
});
