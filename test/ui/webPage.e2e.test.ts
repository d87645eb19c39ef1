/**
 * The built-in web page, in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * puppeteer-core; no browser download) against a real daemon with the test model: its security
 * headers, the token asked once and kept in sessionStorage only, status values equal to /healthz,
 * a streamed chat answer, a cancelled one, screenshots at desktop and phone width; and `http.ui=false`
 * turning the page off. Set TINYLLAMAD_UPDATE_SCREENSHOTS=1 to write the screenshots to docs/images/
 * (README shows them); otherwise they go to a temporary folder.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import WebSocket from "ws";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

/* The callbacks given to page.evaluate run in Chromium; this Node compilation has no DOM types. */
// biome-ignore lint/suspicious/noExplicitAny: the browser's globals, seen from Node
type BrowserGlobal = any;
declare const document: BrowserGlobal;
declare const window: BrowserGlobal;
declare const sessionStorage: BrowserGlobal;
declare const localStorage: BrowserGlobal;
declare const MutationObserver: BrowserGlobal;

const chromiumPath = "/usr/bin/chromium";
const token = "page-test-token-6f1c2a9e";
const screenshotDirectory =
  process.env.TINYLLAMAD_UPDATE_SCREENSHOTS === "1"
    ? join(projectRoot(), "docs", "images")
    : mkdtempSync(join(tmpdir(), "tinyllamad-page-"));

function daemonFlags(state: string, settings: Record<string, string | number | boolean> = {}): string[] {
  return testDaemonFlags({
    // Room for a long answer: the cancel test must click while the tiny model is still generating.
    "model.contextSize": 2048,
    "backend.threads": 1,
    "http.token": token,
    // MQTT on (its embedded broker): the page shows the node's MQTT link and node id.
    "mqtt.enabled": true,
    "mqtt.embeddedPort": 0,
    "mqtt.nodeId": "pi-kitchen",
    "state.directory": state,
    ...settings,
  });
}

const text = (page: Page, selector: string) => page.$eval(selector, (element) => element.textContent ?? "");

describe("the web page in headless Chromium", { skip: !existsSync(chromiumPath) && "needs Debian's chromium" }, () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-page-state-"));
  const daemon = new DaemonProcess(daemonFlags(state));
  let base = "";
  let browser: Browser;
  let page: Page;

  before(async () => {
    base = (await daemon.start()).replace("ws://", "http://");
    browser = await puppeteer.launch({
      executablePath: chromiumPath,
      headless: true,
      // Root in a container has no user namespace for Chromium's sandbox.
      args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });
  after(async () => {
    await browser?.close();
    assert.equal((await daemon.stop()).code, 0);
    rmSync(state, { recursive: true, force: true });
  });

  it("serves the page with a self-only CSP, nosniff and no framing, and the status stream only with the token", async () => {
    const response = await fetch(base);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/);
    const policy = response.headers.get("content-security-policy") ?? "";
    assert.match(policy, /default-src 'self'/);
    assert.match(policy, /frame-ancestors 'none'/);
    assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    let bytes = (await response.arrayBuffer()).byteLength;
    for (const asset of ["ui/page.css", "ui/main.js", "ui/playground.js", "ui/statusPanel.js"]) {
      const file = await fetch(`${base}${asset}`);
      assert.equal(file.status, 200, asset);
      assert.equal(file.headers.get("x-content-type-options"), "nosniff");
      bytes += (await file.arrayBuffer()).byteLength;
    }
    assert.ok(bytes < 200_000, `the page and its scripts weigh ${bytes} bytes`);
    const refused = await fetch(`${base}api/status/stream`);
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    // Another site's page may not read it either (the Host/Origin policy stands in front).
    const foreign = await fetch(`${base}api/status/stream`, {
      headers: { authorization: `Bearer ${token}`, origin: "http://evil.example" },
    });
    assert.equal(foreign.status, 403);
  });

  it("asks for the token once, keeps it in sessionStorage only, and shows the status /healthz reports", async () => {
    await page.goto(base);
    await page.waitForSelector("#token-dialog[open]");
    await page.keyboard.type(token); // the dialog focuses its field: keyboard only
    await page.keyboard.press("Enter");
    await page.waitForFunction(
      () => document.querySelector('[data-field="state"]')?.textContent?.startsWith("serving"),
      { timeout: 30_000 },
    );
    await page.waitForFunction(() => document.querySelector('[data-field="mqtt"]')?.textContent === "connected");
    const health = (await (
      await fetch(`${base}healthz`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as Record<string, unknown> & { plan: { reasons: string[]; cores: number[] } };
    assert.equal(await text(page, '[data-field="node_id"]'), "pi-kitchen");
    assert.equal(await text(page, '[data-field="node_id"]'), health.node_id);
    assert.equal(await text(page, '[data-field="model"]'), health.model);
    assert.equal(await text(page, '[data-field="backend"]'), health.backend);
    assert.equal(await text(page, '[data-field="version"]'), health.version);
    assert.equal(await text(page, '[data-field="quantization"]'), health.quantization);
    assert.equal(health.quantization, "Q8_0");
    assert.match(await text(page, '[data-field="threads"]'), new RegExp(`^${health.threads}\\b`));
    const reasons = await page.$$eval("#plan-reasons li", (items) => items.map((item) => item.textContent));
    assert.deepEqual(reasons, health.plan.reasons);
    assert.ok(reasons.length > 0);
    assert.equal(await text(page, '[data-field="fleet"]'), "not a member"); // the embedded broker has no fleet
    assert.equal(await page.evaluate(() => sessionStorage.getItem("tinyllamad.token")), token);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(!page.url().includes(token));
  });

  it("streams a chat answer to its end and shows its TTFT and tokens/s", async () => {
    await page.evaluate(() => {
      // Counts the streamed updates of the answer before it finishes.
      const transcript = document.getElementById("transcript");
      window.updates = 0;
      new MutationObserver(() => {
        window.updates += 1;
      }).observe(transcript, { subtree: true, characterData: true, childList: true });
    });
    await page.$eval("#system-prompt", (element) => {
      (element as BrowserGlobal).value = "You are a helpful kitchen assistant.";
    });
    await page.$eval("#max-tokens", (element) => {
      (element as BrowserGlobal).value = "24";
    });
    await page.focus("#message");
    await page.keyboard.type("What can I cook with eggs?");
    await page.keyboard.down("Control");
    await page.keyboard.press("Enter");
    await page.keyboard.up("Control");
    await page.waitForSelector(".turn.assistant[data-finish]", { timeout: 60_000 });
    const finish = await page.$eval(".turn.assistant", (element) => (element as BrowserGlobal).dataset.finish);
    assert.ok(finish === "length" || finish === "stop", `finish: ${finish}`);
    const meta = await text(page, ".turn.assistant .meta");
    assert.match(meta, /TTFT \d+ ms · [\d.]+ tok\/s/);
    const answer = await page.$eval(".turn.assistant span", (element) => element.textContent ?? "");
    assert.ok(answer.length > 0);
    const updates = await page.evaluate(() => window.updates);
    assert.ok(updates > 3, `the answer streamed in ${updates} updates`);
    await page.screenshot({ path: join(screenshotDirectory, "web-page-playground.png"), fullPage: true });
  });

  it("cancels a long answer with the cancel button", async () => {
    await page.$eval("#max-tokens", (element) => {
      (element as BrowserGlobal).value = "1800";
    });
    // Greedy: the random-weight model then runs all 1800 tokens without an end of text (checked), so
    // the answer is still streaming when Cancel is pressed; sampled, it could stop by itself first.
    await page.$eval("#temperature", (element) => {
      (element as BrowserGlobal).value = "0";
    });
    await page.$eval("#system-prompt", (element) => {
      (element as BrowserGlobal).value = "";
    });
    await page.click("#clear");
    await page.focus("#message");
    await page.keyboard.type("Tell me a very long story.");
    await page.click("#send");
    await page.waitForFunction(() => (document.querySelector(".turn.assistant span")?.textContent ?? "").length > 0, {
      timeout: 60_000,
    });
    // By keyboard: a mouse click aims at coordinates, and the streaming text moves the layout under it.
    await page.focus("#cancel");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".turn.assistant[data-finish]", { timeout: 60_000 });
    assert.equal(
      await page.$eval(".turn.assistant", (element) => (element as BrowserGlobal).dataset.finish),
      "cancelled",
    );
    assert.equal(await page.$eval("#cancel", (element) => (element as BrowserGlobal).disabled), true);
  });

  it("pushes the figures of the answers into the status and the charts", async () => {
    // The last answer (the cancelled one) is over, so /healthz's rate is final; the page gets it pushed
    // by the status stream (within its one-second throttle), without a reload.
    const health = (await (
      await fetch(`${base}healthz`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { tokens_per_s: number };
    assert.equal(typeof health.tokens_per_s, "number");
    await page.waitForFunction(
      (expected: string) => document.querySelector('[data-field="tokens_per_s"]')?.textContent === expected,
      { timeout: 30_000 },
      health.tokens_per_s.toFixed(1),
    );
    // The next chart sample (every 5 s) carries a rate: the tokens/s chart draws it.
    await page.waitForFunction(
      () => /^now [\d.]+ tok\/s/.test(document.getElementById("chart-tokens-range")?.textContent ?? ""),
      { timeout: 30_000 },
    );
    assert.ok((await page.$$("#chart-tokens polyline, #chart-tokens circle")).length === 2);
    await page.$eval("#plan", (element) => {
      (element as BrowserGlobal).open = true;
    });
    await page.$eval("header", (element) => element.scrollIntoView());
    await page.screenshot({ path: join(screenshotDirectory, "web-page-status.png"), fullPage: false });
  });

  it("fits a phone: one column, no horizontal scroll", async () => {
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    await page.reload();
    // Same tab: the token is still in sessionStorage, so no dialog this time.
    await page.waitForFunction(() =>
      document.querySelector('[data-field="state"]')?.textContent?.startsWith("serving"),
    );
    assert.equal(await page.$("#token-dialog[open]"), null);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await page.screenshot({ path: join(screenshotDirectory, "web-page-status-phone.png") });
    await page.focus("#message");
    await page.$eval("#max-tokens", (element) => {
      (element as BrowserGlobal).value = "16";
    });
    await page.keyboard.type("Hello!");
    await page.click("#send");
    await page.waitForSelector(".turn.assistant[data-finish]", { timeout: 60_000 });
    await page.$eval("#playground", (element) => element.scrollIntoView());
    await page.screenshot({ path: join(screenshotDirectory, "web-page-playground-phone.png") });
    for (const name of ["status", "playground", "status-phone", "playground-phone"]) {
      const png = readFileSync(join(screenshotDirectory, `web-page-${name}.png`));
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${name} is a PNG`);
    }
  });

  it("never puts the token in a URL, localStorage, a cookie or the daemon's log", async () => {
    assert.ok(!page.url().includes(token));
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.equal(await page.evaluate(() => document.cookie), "");
    const log = JSON.stringify(daemon.logLines) + daemon.stderr;
    assert.ok(!log.includes(token), "the token is not logged");
    assert.ok(!log.includes(Buffer.from(token).toString("base64url")), "nor its subprotocol form");
  });

  it("accepts the token as a WebSocket subprotocol and answers with the plain one, never echoing the token", async () => {
    const url = base.replace("http://", "ws://");
    const encoded = `tinyllamad.bearer.${Buffer.from(token).toString("base64url")}`;
    const socket = new WebSocket(url, ["tinyllamad", encoded]);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    assert.equal(socket.protocol, "tinyllamad");
    socket.close();
    const wrong = new WebSocket(url, ["tinyllamad", `tinyllamad.bearer.${Buffer.from("nope").toString("base64url")}`]);
    const status = await new Promise<number>((resolve) => {
      wrong.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
      wrong.once("open", () => resolve(101));
    });
    assert.equal(status, 401);
  });
});

describe("http.ui=false", () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-page-off-"));
  const suite = daemonForSuite(daemonFlags(state, { "http.ui": false, "mqtt.enabled": false }));
  after(() => rmSync(state, { recursive: true, force: true }));

  it("answers 404 for the page, its scripts and its status stream; health still answers", async () => {
    const base = suite.url().replace("ws://", "http://");
    for (const path of ["", "ui/main.js", "api/status/stream"]) {
      const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
    assert.equal((await fetch(`${base}healthz`)).status, 200);
  });
});
