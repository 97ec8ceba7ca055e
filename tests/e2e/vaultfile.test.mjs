// The explicit alternative to the keychain: switching an empty profile to an encrypted vault
// file, keeping values out of the keychain, and unlocking the file after a restart.
// Runs on its own fresh profile (`keywarden --home DIR`), after vault.test.mjs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { remote } from "webdriverio";

const APP = process.env.KEYWARDEN_APP;
if (!APP) throw new Error("run through scripts/e2e.sh (KEYWARDEN_APP must be set)");
const HOME = mkdtempSync(join(tmpdir(), "kw-e2e-file-"));
const PASSPHRASE = "correct horse battery staple";
const CANARY = `file_vault_e2e_${Math.random().toString(36).slice(2, 12)}_canary`;

/** @type {WebdriverIO.Browser} */
let browser;
const byId = (id) => browser.$(`[data-testid="${id}"]`);

async function open() {
  browser = await remote({
    hostname: "127.0.0.1",
    port: Number(process.env.E2E_PORT ?? 4444),
    logLevel: "warn",
    capabilities: {
      browserName: "wry",
      "wdio:enforceWebDriverClassic": true,
      "tauri:options": { application: APP, args: ["--home", HOME] },
    },
  });
  await browser.waitUntil(async () => !/Checking/.test(await byId("status-health").getText()), { timeout: 20000 });
}

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

function filesUnder(dir) {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

let keychainService = "";

before(open);
after(async () => {
  await browser?.deleteSession();
  rmSync(HOME, { recursive: true, force: true });
});

describe("Encrypted vault file", () => {
  test("an empty profile switches to a vault file from Settings", async () => {
    const title = await byId("status-backend").getAttribute("title");
    keychainService = /service "([^"]+)"/.exec(title ?? "")?.[1] ?? "";
    assert.ok(keychainService, `the keychain service is shown: ${title}`);

    await byId("nav-settings").click();
    await browser.$('input[name="backend"][value="file"]').click();
    await browser.$("#s-pass").setValue("short");
    await browser.$("#s-pass2").setValue("short");
    await browser.$("button=Switch store").click();
    const err = await browser.$("#s-pass-err");
    await err.waitForDisplayed({ timeout: 3000 });
    assert.match(await err.getText(), /at least 8 characters/);

    await setField("#s-pass", PASSPHRASE);
    await setField("#s-pass2", PASSPHRASE);
    await browser.$("button=Switch store").click();
    await browser.waitUntil(async () => /Encrypted vault file/.test(await byId("status-backend").getText()), {
      timeout: 30000,
      timeoutMsg: "the status bar never showed the vault file",
    });
    assert.equal(await byId("status-health").getText(), "Healthy");
    assert.equal(await byId("status-persistence").getText(), "Survives reboot");
  });

  test("a value saved there is encrypted on disk and not in the keychain", async () => {
    await byId("nav-vault").click();
    await byId("new-secret").click();
    await browser.$("#f-name").setValue("file_only_token");
    await setField("#f-value", CANARY);
    await byId("save-secret").click();
    await browser.$('[data-testid="secret-row"][data-name="file_only_token"]').waitForExist({ timeout: 15000 });

    const hits = filesUnder(HOME).filter((f) => readFileSync(f).includes(CANARY));
    assert.deepEqual(hits, [], "no file holds the value in clear");
    let found = "";
    try {
      found = execFileSync("secret-tool", ["search", "--all", "service", keychainService], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      found = `${e.stdout ?? ""}`;
    }
    assert.ok(!found.includes(Buffer.from(CANARY).toString("base64")), "the keychain does not hold the value");
  });

  test("after a restart the file is locked until its passphrase is given", async () => {
    await browser.deleteSession();
    await open();
    assert.equal(await byId("status-health").getText(), "Locked");
    await byId("status-banner").waitForDisplayed({ timeout: 5000 });
    await byId("unlock-button").click();
    await byId("unlock-dialog").waitForDisplayed({ timeout: 3000 });

    await browser.$("#u-pass").setValue("not the passphrase");
    await browser.keys("Enter");
    const err = await browser.$("#u-pass-err");
    await err.waitForDisplayed({ timeout: 30000 });
    assert.ok((await err.getText()).length > 5, "a wrong passphrase is refused in place");

    await setField("#u-pass", PASSPHRASE);
    await browser.keys("Enter");
    await byId("unlock-dialog").waitForExist({ reverse: true, timeout: 30000 });
    assert.equal(await byId("status-health").getText(), "Healthy");
    await byId("status-banner").waitForExist({ reverse: true, timeout: 3000 });

    await browser.$('[data-testid="secret-row"][data-name="file_only_token"]').click();
    await byId("reveal-button").click();
    await byId("revealed-value").waitForDisplayed({ timeout: 5000 });
    assert.equal(await byId("revealed-value").getText(), CANARY);
  });
});
