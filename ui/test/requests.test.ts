import { describe, expect, test } from "vitest";
import type { KeyProfile } from "../src/ipc/bindings";
import {
  STYLE_KINDS,
  activeCount,
  cleanSpec,
  completionsAt,
  defaultStyle,
  emptySpec,
  errorPlace,
  errorText,
  formatBytes,
  formatDuration,
  groupByCollection,
  jsonTokens,
  presentation,
  prettyBody,
  sameSpec,
  splitMatches,
  splitUrl,
  statusClass,
  switchBody,
} from "../src/requests/model";

describe("errorPlace: an error from Rust lands next to its field", () => {
  test.each([
    ["URL", { tab: "url" }],
    ["method", { tab: "method" }],
    ["query page", { tab: "query", name: "page" }],
    ["query", { tab: "query", name: null }],
    ["header X-Api-Key", { tab: "headers", name: "X-Api-Key" }],
    ["headers", { tab: "headers", name: null }],
    ["body", { tab: "body", name: null }],
    ["form field user", { tab: "body", name: "user" }],
    ["profile billing header Authorization", { tab: "auth" }],
    ["profile", { tab: "auth" }],
    ["environment query _profile", { tab: "environment" }],
    ["environment", { tab: "environment" }],
  ])("%s", (field, want) => expect(errorPlace({ field })).toEqual(want));
  test("no field: the request as a whole", () => expect(errorPlace({ field: null })).toEqual({ tab: "request" }));
});

describe("errorText", () => {
  test("drops the field name Rust puts in front", () =>
    expect(errorText({ field: "URL", message: "URL: template error at line 1, column 9: unknown secret `x`." })).toBe(
      "Template error at line 1, column 9: unknown secret `x`.",
    ));
  test("keeps messages about other things", () => expect(errorText({ field: "name", message: "Name taken." })).toBe("Name taken."));
  test("a refusal is not introduced twice", () =>
    expect(errorText({ field: null, message: "Refused: the secret `k` may only be sent to a.example." })).toBe("The secret `k` may only be sent to a.example."));
});

describe("presentation: what a profile puts on the wire", () => {
  const p = (style: KeyProfile["style"]) => presentation({ secret: "k", style });
  test("every style", () => {
    expect(p({ kind: "bearer" })).toEqual({ where: "header", name: "Authorization", value: "Bearer [secret.k]" });
    expect(p({ kind: "keyEquals" }).value).toBe("Key=[secret.k]");
    expect(p({ kind: "basic", user: "haplo" }).value).toBe("Basic base64(haplo:[secret.k])");
    expect(p({ kind: "header", name: "X-Api-Key", template: "Token ${secret.k}" })).toEqual({ where: "header", name: "X-Api-Key", value: "Token [secret.k]" });
    expect(p({ kind: "apiToken", header: "X-API-Token" })).toEqual({ where: "header", name: "X-API-Token", value: "[secret.k]" });
    expect(p({ kind: "jwt", algorithm: "HS256", claims: "{}", lifetimeSeconds: 60, header: null, scheme: null }).value).toBe("Bearer jwt(HS256, [secret.k])");
    expect(p({ kind: "jwt", algorithm: "RS256", claims: "{}", lifetimeSeconds: null, header: "X-Jwt", scheme: "" })).toEqual({ where: "header", name: "X-Jwt", value: "jwt(RS256, [secret.k])" });
    expect(p({ kind: "query", param: "auth-key" })).toEqual({ where: "query", name: "auth-key", value: "[secret.k]" });
  });
  test("every kind has a default", () => {
    for (const k of STYLE_KINDS) expect(defaultStyle(k.kind, "k").kind).toBe(k.kind);
  });
});

describe("cleanSpec", () => {
  test("drops blank rows, trims names, upper-cases the method", () => {
    const s = cleanSpec({
      ...emptySpec(),
      method: "post",
      url: "  https://a.example/x ",
      headers: [
        { name: " X-A ", value: "1", enabled: true },
        { name: "", value: "", enabled: true },
      ],
      profile: "",
    });
    expect(s.method).toBe("POST");
    expect(s.url).toBe("https://a.example/x");
    expect(s.headers).toEqual([{ name: "X-A", value: "1", enabled: true }]);
    expect(s.profile).toBeNull();
  });
  test("sameSpec ignores a trailing blank row", () => {
    const a = { ...emptySpec(), url: "https://a.example" };
    expect(sameSpec(a, { ...a, query: [{ name: "", value: "", enabled: true }] })).toBe(true);
    expect(sameSpec(a, { ...a, method: "PUT" })).toBe(false);
  });
  test("activeCount counts enabled, filled rows", () =>
    expect(
      activeCount([
        { name: "a", value: "1", enabled: true },
        { name: "b", value: "2", enabled: false },
        { name: "", value: "", enabled: true },
      ]),
    ).toBe(1));
});

describe("body kinds", () => {
  test("text survives switching between JSON and raw", () => {
    const raw = switchBody({ kind: "json", template: '{"a":1}' }, "raw");
    expect(raw).toEqual({ kind: "raw", contentType: "text/plain", template: '{"a":1}' });
    expect(switchBody(raw, "json")).toEqual({ kind: "json", template: '{"a":1}' });
    expect(switchBody(raw, "none")).toEqual({ kind: "none" });
  });
});

describe("response helpers", () => {
  test.each([
    [200, "ok"],
    [204, "ok"],
    [302, "redirect"],
    [401, "client"],
    [503, "server"],
    [null, "none"],
  ] as const)("status %s is %s", (s, want) => expect(statusClass(s)).toBe(want));
  test("sizes and durations", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MB");
    expect(formatDuration(0.42)).toBe("0.4 ms");
    expect(formatDuration(42.4)).toBe("42 ms");
    expect(formatDuration(1250)).toBe("1.25 s");
  });
  test("JSON is pretty-printed, anything else kept", () => {
    expect(prettyBody('{"a":[1,2]}', "application/json")).toEqual({ text: '{\n  "a": [\n    1,\n    2\n  ]\n}', json: true });
    expect(prettyBody("{not json", "application/json")).toEqual({ text: "{not json", json: false });
    expect(prettyBody("plain", "text/plain")).toEqual({ text: "plain", json: false });
  });
  test("search splits around case-insensitive matches", () => {
    expect(splitMatches("Cus_42 and cus_42", "CUS_42")).toEqual({ parts: ["", "Cus_42", " and ", "cus_42", ""], count: 2 });
    expect(splitMatches("abc", "")).toEqual({ parts: ["abc"], count: 0 });
  });
});

describe("lists", () => {
  test("saved requests grouped by collection", () => {
    const r = (collection: string, name: string) => ({ id: name, collection, name, spec: emptySpec() });
    expect(groupByCollection([r("Billing", "a"), r("Billing", "b"), r("Reports", "c")]).map((g) => [g.collection, g.items.length])).toEqual([
      ["Billing", 2],
      ["Reports", 1],
    ]);
  });
  test.each([
    ["https://api.example/v1/items?x=1", { host: "api.example", path: "/v1/items?x=1" }],
    ["https://${env.host}/v1", { host: "${env.host}", path: "/v1" }],
    ["api.example", { host: "api.example", path: "/" }],
  ])("splitUrl %s", (url, want) => expect(splitUrl(url)).toEqual(want));
});

describe("jsonTokens", () => {
  test("colours keys, strings, numbers and literals, and loses nothing", () => {
    const text = '{\n  "a": "x\\"y",\n  "n": -1.5e3,\n  "ok": true,\n  "z": null\n}';
    const toks = jsonTokens(text);
    expect(toks.map((t) => t.s).join("")).toBe(text);
    expect(toks.filter((t) => t.t === "key").map((t) => t.s)).toEqual(['"a"', '"n"', '"ok"', '"z"']);
    expect(toks.filter((t) => t.t === "str").map((t) => t.s)).toEqual(['"x\\"y"']);
    expect(toks.filter((t) => t.t === "num").map((t) => t.s)).toEqual(["-1.5e3"]);
    expect(toks.filter((t) => t.t === "lit").map((t) => t.s)).toEqual(["true", "null"]);
  });
});

describe("completionsAt: typing ${ offers secrets, variables and functions", () => {
  const hints = { secrets: ["billing_api", "github_token", "api_billing_old"], variables: ["host", "tenant"] };
  const at = (t: string) => completionsAt(t, t.length, hints);
  test("after ${ the namespaces and functions", () => {
    const r = at("Bearer ${")!;
    expect(r.from).toBe(9);
    expect(r.items.slice(0, 2).map((c) => c.insert)).toEqual(["secret.", "env."]);
    expect(r.items.some((c) => c.insert === "uuid()")).toBe(true);
  });
  test("secret names, prefix matches first, closed at top level", () => {
    const r = at("Bearer ${secret.bill")!;
    expect(r.from).toBe(9);
    expect(r.items.map((c) => c.insert)).toEqual(["secret.billing_api", "secret.api_billing_old"]);
    expect(r.items[0]!.closes).toBe(true);
  });
  test("inside a function call the expression is not closed", () => {
    const r = at("${base64(secret.git")!;
    expect(r.items.map((c) => c.insert)).toEqual(["secret.github_token"]);
    expect(r.items[0]!.closes).toBe(false);
  });
  test("environment variables", () => expect(at("https://${env.h")!.items.map((c) => c.insert)).toEqual(["env.host"]));
  test("functions by prefix, caret inside the parentheses", () => {
    const r = at("${bas")!;
    expect(r.items.map((c) => c.insert)).toEqual(["base64()", "base64url()", "basic()"]);
    expect(r.items[0]!.caretBack).toBe(1);
  });
  test("nothing outside an open expression or after a literal $${", () => {
    expect(at("plain text")).toBeNull();
    expect(at("${secret.a} and more")).toBeNull();
    expect(at("$${secret.")).toBeNull();
    expect(at("${secret.zzz")).toBeNull();
  });
});
