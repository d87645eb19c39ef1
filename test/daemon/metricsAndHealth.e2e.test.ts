/**
 * /metrics (parsed by a real Prometheus text-format parser: its counters move as requests are
 * served), /readyz and /healthz, and journald priority prefixes on log lines.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

describe("metrics and health over HTTP", () => {
  const daemon = new DaemonProcess(testDaemonFlags());
  let base = "";
  before(async () => {
    base = (await daemon.start()).replace("ws://", "http://");
  });
  after(async () => {
    assert.equal((await daemon.stop()).code, 0);
  });

  async function scrape() {
    const response = await fetch(`${base}metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
    const families = parsePrometheusTextFormat(await response.text());
    const value = (name: string, labels: Record<string, string> = {}) => {
      const family = families.find((f) => f.name === name);
      const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
      return sample === undefined ? undefined : Number(sample.value ?? sample.count);
    };
    return { families, value };
  }

  it("serves Prometheus metrics whose counters move as requests are served", async () => {
    const before = await scrape();
    assert.equal(before.value("tinyllamad_ready"), 1);
    assert.equal(before.value("tinyllamad_backend_info", { backend: "cpu" }), 1);
    assert.ok((before.value("process_resident_memory_bytes") ?? 0) > 10e6, "RSS is reported");
    const doneBefore = before.value("tinyllamad_requests_total", { outcome: "length" }) ?? 0;
    const tokensBefore = before.value("tinyllamad_generated_tokens_total") ?? 0;
    const batchSequences = (scraped: Awaited<ReturnType<typeof scrape>>) => {
      const sample = scraped.families.find((f) => f.name === "tinyllamad_decode_batch_sequences")?.metrics[0];
      return { sum: Number(sample?.sum ?? 0), count: Number(sample?.count ?? 0) };
    };
    const stepsBefore = batchSequences(before);

    const client = await ProtocolClient.connect(base.replace("http://", "ws://"));
    for (const id of ["m1", "m2", "m3"]) await client.request({ id, prompt: "Count:", max_tokens: 5, temperature: 0 });
    client.send("{broken");
    await client.answer(null);
    await client.close();

    const after = await scrape();
    assert.equal(after.value("tinyllamad_requests_total", { outcome: "length" }), doneBefore + 3);
    assert.equal(after.value("tinyllamad_generated_tokens_total"), tokensBefore + 15);
    const ttft = after.families.find((f) => f.name === "tinyllamad_time_to_first_token_seconds");
    assert.equal(ttft?.type, "HISTOGRAM");
    assert.ok(Number(ttft?.metrics[0]?.count) >= 3);
    assert.equal(after.families.find((f) => f.name === "tinyllamad_decode_tokens_per_second")?.type, "HISTOGRAM");
    assert.equal(after.value("tinyllamad_queue_depth"), 0);
    // One request at a time: each of the 15 tokens was sampled in a decode step of its own.
    assert.deepEqual(batchSequences(after), { sum: stepsBefore.sum + 15, count: stepsBefore.count + 15 });
  });

  it("answers /readyz 200 while serving and /healthz with the state", async () => {
    const ready = await fetch(`${base}readyz`);
    assert.equal(ready.status, 200);
    const health = (await (await fetch(`${base}healthz`)).json()) as Record<string, unknown>;
    assert.equal(health.status, "ok");
    assert.equal(health.state, "serving");
    assert.match(String(health.version), /^\d+\.\d+\.\d+/);
    // A request was served above, so "persistent" means its decodes really ran on the pool.
    assert.equal(health.cpu_threadpool, "persistent");
  });

  it("logs a 'request finished' line per request with its id and no prompt text", () => {
    const lines = daemon.logLines.filter((l) => l.msg === "request finished");
    assert.ok(
      lines.some((l) => l.id === "m1" && l.outcome === "length" && l.completion_tokens === 5),
      JSON.stringify(lines),
    );
    assert.ok(!JSON.stringify(daemon.logLines).includes("Count:"), "prompt text is not logged at info");
  });
});

describe("logs under systemd", () => {
  it("prefixes each JSON line with its syslog priority when JOURNAL_STREAM is set", async () => {
    const daemon = new DaemonProcess(
      testDaemonFlags({ "model.path": "/nonexistent/model.gguf", "model.contextSize": 2048 }),
      { JOURNAL_STREAM: "8:12345" },
    );
    await assert.rejects(daemon.start(20_000));
    const raw = daemon.logLines.filter((l) => l.level === "raw").map((l) => l.msg);
    assert.ok(
      raw.some((line) => line.startsWith('<6>{"level":"info"')),
      raw.join("\n"),
    );
    assert.ok(
      raw.some((line) => line.startsWith('<2>{"level":"fatal"')),
      "fatal → priority 2 (crit)",
    );
  });
});
