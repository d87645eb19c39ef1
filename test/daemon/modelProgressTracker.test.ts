/**
 * The model progress behind the status topic: phases go out at once, progress within a phase at
 * most once per interval and only when the whole percent moved; the current value is always exact.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ModelProgressTracker } from "../../daemon/ModelProgressTracker.js";
import type { ModelProgress } from "../../daemon/protocol/messages.js";

function trackerWithClock(): { tracker: ModelProgressTracker; told: ModelProgress[]; clock: { ms: number } } {
  const clock = { ms: 0 };
  const tracker = new ModelProgressTracker({ minIntervalMs: 1000, now: () => clock.ms });
  const told: ModelProgress[] = [];
  tracker.on("change", (progress) => told.push(progress));
  return { tracker, told, clock };
}

const total = 1_000_000;
const downloading = (bytes: number) => ({
  phase: "downloading" as const,
  fileName: "m.gguf",
  bytes,
  totalBytes: total,
  bytesPerSecond: 1000,
});

describe("ModelProgressTracker", () => {
  it("passes a new phase on at once and throttles progress within a phase to one per interval", () => {
    const { tracker, told, clock } = trackerWithClock();
    tracker.pulling("m.gguf", downloading(0));
    for (let bytes = 1000; bytes <= 500_000; bytes += 1000) {
      clock.ms += 5; // 500 reports over 2.5 s
      tracker.pulling("m.gguf", downloading(bytes));
    }
    assert.deepEqual(
      told.map((p) => p.percent),
      [0, 20, 40],
      "one message at the start, then one a second",
    );
    assert.equal(tracker.current?.bytes, 500_000, "the current value is exact, not throttled");
    assert.equal(tracker.current?.percent, 50);
    assert.deepEqual(told[1], {
      phase: "downloading",
      model: "m.gguf",
      bytes: 200_000,
      total_bytes: total,
      percent: 20,
      bytes_per_s: 1000,
    });
  });

  it("sends nothing when the whole percent has not moved, however long it takes", () => {
    const { tracker, told, clock } = trackerWithClock();
    tracker.pulling("m.gguf", downloading(0));
    for (let bytes = 100; bytes < 10_000; bytes += 100) {
      clock.ms += 2000;
      tracker.pulling("m.gguf", downloading(bytes));
    }
    assert.equal(told.length, 1);
    clock.ms += 2000;
    tracker.pulling("m.gguf", downloading(10_000));
    assert.deepEqual(
      told.map((p) => p.percent),
      [0, 1],
    );
  });

  it("reports verifying, loading, ready and failed at once, keeping a failure's last figures", () => {
    const { tracker, told, clock } = trackerWithClock();
    tracker.pulling("m.gguf", downloading(0));
    tracker.pulling("m.gguf", { ...downloading(total), phase: "verifying" });
    tracker.loading("m.gguf", 0);
    tracker.loading("m.gguf", 0.5);
    clock.ms += 1000;
    tracker.loading("m.gguf", 0.75);
    tracker.ready("m.gguf");
    tracker.ready("m.gguf");
    assert.deepEqual(
      told.map((p) => `${p.phase} ${p.percent}`),
      ["downloading 0", "verifying 100", "loading 0", "loading 75", "ready 100"],
    );
    tracker.loading("other.gguf", 0.3);
    tracker.failed("other.gguf", { code: "E_MODEL_MISSING", message: "model file not found" });
    assert.deepEqual(told.at(-1), {
      phase: "failed",
      model: "other.gguf",
      bytes: null,
      total_bytes: null,
      percent: 30,
      bytes_per_s: null,
      error: { code: "E_MODEL_MISSING", message: "model file not found" },
    });
  });

  it("without a known size, sends byte progress once per interval and a null percent", () => {
    const { tracker, told, clock } = trackerWithClock();
    tracker.pulling("m.gguf", { ...downloading(0), totalBytes: null });
    clock.ms += 1500;
    tracker.pulling("m.gguf", { ...downloading(4096), totalBytes: null });
    assert.deepEqual(
      told.map((p) => [p.bytes, p.percent]),
      [
        [0, null],
        [4096, null],
      ],
    );
  });
});
