/**
 * Plays systemd: a unix datagram NOTIFY_SOCKET and WATCHDOG_USEC, and the sequence the daemon must
 * send — STATUS while loading, READY=1 once serving, WATCHDOG=1 pings, RELOADING=1/READY=1 on SIGHUP,
 * STOPPING=1 on SIGTERM — pings on through a long prefill (each chunk is progress), and none while a
 * generation makes no progress for longer than its prompt warrants.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { fakeRkllmLibraryPath, fakeRkllmModelPath } from "../support/fakeRkllmRuntime.js";
import { NotifySocketListener } from "../support/NotifySocketListener.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

describe("systemd notify protocol", () => {
  const listener = new NotifySocketListener();
  after(() => listener.stop());

  it("READY after the model loads, STATUS lines, watchdog pings, RELOADING on SIGHUP, STOPPING on SIGTERM", async () => {
    await listener.start();
    const daemon = new DaemonProcess(testDaemonFlags(), { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: "400000" });
    const url = await daemon.start();
    await listener.waitFor(() => listener.with("READY").length === 1, 10_000, "READY=1");
    const ready = listener.with("READY")[0]!;
    assert.match(ready.fields.STATUS ?? "", /^serving on cpu ×\d+/);
    const loading = listener.received.filter((n) => n.fields.STATUS?.startsWith("loading model"));
    assert.ok(loading.length >= 1, "a loading STATUS before READY");
    assert.ok(loading.every((n) => n.t <= ready.t));
    assert.ok(listener.with("EXTEND_TIMEOUT_USEC").length >= 1, "start-up time extended while loading");
    assert.ok(
      daemon.logLines.findIndex((l) => l.msg === "model loaded") <
        daemon.logLines.findIndex((l) => l.msg === "serving"),
    );

    const pingsBefore = listener.with("WATCHDOG").length;
    await listener.waitFor(() => listener.with("WATCHDOG").length >= pingsBefore + 3, 5_000, "three watchdog pings");

    const client = await ProtocolClient.connect(url);
    await client.request({ id: "r1", prompt: "Hi", max_tokens: 4 });
    await listener.waitFor(
      () => listener.received.some((n) => /tok\/s/.test(n.fields.STATUS ?? "")),
      5_000,
      "a STATUS with the decode rate",
    );
    await client.close();

    daemon.signal("SIGHUP");
    await listener.waitFor(() => listener.with("READY").length === 2, 5_000, "READY=1 after the reload");
    const reloading = listener.with("RELOADING");
    assert.equal(reloading.length, 1);
    assert.match(reloading[0]!.fields.MONOTONIC_USEC ?? "", /^\d+$/);
    assert.ok(reloading[0]!.t <= listener.with("READY")[1]!.t);

    daemon.signal("SIGTERM");
    assert.equal((await daemon.exited()).code, 0);
    assert.equal(listener.with("STOPPING").length, 1);
  });

  it("keeps the watchdog fed through a prefill longer than scheduler.stallTimeoutMs: each chunk is progress", async () => {
    // A 1.1 B-parameter model reading a ~400-token prompt spends far longer than 100 ms before its
    // first token. Before prefill progress counted, that withheld the pings (systemd killed the
    // daemon). Each 64-token chunk is progress now, and the stall limit allows the tokens in flight
    // their time at scheduler.prefillTokensPerSecond — set to a slow board's 1 tok/s so that this
    // shared test machine, however loaded, is never slower than expected: what is under test is that
    // a prefill hundreds of times longer than scheduler.stallTimeoutMs is not taken for a hang.
    const daemon = new DaemonProcess(
      testDaemonFlags({
        "model.path": testModelPath("tinyllama-1.1b", "q4_0"),
        "model.contextSize": 600,
        "scheduler.parallelSequences": 1,
        "scheduler.stallTimeoutMs": 100,
        "scheduler.prefillTokensPerSecond": 1,
        "backend.prefillChunkTokens": 64,
        "log.level": "debug",
      }),
      { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: "300000" },
    );
    const url = await daemon.start(120_000);
    try {
      const client = await ProtocolClient.connect(url);
      const pingsBefore = listener.with("WATCHDOG").length;
      const answer = await client.request({ id: "long", prompt: "word ".repeat(400), max_tokens: 2 }, 300_000);
      const final = answer.final;
      assert.equal(final.type, "done");
      if (final.type !== "done") return;
      assert.ok(
        (final.timings.ttft_ms ?? 0) > 200,
        `the prefill outlasted the 200 ms stall limit (${final.timings.ttft_ms} ms)`,
      );
      const chunks = daemon.logLines.filter((l) => l.msg === "prefill progress" && l.id === "long");
      assert.equal(
        chunks.length,
        Math.ceil(final.usage.evaluated_prompt_tokens / 64) - 1,
        "one progress line per chunk",
      );
      assert.equal(
        daemon.logLines.filter((l) => l.msg === "liveness check failed; withholding the watchdog ping").length,
        0,
        "the liveness check never failed",
      );
      assert.ok(listener.with("WATCHDOG").length > pingsBefore, "pings went on during the prefill");
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("withholds watchdog pings while a prefill takes far longer than its prompt warrants, and resumes after", async () => {
    // The NPU runtime reports nothing within a prefill: the limit is what the whole prompt may take at
    // the expected NPU rate (a few ms for this short prompt), else scheduler.stallTimeoutMs. The fake
    // runtime's PREFILL_MS_ marker makes this prefill last 3 s: a hang, as far as the check can tell.
    const daemon = new DaemonProcess(
      testDaemonFlags({
        // No GGUF model (model.path's default, ""): the NPU serves its .rkllm model alone.
        "model.path": "",
        "backend.kind": "npu",
        "npu.libraryPath": fakeRkllmLibraryPath(),
        "npu.modelPath": fakeRkllmModelPath(),
        "model.contextSize": 512,
        "scheduler.parallelSequences": 1,
        "scheduler.stallTimeoutMs": 500,
      }),
      { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: "300000" },
    );
    const url = await daemon.start(60_000);
    try {
      const client = await ProtocolClient.connect(url);
      const answer = client.request({ id: "stuck", prompt: "Tell me PREFILL_MS_3000 now", max_tokens: 2 }, 60_000);
      await daemon.waitForLog((l) => l.msg === "liveness check failed; withholding the watchdog ping", 30_000);
      const health = await fetch(`${url.replace("ws://", "http://")}healthz`);
      assert.equal(health.status, 503, "/healthz reports the stall too");
      assert.equal(((await health.json()) as { status: string }).status, "stalled");
      const final = (await answer).final;
      assert.equal(final.type, "done");
      await daemon.waitForLog((l) => l.msg === "service alive again; watchdog pings resume", 10_000);
      // The ping that ends the gap goes out with that log line but through the listener's own pipe:
      // wait until it (or a later one) is in before measuring the gap.
      const pingsSeen = listener.with("WATCHDOG").length;
      await listener.waitFor(() => listener.with("WATCHDOG").length > pingsSeen, 5_000, "a ping after the stall");
      const pings = listener.with("WATCHDOG").filter((n) => n.t >= listener.received[0]!.t);
      const gaps = pings.slice(1).map((n, i) => n.t - pings[i]!.t);
      assert.ok(
        Math.max(...gaps) > 0.5,
        `a gap in the pings while stalled (longest ${Math.max(...gaps).toFixed(2)} s)`,
      );
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("sends nothing at all without NOTIFY_SOCKET", async () => {
    const before = listener.received.length;
    const daemon = new DaemonProcess(testDaemonFlags(), { NOTIFY_SOCKET: "", WATCHDOG_USEC: "400000" });
    await daemon.start();
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await daemon.stop()).code, 0);
    assert.equal(listener.received.length, before);
  });
});
