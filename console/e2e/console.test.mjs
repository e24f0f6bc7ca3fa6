// The console in a real browser, against a running Warden: sign-in, an
// agent, tools attached through their schema forms, write-only secrets, an
// OAuth2 connection through the provider's consent page, try-it and the audit
// trail. Each step asserts what an operator would see.
//
//   node --test --test-reporter=spec e2e/
//
// Environment (runtime/cli/tests/all/console.rs sets it up against
// `warden serve` and the Google stand-in): WARDEN_URL, WARDEN_API_KEY,
// WARDEN_CHROMIUM, GOOGLE_API_BASE, GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET,
// WARDEN_E2E_COMPONENT (the echo tool's .wasm, uploaded through the page),
// and optionally WARDEN_SCREENSHOTS (a directory for PNGs of the main pages).
// Without the required variables the suite is skipped.
//
// The steps share one page and run in order; after a failed step the rest
// are skipped, so the first failure is the one reported.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";

const REQUIRED = [
  "WARDEN_URL",
  "WARDEN_API_KEY",
  "WARDEN_CHROMIUM",
  "GOOGLE_API_BASE",
  "GOOGLE_CLIENT_ID",
  "GOOGLE_CLIENT_SECRET",
  "WARDEN_E2E_COMPONENT",
];
const missing = REQUIRED.filter((n) => !process.env[n]);

/** How long any one thing may take to appear. */
const WAIT = 15_000;
/** How long one step may take. */
const STEP = 90_000;

const URL_ = (process.env.WARDEN_URL ?? "").replace(/\/+$/, "");
const KEY = process.env.WARDEN_API_KEY ?? "";
const GOOGLE_API_BASE = process.env.GOOGLE_API_BASE ?? "";
const CLIENT_ID = process.env.GOOGLE_CLIENT_ID ?? "";
const CLIENT_SECRET = process.env.GOOGLE_CLIENT_SECRET ?? "";
const SHOTS = process.env.WARDEN_SCREENSHOTS || null;
/** A tool component (the echo test tool) uploaded through the console. */
const COMPONENT = process.env.WARDEN_E2E_COMPONENT ?? "";
const CONSOLE = URL_ + "/console/";
const AGENT_NAME = "Front desk";
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"];

let browser;
let context;
let page;

// What the page did, collected for the checks at the end.
const bodies = []; // { url, status, text } of /console/api/* and /oauth/* responses
const bodyReads = []; // the pending reads of those bodies
const requests = []; // { method, url } of every request the page made
const consoleErrors = []; // { page, text }
const pageErrors = []; // { page, text }
const cspViolations = []; // { page, detail }
const storageWrites = []; // what script wrote to Web Storage or document.cookie

// Shared between the steps.
const state = { agentId: "", toolIds: {}, isOpenInvocation: "" };
let failed = null;

/** A step: skipped once an earlier one failed. */
function step(name, fn) {
  test(name, { timeout: STEP }, async (t) => {
    if (failed) {
      t.skip(`an earlier step failed: ${failed}`);
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      failed = name;
      throw err;
    }
  });
}

/** Where the page is and what it says, for failure messages. */
async function where() {
  let text = "";
  try {
    text = await page.evaluate(() => (document.body ? document.body.innerText : ""));
  } catch (err) {
    text = `(page text unavailable: ${err.message})`;
  }
  text = text.replace(/\n{2,}/g, "\n").trim();
  if (text.length > 1500) text = text.slice(0, 1500) + "…";
  return `\n  at ${page.url()}\n  page text:\n${text.replace(/^/gm, "    ")}`;
}

/** Waits until `selector` (a string or a locator) is visible; fails with `what`. */
async function see(selector, what) {
  const loc = typeof selector === "string" ? page.locator(selector) : selector;
  try {
    await loc.first().waitFor({ state: "visible", timeout: WAIT });
  } catch {
    assert.fail(`${what}: not visible within ${WAIT / 1000} s${await where()}`);
  }
  return loc.first();
}

/** Waits until `selector` is gone (or hidden). */
async function gone(selector, what) {
  const loc = typeof selector === "string" ? page.locator(selector) : selector;
  try {
    await loc.first().waitFor({ state: "hidden", timeout: WAIT });
  } catch {
    assert.fail(`${what}: still visible after ${WAIT / 1000} s${await where()}`);
  }
}

/** Waits until the text of `selector` matches `re`; returns the text. */
async function seeText(selector, re, what) {
  const loc = await see(selector, what);
  const deadline = Date.now() + WAIT;
  let text = "";
  for (;;) {
    text = (await loc.textContent()) ?? "";
    if (re.test(text)) return text;
    if (Date.now() > deadline) assert.fail(`${what}: text ${JSON.stringify(text)} does not match ${re}${await where()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A 1280×800 PNG of the page, scrolled so `scrollTo` is in view, or with
 * `top` so that its top edge is at the top of the window. */
/** Polls `fn` until it returns something other than null; fails with `what`. */
async function until(fn, what) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const value = await fn();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${WAIT / 1000} s${await where()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function screenshot(name, scrollTo, { top = false } = {}) {
  if (!SHOTS) return;
  if (scrollTo && top) {
    await page.locator(scrollTo).first().evaluate((el) => el.scrollIntoView({ block: "start" }));
  } else if (scrollTo) await page.locator(scrollTo).first().scrollIntoViewIfNeeded();
  else await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, name + ".png") });
}

/** The `/v1` API with the key, from Node (what the server holds, not what the page shows). */
async function v1(method, path, body) {
  const res = await fetch(URL_ + "/v1" + path, {
    method,
    headers: {
      authorization: "Bearer " + KEY,
      accept: "application/json, application/problem+json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, type: res.headers.get("content-type") ?? "", json, text };
}

async function attachedTools() {
  const r = await v1("GET", `/agents/${encodeURIComponent(state.agentId)}/tools`);
  assert.equal(r.status, 200, `GET /v1/agents/{id}/tools: ${r.status} ${r.text}`);
  return r.json;
}

/** Every recorded response body, once all reads finished. */
async function recordedBodies() {
  await Promise.allSettled(bodyReads);
  return bodies;
}

async function inputValues() {
  return page.$$eval("input, textarea", (els) => els.map((e) => /** @type {HTMLInputElement} */ (e).value));
}

/** Opens the agent page from the agents list, as a user would. */
async function openAgent() {
  await page.locator("[data-testid=nav-agents]").click();
  const row = await see(`[data-testid=agent-row][data-agent-name="${AGENT_NAME}"]`, "the agent in the agents list");
  await row.locator("[data-testid=agent-link]").click();
  await see(`[data-testid=agent-page][data-agent-id="${state.agentId}"]`, "the agent page");
  await see(`[data-testid=attach-tool] #attach-tool-select`, "the attach-a-tool selector");
}

describe("the console in a browser", { skip: missing.length ? `set ${missing.join(", ")} (see console/README.md)` : false }, () => {
  before(async () => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: process.env.WARDEN_CHROMIUM,
      headless: true,
      timeout: 60_000,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(WAIT);
    context.setDefaultNavigationTimeout(WAIT);

    // Reports from inside the page: CSP violations and anything script
    // writes to storage or cookies (survives navigations, unlike page state).
    await context.exposeBinding("__wardenReport", (source, kind, detail) => {
      const at = source.frame.url();
      if (kind === "csp") cspViolations.push({ page: at, detail });
      else storageWrites.push({ page: at, kind, detail });
    });
    await context.addInitScript(() => {
      const report = (kind, detail) => {
        try {
          window.__wardenReport(kind, detail);
        } catch {
          // The binding is always there; nothing to do if not.
        }
      };
      document.addEventListener("securitypolicyviolation", (e) => {
        report("csp", `${e.violatedDirective} blocked ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
      });
      const setItem = Storage.prototype.setItem;
      Storage.prototype.setItem = function (k, v) {
        report("storage", `${this === window.sessionStorage ? "sessionStorage" : "localStorage"}.setItem(${k}, ${v})`);
        return setItem.call(this, k, v);
      };
      const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
      Object.defineProperty(Document.prototype, "cookie", {
        configurable: true,
        enumerable: cookie.enumerable,
        get() {
          return cookie.get.call(this);
        },
        set(v) {
          report("cookie", `document.cookie = ${v}`);
          cookie.set.call(this, v);
        },
      });
    });

    page = await context.newPage();
    page.on("response", (res) => {
      let path;
      try {
        path = new URL(res.url()).pathname;
      } catch {
        return;
      }
      if (!path.startsWith("/console/api/") && !path.startsWith("/oauth/")) return;
      bodyReads.push(
        res.text().then(
          (text) => bodies.push({ url: res.url(), status: res.status(), text }),
          () => {}, // redirects and aborted loads have no body
        ),
      );
    });
    page.on("request", (req) => requests.push({ method: req.method(), url: req.url() }));
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const text = msg.text();
      consoleErrors.push({ page: page.url(), text });
      // Chromium reports a blocked load or script as a console error too.
      if (/Content Security Policy/i.test(text)) cspViolations.push({ page: page.url(), detail: text });
    });
    page.on("pageerror", (err) => pageErrors.push({ page: page.url(), text: String(err && err.stack ? err.stack : err) }));

    const tools = await v1("GET", "/tools");
    assert.equal(tools.status, 200, `GET /v1/tools: ${tools.status} ${tools.text}`);
    for (const t of tools.json) state.toolIds[t.name] = t.id;
    state.tools = tools.json;
    for (const name of ["business_hours", "google_calendar"]) {
      assert.ok(state.toolIds[name], `${name} is not in the catalogue: ${tools.text.slice(0, 500)}`);
    }
  });

  after(async () => {
    if (browser) await browser.close();
    if (consoleErrors.length) {
      // Expected ones (a 401 for the wrong key, for the signed-out page) are
      // listed for whoever reads a failure; they fail nothing.
      console.log("console errors seen:\n" + consoleErrors.map((e) => `  ${e.page}: ${e.text}`).join("\n"));
    }
  });

  step("sign-in refuses a wrong key and accepts the organization's key, keeping it out of reach of script", async () => {
    const res = await page.goto(CONSOLE);
    assert.equal(res?.status(), 200, `GET /console/: ${res?.status()}`);
    const csp = (await res.headerValue("content-security-policy")) ?? "";
    assert.match(csp, /script-src 'self'/, `the console is served with its CSP: ${csp}`);
    await see("#api-key", "the API key field");
    await screenshot("01-sign-in");

    await page.fill("#api-key", "wdn_not_a_real_key_0000000000000000");
    await page.click("#sign-in");
    await seeText("[data-testid=sign-in-error]", /not accepted/i, "the wrong key's error");
    assert.equal(await page.locator("[data-testid=nav-agents]").count(), 0, "a wrong key does not sign in");
    assert.equal(await page.inputValue("#api-key"), "", "the refused key is cleared from the field");

    await page.fill("#api-key", KEY);
    await page.click("#sign-in");
    await see("[data-testid=nav-agents]", "the console's navigation after signing in");
    await see("#new-agent-name", "the agents page");
    await seeText("[data-testid=org-name]", /\S/, "the organization's name");

    // The session is an HttpOnly cookie: script cannot read it.
    const cookies = await context.cookies(URL_ + "/console/api/session");
    const session = cookies.filter((c) => c.httpOnly);
    assert.ok(session.length > 0, `a session cookie is set and HttpOnly: ${JSON.stringify(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly })))}`);
    assert.deepEqual(cookies.filter((c) => !c.httpOnly).map((c) => c.name), [], "no cookie readable by script");
    const docCookie = await page.evaluate(() => document.cookie);
    for (const c of session) {
      assert.ok(!docCookie.includes(c.value), "document.cookie does not show the session");
      assert.ok(!docCookie.includes(c.name + "="), "document.cookie does not name the session");
    }
    const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }));
    assert.deepEqual(storage, { local: 0, session: 0 }, "nothing in localStorage or sessionStorage");
    assert.deepEqual(storageWrites, [], "script wrote nothing to storage or cookies");
    assert.ok(!(await page.content()).includes(KEY), "the key is not in the page");
    assert.ok(!(await inputValues()).some((v) => v.includes(KEY)), "the key is not in any field");
  });

  step("create the agent Front desk", async () => {
    await page.fill("#new-agent-name", AGENT_NAME);
    await page.fill("#new-agent-description", "Answers the phone for the clinic");
    await page.fill("#new-agent-prompt", "You are the front desk of a dental clinic. Be brief and friendly.");
    await page.click("#create-agent");
    const agentPage = await see("[data-testid=agent-page]", "the new agent's page");
    state.agentId = (await agentPage.getAttribute("data-agent-id")) ?? "";
    assert.ok(state.agentId, "the agent page names its agent");
    await seeText("[data-testid=agent-title]", new RegExp(`^${AGENT_NAME}$`), "the agent's name as the page title");

    const r = await v1("GET", `/agents/${encodeURIComponent(state.agentId)}`);
    assert.equal(r.status, 200, `the agent exists on the server: ${r.text}`);
    assert.equal(r.json.name, AGENT_NAME);

    await page.locator("[data-testid=nav-agents]").click();
    await see(`[data-testid=agent-row][data-agent-name="${AGENT_NAME}"]`, "the agent in the agents list");
    await screenshot("02-agents");
    await openAgent();
  });

  step("attach business_hours: a missing required field is refused by the form and by the server, then the filled form attaches it", async () => {
    const toolId = state.toolIds.business_hours;
    const schema = state.tools.find((t) => t.name === "business_hours").config_schema;
    assert.ok(Array.isArray(schema.required) && schema.required.includes("time_zone"), `time_zone is required: ${JSON.stringify(schema.required)}`);

    await page.selectOption("#attach-tool-select", toolId);
    await see("#attach_time_zone", "the time_zone field of business_hours' config form");
    const putsBefore = requests.filter((r) => r.method === "PUT").length;
    await page.click("#attach-save");
    await seeText("[data-testid=attach-tool] .error-detail", /\S/, "the field error for the empty time zone");
    await seeText("[data-testid=attach-tool] .errors", /time_zone/, "the form's error list naming time_zone");
    assert.equal(await page.locator("[data-testid=attach-done]").count(), 0, "the form did not report an attachment");
    assert.equal(requests.filter((r) => r.method === "PUT").length, putsBefore, "the form sent nothing");
    assert.deepEqual(await attachedTools(), [], "business_hours is not attached");

    // The server refuses the same config on its own.
    const refused = await v1("PUT", `/agents/${encodeURIComponent(state.agentId)}/tools/${encodeURIComponent(toolId)}`, {
      config: { weekly_hours: { monday: [{ open: "09:00", close: "17:00" }] } },
    });
    assert.equal(refused.status, 422, `the server refuses a config without time_zone: ${refused.status} ${refused.text}`);
    assert.match(refused.type, /^application\/problem\+json/, `as a problem document: ${refused.type}`);
    assert.equal(refused.json?.status, 422, refused.text);
    assert.deepEqual(await attachedTools(), [], "business_hours is still not attached");

    // Filled in as an operator would: the time zone, and weekdays 09:00-17:00.
    await page.fill("#attach_time_zone", "America/New_York");
    for (const day of WEEKDAYS) {
      const list = await see(`fieldset#attach_weekly_hours_${day}`, `the ${day} opening hours`);
      await list.locator(".array-item-add button").last().click();
      await see(`#attach_weekly_hours_${day}_0_open`, `${day}'s first opening time`);
      await page.fill(`#attach_weekly_hours_${day}_0_open`, "09:00");
      await page.fill(`#attach_weekly_hours_${day}_0_close`, "17:00");
    }
    await page.click("#attach-save");
    await seeText("[data-testid=attach-done]", /Attached business_hours/, "the attach confirmation");
    await see("[data-testid=agent-tool-business_hours]", "business_hours among the agent's tools");
    await gone("[data-testid=attach-tool] .errors", "the form's error list");

    const attached = await attachedTools();
    const bh = attached.find((a) => a.tool_id === toolId);
    assert.ok(bh, `business_hours is attached: ${JSON.stringify(attached)}`);
    assert.equal(bh.config.time_zone, "America/New_York");
    assert.deepEqual(bh.config.weekly_hours.monday, [{ open: "09:00", close: "17:00" }]);
    assert.equal(bh.is_enabled, true);
  });

  step("Test business_hours: the result is ok", async () => {
    const card = page.locator("[data-testid=agent-tool-business_hours]");
    await card.locator("[data-testid=tool-test]").click();
    await see(card.locator("[data-testid=test-result]"), "the test result");
    assert.equal(await card.locator("[data-testid=test-result]").getAttribute("data-ok"), "true", `the test passed${await where()}`);
    await seeText(card.locator("[data-testid=test-result]"), /America\/New_York/, "the test's summary of the config");
    assert.equal(await card.locator("[data-testid=test-problem]").count(), 0, "no problem shown");
  });

  step("Try it: business_hours__is_open answers with an invocation id, at several moments", async () => {
    await page.selectOption("#try-function", "business_hours__is_open");
    await see("#try_at", "the `at` argument of is_open");
    // Weekdays 09:00-17:00 in New York. A few calls first, so the audit
    // trail's chart has more than one point; the last one (a Monday, 10:00)
    // is the one looked for in the audit trail.
    const ids = [];
    for (const [at, open] of [
      ["2026-03-09T08:30", false], // Monday, before opening
      ["2026-03-10T16:45", true], // Tuesday, before closing
      ["2026-03-14T12:00", false], // Saturday
      ["2026-03-09T10:00", true], // Monday, 10:00
    ]) {
      await page.fill("#try_at", at);
      await page.click("#try-run");
      await see("[data-testid=try-result]", `the try-it result for ${at}`);
      // The result of this call, not the one before: a new invocation id.
      const id = await until(async () => {
        const shown = page.locator("[data-testid=try-invocation-id]");
        if ((await shown.count()) === 0) return null;
        const text = ((await shown.first().textContent()) ?? "").trim();
        return /^\S{8,}$/.test(text) && !ids.includes(text) ? text : null;
      }, `a new invocation id for ${at} (after ${ids.join(", ") || "none"})`);
      ids.push(id);
      const json = JSON.parse((await page.textContent("[data-testid=try-result-json]")) ?? "null");
      assert.equal(json?.open, open, `open at ${at} is ${open}: ${JSON.stringify(json)}`);
      assert.equal(await page.locator("[data-testid=try-problem]").count(), 0, `no problem shown for ${at}`);
    }
    state.isOpenInvocation = ids[ids.length - 1];
    state.isOpenCalls = ids.length;
    await screenshot("03-agent-tools", "[data-testid=agent-tools]");
    await screenshot("04-agent-try-it", "[data-testid=try-result]");
  });

  step("Invocations: the is_open call is listed, with the tool's health and chart", async () => {
    await page.locator("[data-testid=nav-invocations]").click();
    const row = await see(`[data-testid=invocation-row][data-invocation-id="${state.isOpenInvocation}"]`, "the is_open invocation");
    assert.equal(await row.getAttribute("data-function"), "is_open");
    assert.equal(await row.getAttribute("data-outcome"), "ok");
    const health = await see("[data-testid=health-business_hours]", "business_hours' health card");
    await seeText(health.locator("[data-testid=health-calls]"), /^[1-9]/, "business_hours' call count");
    const calls = Number(((await health.locator("[data-testid=health-calls]").textContent()) ?? "").replace(/\D/g, ""));
    assert.ok(calls >= state.isOpenCalls, `business_hours' health counts the ${state.isOpenCalls} try-it calls: ${calls}`);
    for (const testId of ["health-p50", "health-p95", "health-p99"]) {
      await seeText(health.locator(`[data-testid=${testId}]`), /\d/, `business_hours' ${testId.slice(7)}`);
    }
    const chart = await see(health.locator("[data-testid=sparkline]"), "business_hours' duration chart");
    assert.ok((await chart.locator("circle").count()) >= state.isOpenCalls, "the chart has a point per listed call");
    const listed = await page.locator("[data-testid=invocation-row][data-function=is_open]").count();
    assert.ok(listed >= state.isOpenCalls, `every is_open call is listed: ${listed} rows`);
    await screenshot("05-invocations");
  });

  step("attach google_calendar against the stand-in and set its OAuth client through write-only fields", async () => {
    await openAgent();
    const toolId = state.toolIds.google_calendar;
    await page.selectOption("#attach-tool-select", toolId);
    await see("#attach_api_base", "google_calendar's api_base field");
    await page.fill("#attach_api_base", GOOGLE_API_BASE);
    await page.fill("#attach_time_zone", "America/New_York");
    await page.click("#attach-save");
    await seeText("[data-testid=attach-done]", /Attached google_calendar/, "the attach confirmation");
    const card = await see("[data-testid=agent-tool-google_calendar]", "google_calendar among the agent's tools");
    const gc = (await attachedTools()).find((a) => a.tool_id === toolId);
    assert.ok(gc, "google_calendar is attached");
    assert.equal(gc.config.api_base, GOOGLE_API_BASE);
    assert.equal(gc.config.time_zone, "America/New_York");

    for (const [name, value] of [
      ["client_id", CLIENT_ID],
      ["client_secret", CLIENT_SECRET],
    ]) {
      const row = await see(card.locator(`[data-testid=secret-${name}]`), `the ${name} secret`);
      assert.equal(await row.locator("[data-testid=secret-input]").getAttribute("type"), "password", `${name} is typed into a password field`);
      await row.locator("[data-testid=secret-input]").fill(value);
      await row.locator("[data-testid=secret-save]").click();
      await see(row.locator("[data-testid=secret-status][data-is-set=true]"), `${name} shown as set`);
      await seeText(row.locator("[data-testid=secret-status]"), /\bset\b/, `${name}'s status`);
      assert.equal(await row.locator("[data-testid=secret-input]").inputValue(), "", `${name}'s field is cleared`);
      assert.equal(await row.locator("[data-testid=secret-problem]").count(), 0, `no problem saving ${name}`);
    }

    const html = await page.content();
    assert.ok(!html.includes(CLIENT_SECRET), "the client secret is not in the page");
    assert.ok(!(await inputValues()).some((v) => v.includes(CLIENT_SECRET)), "the client secret is not in any field");
    const leaked = (await recordedBodies()).filter((b) => b.text.includes(CLIENT_SECRET));
    assert.deepEqual(leaked.map((b) => b.url), [], "no response carried the client secret");
    const secrets = await v1("GET", `/tools/${encodeURIComponent(toolId)}/secrets`);
    assert.ok(!secrets.text.includes(CLIENT_SECRET), "the API does not return it either");
    const set = Object.fromEntries(secrets.json.map((s) => [s.name, s.is_set]));
    assert.equal(set.client_id, true);
    assert.equal(set.client_secret, true);
  });

  step("Connect google_calendar: the provider's consent page, Allow, back to the console, connected", async () => {
    const card = page.locator("[data-testid=agent-tool-google_calendar]");
    await see(card.locator("[data-testid=oauth-status][data-connected=false]"), "google_calendar not connected yet");
    await card.locator("[data-testid=oauth-connect]").click();
    try {
      await page.waitForURL((u) => !u.href.startsWith(URL_ + "/"), { timeout: WAIT });
    } catch {
      assert.fail(`Connect did not leave the console${await where()}`);
    }
    await see("#submit_approve_access", "the provider's Allow button");
    await see("#submit_deny_access", "the provider's Deny button");
    await page.click("#submit_approve_access");
    try {
      await page.waitForURL((u) => u.href.startsWith(URL_ + "/oauth/callback"), { timeout: WAIT });
    } catch {
      assert.fail(`Allow did not return to Warden's callback${await where()}`);
    }
    await seeText("h1", /Account connected/, "the callback page's heading");
    await screenshot("06-oauth-connected");
    const back = page.getByRole("link", { name: "Back to the console" });
    await see(back, "the link back to the console");
    assert.equal(await back.getAttribute("href"), "/console/");
    await back.click();
    await see("[data-testid=nav-agents]", "the console, still signed in");
    await openAgent();
    await see(
      "[data-testid=agent-tool-google_calendar] [data-testid=oauth-status][data-connected=true]",
      "google_calendar shown as connected",
    );
    const tool = await v1("GET", `/tools/${encodeURIComponent(state.toolIds.google_calendar)}`);
    assert.equal(tool.json?.oauth?.connected, true, `the server says connected: ${tool.text.slice(0, 500)}`);
  });

  step("Try it: google_calendar__list_events reads the calendar with the connected account", async () => {
    await page.selectOption("#try-function", "google_calendar__list_events");
    await see("[data-testid=try-form]", "list_events' argument form");
    await page.click("#try-run");
    await see("[data-testid=try-result]", "the list_events result");
    const text = (await page.textContent("[data-testid=try-result-json]")) ?? "null";
    const json = JSON.parse(text);
    assert.ok(json && Array.isArray(json.events), `list_events returns events: ${text.slice(0, 500)}`);
    const id = ((await page.textContent("[data-testid=try-invocation-id]")) ?? "").trim();
    assert.ok(id && id !== state.isOpenInvocation, "a new invocation id is shown");
    assert.equal(await page.locator("[data-testid=try-problem]").count(), 0, "no problem shown");
  });

  step("Tools: the catalogue, with long descriptions cut short", async () => {
    await page.locator("[data-testid=nav-tools]").click();
    await see("[data-testid=tool-row][data-tool-name=business_hours]", "business_hours in the catalogue");
    // The last column is the account: "connected" or "not connected".
    await seeText("[data-testid=tool-row][data-tool-name=google_calendar] td:last-child", /^connected$/, "google_calendar's account in the catalogue");
    // google_calendar's description is long: three lines at most, the rest
    // behind "Show more", and every row stays short.
    const row = page.locator("[data-testid=tool-row][data-tool-name=google_calendar]");
    const description = row.locator("[data-testid=tool-description]");
    const full = state.tools.find((t) => t.name === "google_calendar").description;
    const words = (text) => text.replace(/\s+/g, " ").trim();
    const shown = ((await description.textContent()) ?? "").replace(/(Show more|Show less)$/, "");
    assert.equal(words(shown), words(full), "the whole description is in the page");
    const more = await see(description.getByRole("button", { name: "Show more" }), "google_calendar's Show more");
    const rows = await page.locator("[data-testid=tool-row]").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height));
    assert.ok(Math.max(...rows) < 160, `every catalogue row is short: heights ${rows.join(", ")}`);
    await more.click();
    await see(description.getByRole("button", { name: "Show less" }), "google_calendar's Show less");
    const open = await row.evaluate((e) => e.getBoundingClientRect().height);
    assert.ok(open > Math.max(...rows), `Show more shows the whole description (${open}px)`);
    await description.getByRole("button", { name: "Show less" }).click();
    await see(description.getByRole("button", { name: "Show more" }), "google_calendar's Show more again");
  });

  step("Tools: an upload Warden refuses, then a real component inspected, installed, and inspected again", async () => {
    await page.setInputFiles("#upload-file", {
      name: "not-a-component.wasm",
      mimeType: "application/wasm",
      buffer: Buffer.from("this is not a WebAssembly component"),
    });
    await seeText("[data-testid=upload-file]", /^not-a-component\.wasm: 35 bytes$/, "the chosen file");
    await page.click("#upload-inspect");
    await seeText("[data-testid=upload-problem]", /\(4\d\d\)/, "Warden's refusal of the upload");
    assert.equal(await page.locator("[data-testid=upload-preview]").count(), 0, "no preview of a refused upload");
    assert.equal(await page.locator("#upload-install").count(), 0, "nothing to install");
    await screenshot("08-tools-refused", "[data-testid=upload-tool]", { top: true });

    // The echo tool: not in the catalogue yet.
    assert.equal(await page.locator("[data-testid=tool-row][data-tool-name=echo]").count(), 0, "echo is not in the catalogue yet");
    await page.setInputFiles("#upload-file", COMPONENT);
    await seeText("[data-testid=upload-file]", /^echo\.wasm: [\d,.\s]+ bytes$/, "the chosen component");
    await gone("[data-testid=upload-problem]", "the earlier refusal");
    await page.click("#upload-inspect");
    const preview = await see("[data-testid=upload-preview]", "the preview of the component");
    assert.equal(await preview.getAttribute("data-installed"), "false", "not installed yet");
    await seeText(preview.locator("[data-testid=fact-name]"), /^echo$/, "the tool's name in the preview");
    await see(preview.locator("[data-testid=upload-new]"), "the preview saying it is a new tool");
    await seeText(preview.locator("[data-testid=upload-new]"), /new tool/, "“new tool”");
    const functions = await preview.locator("[data-testid=function-row]").evaluateAll((els) => els.map((e) => e.getAttribute("data-function-name")));
    assert.deepEqual([...functions].sort(), ["echo", "fail"], "the functions it declares");
    assert.equal(await page.locator("[data-testid=upload-problem]").count(), 0, "no problem shown");
    const install = await see("#upload-install", "the Install button");
    assert.ok(await install.isEnabled(), "Install is enabled for a new tool");
    await screenshot("07-tools-upload", "[data-testid=upload-tool]", { top: true });

    await install.click();
    const result = await see("[data-testid=upload-result]", "the install result");
    assert.equal(await result.getAttribute("data-created"), "true", `installed as a new tool${await where()}`);
    await seeText(result, /^Installed\b.*\becho\b/, "the install result naming echo");
    assert.equal(await page.locator("[data-testid=install-problem]").count(), 0, "no install problem");
    await see("[data-testid=tool-row][data-tool-name=echo]", "echo in the catalogue");
    const tools = await v1("GET", "/tools");
    const echo = tools.json.find((t) => t.name === "echo");
    assert.ok(echo && !echo.platform, `the server has echo as a private tool: ${tools.text.slice(0, 500)}`);

    // The same bytes again: already installed, nothing to do.
    await page.click("#upload-inspect");
    const again = await see("[data-testid=upload-preview][data-installed=true]", "the preview of the installed component");
    await seeText(again.locator("[data-testid=upload-installed]"), /already installed/, "“already installed”");
    assert.equal(await page.locator("[data-testid=upload-result]").count(), 0, "the earlier install result is cleared");
    assert.ok(!(await page.locator("#upload-install").isEnabled()), "Install is disabled for bytes already installed");
    await seeText("#upload-install", /Already installed/, "the Install button's label");
  });

  step("Invocations: the agent filter offers every agent, past the API's largest page", async () => {
    // 150 more agents: with the one made above, two pages of the API's largest (100).
    const names = Array.from({ length: 150 }, (_, i) => `Filler ${String(i).padStart(3, "0")}`);
    const fillers = new Set();
    for (let i = 0; i < names.length; i += 25) {
      const made = await Promise.all(names.slice(i, i + 25).map((name) => v1("POST", "/agents", { name })));
      for (const r of made) {
        assert.equal(r.status, 201, `an agent is created: ${r.text.slice(0, 300)}`);
        fillers.add(r.json.id);
      }
    }
    const ids = [];
    for (let cursor = null, first = true; first || cursor; first = false) {
      const r = await v1("GET", `/agents?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      assert.equal(r.status, 200, r.text.slice(0, 300));
      ids.push(...r.json.items.map((a) => a.id));
      cursor = r.json.next_cursor ?? null;
    }
    assert.ok(ids.length > 100, `the organization has ${ids.length} agents`);

    await page.locator("[data-testid=nav-invocations]").click();
    const options = page.locator("#filter-agent option:not([value=''])");
    const offered = await until(async () => {
      const values = await options.evaluateAll((els) => els.map((e) => e.getAttribute("value")));
      return values.length === ids.length ? values : null;
    }, `the agent filter offering all ${ids.length} agents`);
    assert.deepEqual([...offered].sort(), [...ids].sort(), "each agent offered once");
    // Choosing an agent from past the first page filters by it: it has no calls.
    const later = ids.slice(100).find((id) => fillers.has(id));
    await page.selectOption("#filter-agent", later);
    await seeText("[data-testid=invocations-empty]", /No invocations match/, "the empty list of an agent with no calls");
    assert.ok(page.url().includes(encodeURIComponent(later)), `the filter is in the address: ${page.url()}`);
  });

  step("sign out: back to sign-in, and a reload stays signed out", async () => {
    await page.click("#sign-out");
    await see("#api-key", "the sign-in page");
    await seeText("[data-testid=sign-in-notice]", /Signed out/, "the signed-out notice");
    await page.reload();
    await see("#api-key", "the sign-in page after a reload");
    assert.equal(await page.locator("[data-testid=nav-agents]").count(), 0, "the reload is not signed in");
    const cookies = await context.cookies(URL_ + "/console/api/session");
    const r = await page.evaluate(async () => (await fetch("/console/api/session", { credentials: "same-origin" })).status);
    assert.equal(r, 401, `the session is gone on the server (cookies now: ${cookies.map((c) => c.name).join(", ") || "none"})`);
  });

  step("nothing went wrong in the page: no script errors, no CSP violations, no key or secret stored or answered", async () => {
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
    assert.deepEqual(cspViolations, [], "Content-Security-Policy violations");
    assert.deepEqual(storageWrites, [], "writes to Web Storage or document.cookie");
    const recorded = await recordedBodies();
    assert.ok(recorded.length > 10, `responses were recorded (${recorded.length})`);
    assert.deepEqual(
      recorded.filter((b) => b.text.includes(CLIENT_SECRET)).map((b) => b.url),
      [],
      "responses carrying the client secret",
    );
    assert.deepEqual(
      recorded.filter((b) => b.text.includes(KEY)).map((b) => b.url),
      [],
      "responses carrying the API key",
    );
  });
});
