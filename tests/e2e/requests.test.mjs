// WebDriver test of the Requests screen in the real window: a secret made in the Vault, a key
// profile made in the dialog, a request sent to a recording HTTP server on loopback, the response,
// the history, the template errors, and the proof that the value never reached the window or disk.
// Run by scripts/e2e.sh; on its own fresh profile (`keywarden --home DIR`), so it does not
// depend on what the other files left behind.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { remote } from "webdriverio";

const APP = process.env.KEYWARDEN_APP;
const HOME = mkdtempSync(join(tmpdir(), "kw-e2e-requests-"));
const SHOTS = process.env.E2E_SCREENSHOTS ?? new URL("./screenshots/", import.meta.url).pathname;
if (!APP) throw new Error("run through scripts/e2e.sh (KEYWARDEN_APP must be set)");

const CANARY = `kw_test_req_${Math.random().toString(36).slice(2, 12)}_canary`;
const SECRET = "e2e_invoices_key";
const PROFILE = "invoices-bearer";

/** @type {WebdriverIO.Browser} */
let browser;
/** @type {import("node:http").Server} */
let server;
let base = "";
/** Every request the server saw: method, url, headers, body. */
const seen = [];

const byId = (id) => browser.$(`[data-testid="${id}"]`);

/** A value in the encodings an echoing server might send it back in. */
function encodingsOf(buffer) {
  const base64 = buffer.toString("base64");
  return {
    raw: buffer.toString("utf8"),
    base64,
    base64_unpadded: base64.replace(/=+$/, ""),
    base64url: buffer.toString("base64url"),
    hex: buffer.toString("hex"),
    hex_upper: buffer.toString("hex").toUpperCase(),
  };
}
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

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

async function setSelect(selector, value) {
  await browser.execute(
    (sel, v) => {
      const el = document.querySelector(sel);
      el.value = v;
      el.dispatchEvent(new Event("change", { bubbles: true }));
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

function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

const daysFromNow = (d) => new Date(Date.now() + d * 86400_000).toISOString().slice(0, 10);

async function createSecret({ name, value, environment = "", hosts = "", expires = "", description = "" }) {
  await byId("nav-vault").click();
  await byId("new-secret").click();
  const form = await byId("secret-form");
  await form.waitForDisplayed({ timeout: 5000 });
  await browser.$("#f-name").setValue(name);
  await setField("#f-value", value);
  if (description) await browser.$("#f-description").setValue(description);
  if (environment) await browser.$("#f-environment").setValue(environment);
  if (hosts) await browser.$("#f-hosts").setValue(hosts);
  if (expires) await setField("#f-expires", expires);
  await byId("save-secret").click();
  await form.waitForExist({ reverse: true, timeout: 10000 });
  await browser.$(`[data-testid="secret-row"][data-name="${name}"]`).waitForExist({ timeout: 5000 });
}

async function setUrl(url) {
  await setField('[data-testid="url-input"]', url);
}

/** Waits until the live preview shows `text`. */
async function previewShows(text) {
  await browser.waitUntil(async () => (await byId("preview-http").isExisting()) && (await byId("preview-http").getText()).includes(text), {
    timeout: 5000,
    timeoutMsg: `the preview never showed ${text}`,
  });
}

/** Ctrl+Enter, then waits for the next answer (a response, or an error in its place). */
async function sendAndWait() {
  const seq = () => browser.execute(() => document.querySelector(".response[data-seq]")?.getAttribute("data-seq") ?? "");
  const prev = await seq();
  await byId("url-input").click();
  await browser.keys(["Control", "Enter"]);
  await browser.waitUntil(async () => (await seq()) !== prev && (await seq()) !== "", {
    timeout: 15000,
    timeoutMsg: "no answer after Ctrl+Enter",
  });
}

async function saveAs(name, collection) {
  await browser.keys(["Control", "s"]);
  await byId("save-dialog").waitForDisplayed({ timeout: 3000 });
  await browser.$("#s-name").setValue(name);
  await setField("#s-collection", collection);
  await byId("save-request-confirm").click();
  await byId("save-dialog").waitForExist({ reverse: true, timeout: 5000 });
  await browser.$(`[data-testid="saved-item"][data-name="${name}"]`).waitForExist({ timeout: 5000 });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const json = (status, obj) => {
        res.writeHead(status, { "content-type": "application/json", "x-request-served-by": "e2e-loopback" });
        res.end(JSON.stringify(obj));
      };
      if (req.url.startsWith("/anything")) return json(200, { method: req.method, headers: req.headers });
      if (req.url.startsWith("/echo-encodings")) {
        // The key sent raw comes back in every encoding a server might use, in the body and headers.
        const authorization = req.headers.authorization ?? "";
        const token = Buffer.from(authorization.replace(/^Bearer /, ""));
        const echoed = encodingsOf(token);
        echoed.whole_header_percent = encodeURIComponent(authorization);
        res.writeHead(200, { "content-type": "application/json", "x-echo-base64": echoed.base64, "x-echo-hex": echoed.hex });
        return res.end(JSON.stringify(echoed));
      }
      if (req.url.startsWith("/v1/private")) return json(403, { error: "forbidden", message: "this key may not read private reports" });
      if (req.url.startsWith("/v1/invoices") && req.method === "POST") return json(201, { id: "inv_3", status: "draft" });
      if (req.url.startsWith("/v1/invoices"))
        return json(200, {
          object: "list",
          data: [
            { id: "inv_1", customer: "cus_42", amount_due: 4200, currency: "eur", status: "paid" },
            { id: "inv_2", customer: "cus_42", amount_due: 1999, currency: "eur", status: "open" },
          ],
          has_more: false,
        });
      json(404, { error: "not_found" });
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${server.address().port}`;

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
  server?.close();
  rmSync(HOME, { recursive: true, force: true });
});

describe("Requests screen", () => {
  test("a secret in the Vault, then the empty Requests screen", async () => {
    await createSecret({
      name: SECRET,
      value: CANARY,
      environment: "staging",
      hosts: "127.0.0.1",
      expires: daysFromNow(5),
      description: "Invoices API, staging tenant",
    });
    await byId("nav-requests").click();
    await byId("response-empty").waitForDisplayed({ timeout: 5000 });
    await byId("history-empty").waitForDisplayed({ timeout: 5000 });
    await byId("toast").waitForExist({ reverse: true, timeout: 8000 }).catch(() => {});
    await browser.saveScreenshot(join(SHOTS, "requests-empty.png"));
  });

  test("create a key profile in the dialog and pick it", async () => {
    await byId("tab-auth").click();
    await byId("manage-profiles").click();
    await byId("profiles-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#p-name").setValue(PROFILE);
    await browser.waitUntil(async () => (await browser.$$('[data-testid="profile-secret"] option')).length > 0, { timeout: 5000 });
    await setSelect('[data-testid="profile-secret"]', SECRET);
    assert.equal(await byId("profile-wire").getText(), `Authorization: Bearer [secret.${SECRET}]`);
    // Every style can be chosen; the query parameter is flagged as a leak risk.
    await setSelect('[data-testid="profile-style"]', "query");
    await byId("query-warning").waitForDisplayed({ timeout: 2000 });
    await setSelect('[data-testid="profile-style"]', "jwt");
    await browser.$("#p-claims").waitForDisplayed({ timeout: 2000 });
    await pause(400);
    await browser.saveScreenshot(join(SHOTS, "profile-jwt-light.png"));
    await setSelect('[data-testid="profile-style"]', "bearer");
    await browser.$("#p-hosts").setValue("127.0.0.1");
    // The local test server speaks plain HTTP.
    await byId("profile-https-only").click();
    await byId("save-profile").click();
    await browser.$(`[data-testid="profile-item"][data-name="${PROFILE}"]`).waitForExist({ timeout: 5000 });
    await byId("use-profile").click();
    await byId("profiles-dialog").waitForExist({ reverse: true, timeout: 3000 });
    assert.equal(await byId("profile-select").getValue(), PROFILE);
    await byId("profile-card").waitForDisplayed({ timeout: 3000 });
  });

  test("the preview shows where the secret goes, without its value, as you type", async () => {
    await setUrl(`${base}/v1/invoices?limit=2`);
    await previewShows(`Authorization: Bearer [secret.${SECRET}]`);
    assert.match(await byId("preview-http").getText(), new RegExp(`^GET ${base.replace(/[.]/g, "\\.")}/v1/invoices\\?limit=2`));
    // The pre-flight check: the key expires in 5 days.
    await browser.waitUntil(async () => (await browser.$$('[data-testid="finding"][data-code="secret-expiring"]')).length === 1, { timeout: 5000 });
  });

  test("send to a local server: status, body, and the exact Authorization header on the wire", async () => {
    const before = seen.length;
    await sendAndWait();
    assert.match(await byId("response-status").getText(), /^200 OK/);
    const body = await byId("response-body").getText();
    assert.ok(body.includes('"id": "inv_1"'), `pretty-printed JSON body:\n${body}`);
    assert.equal(seen.length, before + 1);
    const got = seen[seen.length - 1];
    assert.equal(got.method, "GET");
    assert.equal(got.url, "/v1/invoices?limit=2");
    assert.equal(got.headers.authorization, `Bearer ${CANARY}`);
    // The value went to the server, and nowhere in the window.
    assert.ok(!(await browser.getPageSource()).includes(CANARY), "the secret value is not in the DOM");
    assert.ok(!(await browser.getTitle()).includes(CANARY));
  });

  test("search the response body", async () => {
    await byId("response-search").setValue("cus_42");
    await browser.waitUntil(async () => (await byId("response-matches").getText()) === "1 of 2", { timeout: 3000 });
    assert.equal((await browser.$$('[data-testid="response-body"] mark')).length, 2);
    await byId("response-tab-headers").click();
    assert.match(await byId("response-headers").getText(), /x-request-served-by\s*e2e-loopback/);
    await byId("response-tab-body").click();
  });

  test("the request is in History with its template, status and the secret's fingerprint", async () => {
    await byId("tab-history").click();
    const item = browser.$('[data-testid="history-item"]');
    await item.waitForDisplayed({ timeout: 5000 });
    assert.equal(await item.$('[data-testid="history-path"]').getProperty("textContent"), "/v1/invoices?limit=2");
    assert.equal(await item.$("button").getAttribute("title"), `${base}/v1/invoices?limit=2`);
    assert.equal(await item.$('[data-testid="history-status"]').getText(), "200");
    assert.ok((await item.$('[data-testid="history-secret"]').getText()).startsWith(SECRET));
    // Loading it back into a fresh composer restores the template and the profile.
    await byId("new-request").click();
    assert.equal(await byId("url-input").getValue(), "");
    await item.$("button").click();
    assert.equal(await byId("url-input").getValue(), `${base}/v1/invoices?limit=2`);
    await byId("tab-auth").click();
    assert.equal(await byId("profile-select").getValue(), PROFILE);
  });

  test("a template error is shown next to the field, with its position", async () => {
    await setUrl(`${base}/v1/\${secret.no_such_key}/invoices`);
    const err = await byId("url-error");
    await err.waitForDisplayed({ timeout: 5000 });
    assert.match(await err.getText(), /line 1, column \d+/);
    assert.match(await err.getText(), /no_such_key/);
    assert.equal(await byId("url-input").getAttribute("aria-invalid"), "true");
    await setUrl(`${base}/v1/invoices`);
    await err.waitForExist({ reverse: true, timeout: 5000 });
  });

  test("a key bound to its host is refused elsewhere, before anything is sent", async () => {
    const before = seen.length;
    await setUrl(`http://localhost:${server.address().port}/v1/invoices`);
    await byId("preview-error").waitForDisplayed({ timeout: 5000 });
    assert.match(await byId("preview-error").getText(), /may only (be sent|send its key) to 127\.0\.0\.1/);
    await sendAndWait();
    await byId("send-error").waitForDisplayed({ timeout: 5000 });
    assert.equal(seen.length, before, "nothing reached the server");
  });

  test("after a 403 the screen explains what may have refused it", async () => {
    await setUrl(`${base}/v1/private/reports`);
    await previewShows("/v1/private/reports");
    await sendAndWait();
    assert.match(await byId("response-status").getText(), /^403/);
    const why = await byId("refusal-explanation");
    await why.waitForDisplayed({ timeout: 3000 });
    assert.match(await why.getText(), /fingerprint/);
    await browser.saveScreenshot(join(SHOTS, "requests-403-light.png"));
  });

  test("a server that echoes the key back: the window shows a placeholder and says so", async () => {
    await setUrl(`${base}/anything`);
    await previewShows("/anything");
    await sendAndWait();
    assert.match(await byId("response-status").getText(), /^200/);
    assert.ok(seen[seen.length - 1].headers.authorization.endsWith(CANARY), "the server did get the key");
    const body = await byId("response-body").getText();
    assert.ok(body.includes(`"authorization": "Bearer [secret.${SECRET}]"`), body);
    await browser.$('[data-testid="response-finding"][data-code="response-echoes-secret"]').waitForDisplayed({ timeout: 3000 });
    assert.ok(!(await browser.getPageSource()).includes(CANARY), "the echoed value is not in the DOM");
  });

  test("a server that echoes the key back encoded: no encoding of it reaches the window", async () => {
    await setUrl(`${base}/echo-encodings`);
    await previewShows("/echo-encodings");
    await sendAndWait();
    assert.match(await byId("response-status").getText(), /^200/);
    assert.ok(seen[seen.length - 1].headers.authorization.endsWith(CANARY), "the server did get the key");
    await browser.$('[data-testid="response-finding"][data-code="response-echoes-secret"]').waitForDisplayed({ timeout: 3000 });
    const body = await byId("response-body").getText();
    for (const field of ["raw", "base64", "base64url", "hex", "hex_upper"]) {
      assert.ok(body.includes(`"${field}": "[secret.${SECRET}]"`), `${field} is shown masked: ${body}`);
    }
    const page = await browser.getPageSource();
    const encodings = encodingsOf(Buffer.from(CANARY));
    // The percent form of a value made only of unreserved characters is the value itself.
    encodings.percent = encodeURIComponent(CANARY);
    for (const [name, text] of Object.entries(encodings)) {
      assert.ok(!page.includes(text), `the ${name} encoding of the key reached the page`);
    }
    await browser.saveScreenshot(join(SHOTS, "requests-echo-encoded-light.png"));
  });

  test("save with Ctrl+S into a collection; copy as curl, redacted and with secrets", async () => {
    await setUrl(`${base}/v1/invoices?limit=2`);
    await previewShows("limit=2");
    await saveAs("List invoices", "Billing");
    assert.match(await byId("request-origin").getText(), /Billing \/ List invoices/);
    await byId("copy-curl").click();
    await browser.waitUntil(async () => /Copied as curl/.test(await byId("toast").getText()), { timeout: 5000 });
    await byId("copy-curl-secrets").click();
    await byId("reveal-curl-dialog").waitForDisplayed({ timeout: 3000 });
    await byId("reveal-curl-dialog-confirm").click();
    await byId("reveal-curl-dialog").waitForExist({ reverse: true, timeout: 5000 });
    await browser.waitUntil(async () => /clipboard clears in 30 s/.test(await byId("toast").getText()), { timeout: 5000 });
    assert.ok(!(await browser.getPageSource()).includes(CANARY));
  });

  test("nothing left the value in the window's storage or on disk", async () => {
    const hits = filesUnder(HOME).filter((f) => readFileSync(f).includes(CANARY));
    assert.deepEqual(hits, [], "files under KEYWARDEN_HOME containing the value");
    const storage = await browser.execute(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!storage.includes(CANARY));
  });

  test("screenshots of the Requests screen, light and dark", async () => {
    // An environment with the query parameter that names it, and a production one.
    await byId("manage-environments").click();
    await byId("environments-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$("#e-name").setValue("Test");
    const names = await browser.$$('[data-testid="env-variables"] [data-testid="kv-name"]');
    await names[0].setValue("tenant");
    const values = await browser.$$('[data-testid="env-variables"] [data-testid="kv-value"]');
    await values[0].setValue("acme-test");
    await browser.$('input[aria-label="Query parameter name"]').setValue("_profile");
    await browser.$('input[aria-label="Query parameter value"]').setValue("Test");
    await byId("save-environment").click();
    await browser.$('[data-testid="environment-item"][data-name="Test"]').waitForExist({ timeout: 5000 });
    await byId("new-environment").click();
    await browser.$("#e-name").setValue("Production");
    await byId("env-production").click();
    await byId("save-environment").click();
    await browser.$('[data-testid="environment-item"][data-name="Production"]').waitForExist({ timeout: 5000 });
    await browser.keys("Escape");
    await byId("environments-dialog").waitForExist({ reverse: true, timeout: 3000 });

    // A few saved requests in two collections.
    await byId("new-request").click();
    await setSelect('[data-testid="method-select"]', "POST");
    await setUrl(`${base}/v1/invoices`);
    await byId("tab-body").click();
    await byId("body-json").click();
    await setField('[data-testid="body-text"]', '{\n  "customer": "cus_42",\n  "tenant": "${env.tenant}"\n}');
    await byId("tab-auth").click();
    await setSelect('[data-testid="profile-select"]', PROFILE);
    await setSelect('[data-testid="env-select"]', "Test");
    await previewShows("_profile=Test");
    await saveAs("Create invoice", "Billing");
    await sendAndWait();

    await byId("new-request").click();
    await setUrl(`${base}/v1/private/reports`);
    await saveAs("Private reports", "Reporting");

    // The screen to look at: the invoice list, with the staging key in the Test environment.
    await byId("tab-saved").click();
    await browser.$('[data-testid="saved-item"][data-name="List invoices"] button').click();
    await setSelect('[data-testid="env-select"]', "Test");
    await byId("tab-headers").click();
    const hn = await browser.$$('[data-testid="headers-editor"] [data-testid="kv-name"]');
    await hn[0].setValue("Accept");
    const hv = await browser.$$('[data-testid="headers-editor"] [data-testid="kv-value"]');
    await hv[0].setValue("application/json");
    const hn2 = await browser.$$('[data-testid="headers-editor"] [data-testid="kv-name"]');
    await hn2[1].setValue("X-Request-Id");
    const hv2 = await browser.$$('[data-testid="headers-editor"] [data-testid="kv-value"]');
    await hv2[1].setValue("${uuid()}");
    await previewShows("X-Request-Id");
    await sendAndWait();
    await byId("tab-history").click();
    await byId("toast").waitForExist({ reverse: true, timeout: 8000 }).catch(() => {});
    await browser.$("body").moveTo({ xOffset: 5, yOffset: 5 });
    await setTheme("light");
    await pause(400);
    await browser.saveScreenshot(join(SHOTS, "requests-light.png"));
    await setTheme("dark");
    await pause(400);
    await browser.saveScreenshot(join(SHOTS, "requests-dark.png"));

    // The Auth tab and the dialogs, for looking at.
    await byId("tab-auth").click();
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "requests-auth-dark.png"));
    await byId("manage-profiles").click();
    await byId("profiles-dialog").waitForDisplayed({ timeout: 5000 });
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "profiles-dark.png"));
    await browser.keys("Escape");
    await setTheme("light");
    await byId("manage-environments").click();
    await byId("environments-dialog").waitForDisplayed({ timeout: 5000 });
    await browser.$('[data-testid="environment-item"][data-name="Test"]').click();
    await pause(300);
    await browser.saveScreenshot(join(SHOTS, "environments-light.png"));
    await browser.keys("Escape");
    // A narrow window (close to the minimum size), for looking at.
    try {
      await browser.setWindowSize(940, 620);
      await pause(500);
      await browser.saveScreenshot(join(SHOTS, "requests-narrow-light.png"));
      await browser.setWindowSize(1200, 760);
    } catch (e) {
      console.log(`window resize not available: ${e.message}`);
    }
    assert.ok(statSync(join(SHOTS, "requests-light.png")).size > 10_000);
    assert.ok(statSync(join(SHOTS, "requests-dark.png")).size > 10_000);
    assert.ok(!(await browser.getPageSource()).includes(CANARY));
  });

  test("typing ${ in a value completes secret names from the vault", async () => {
    await byId("tab-headers").click();
    const names = await browser.$$('[data-testid="headers-editor"] [data-testid="kv-name"]');
    const last = names.length - 1;
    await names[last].setValue("X-Trace-Key");
    const values = await browser.$$('[data-testid="headers-editor"] [data-testid="kv-value"]');
    await values[last].click();
    await values[last].addValue("${sec");
    await byId("template-menu").waitForDisplayed({ timeout: 3000 });
    await browser.keys("Enter");
    await browser.waitUntil(async () => (await values[last].getValue()) === "${secret.", { timeout: 3000 });
    await browser.waitUntil(async () => ((await byId("template-menu").getProperty("textContent")) ?? "").includes(`secret.${SECRET}`), {
      timeout: 3000,
      timeoutMsg: "the menu never offered the secret's name",
    });
    await browser.saveScreenshot(join(SHOTS, "requests-completion-light.png"));
    await browser.keys("Enter");
    await browser.waitUntil(async () => (await values[last].getValue()) === `\${secret.${SECRET}}`, { timeout: 3000 });
    await previewShows(`X-Trace-Key: [secret.${SECRET}]`);
    await browser.$('[data-testid="headers-editor"] button[aria-label="Remove X-Trace-Key"]').click();
  });

  test("delete a saved request and clear the history, each after confirming", async () => {
    await byId("tab-saved").click();
    const item = browser.$('[data-testid="saved-item"][data-name="Private reports"]');
    await item.moveTo();
    await item.$('button[aria-label="Delete Private reports"]').click();
    await byId("delete-saved-dialog").waitForDisplayed({ timeout: 3000 });
    await byId("delete-saved-dialog-confirm").click();
    await item.waitForExist({ reverse: true, timeout: 5000 });
    await byId("tab-history").click();
    await byId("clear-history").click();
    await byId("clear-history-dialog").waitForDisplayed({ timeout: 3000 });
    await browser.keys("Escape");
    await byId("clear-history-dialog").waitForExist({ reverse: true, timeout: 3000 });
    assert.ok((await browser.$$('[data-testid="history-item"]')).length > 0, "Esc keeps the history");
    await byId("clear-history").click();
    await byId("clear-history-dialog-confirm").click();
    await byId("history-empty").waitForDisplayed({ timeout: 5000 });
  });
});
