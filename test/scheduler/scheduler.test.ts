/**
 * The scheduler in front of a real backend (node-llama-cpp on the generated tiny model).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GenerateRequest, ServerMessage } from "../../daemon/protocol/messages.js";
import { Scheduler } from "../../daemon/scheduler/Scheduler.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { testModelPath } from "../support/testModels.js";

function request(id: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    type: "generate",
    id,
    prompt: `Request ${id} begins:`,
    max_tokens: 8,
    temperature: 0,
    priority: "interactive",
    stream: true,
    ...overrides,
  };
}

class RecordingSink {
  readonly messages: ServerMessage[] = [];
  send(message: ServerMessage): void {
    this.messages.push(message);
  }
  finals(): ServerMessage[] {
    return this.messages.filter((m) => m.type === "done" || m.type === "error");
  }
}

function withBackend(parallelSequences: number, body: (backend: LlamaCppBackend) => void): void {
  const backend = new LlamaCppBackend({ kind: "cpu" });
  before(() => backend.load({ modelPath: testModelPath(), contextSize: 1024, parallelSequences, threads: 2 }));
  after(() => backend.unload());
  body(backend);
}

describe("Scheduler with one sequence", () => {
  withBackend(1, (backend) => {
    it("serves queued interactive requests before queued batch ones", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 1 });
      scheduler.start();
      const order: string[] = [];
      const sink = { send: (m: ServerMessage) => (m.type === "done" ? order.push(m.id) : undefined) };
      const handles = [
        scheduler.submit(request("running", { max_tokens: 24 }), sink),
        scheduler.submit(request("batch1", { priority: "batch" }), sink),
        scheduler.submit(request("batch2", { priority: "batch" }), sink),
        scheduler.submit(request("interactive1"), sink),
      ];
      await Promise.all(handles.map((h) => h.finished));
      assert.deepEqual(order, ["running", "interactive1", "batch1", "batch2"]);
      await scheduler.stop(1000);
    });

    it("refuses with E_QUEUE_FULL when the queue is full, and still serves what it accepted", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 2, concurrency: 1 });
      scheduler.start();
      const sinks = Array.from({ length: 4 }, () => new RecordingSink());
      const handles = sinks.map((sink, i) => scheduler.submit(request(`q${i}`, { max_tokens: 12 }), sink));
      const finals = await Promise.all(handles.map((h) => h.finished));
      assert.deepEqual(
        finals.map((f) => (f.type === "error" ? f.error.code : f.finish_reason)),
        ["length", "length", "length", "E_QUEUE_FULL"],
      );
      for (const sink of sinks) assert.equal(sink.finals().length, 1);
      await scheduler.stop(1000);
    });

    it("refuses a prompt the context cannot hold with E_PROMPT_TOO_LONG at admission, never queueing it", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 1 });
      scheduler.start();
      const running = scheduler.submit(request("running", { max_tokens: 1000 }), new RecordingSink());
      const queueDepths: number[] = [];
      scheduler.on("load", (stats) => queueDepths.push(stats.queued));
      const tooLong = new RecordingSink();
      // The context holds 1024 tokens; this prompt is well over that (a few tokens per repetition).
      const refused = scheduler.submit(request("too-long", { prompt: "numbers 1 2 3 4 ".repeat(400) }), tooLong);
      running.cancel();
      assert.deepEqual(
        tooLong.messages.map((m) => (m.type === "error" ? m.error.code : m.type)),
        ["E_PROMPT_TOO_LONG"],
        "answered within submit, while the one sequence is still busy",
      );
      assert.equal(refused.started, false);
      assert.ok(
        queueDepths.every((depth) => depth === 0),
        `nothing was ever queued: ${queueDepths.join(",")}`,
      );
      assert.equal(scheduler.stats().accepted, 1);
      await running.finished;
      await scheduler.stop(1000);
    });

    it("ends a request past its deadline with E_DEADLINE_EXCEEDED, queued or running", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 1 });
      scheduler.start();
      const running = new RecordingSink();
      const queued = new RecordingSink();
      const a = scheduler.submit(request("slow", { max_tokens: 1000, deadline_ms: 300 }), running);
      const b = scheduler.submit(request("waiting", { deadline_ms: 100 }), queued);
      const [finalA, finalB] = await Promise.all([a.finished, b.finished]);
      assert.equal(finalA.type === "error" && finalA.error.code, "E_DEADLINE_EXCEEDED");
      assert.equal(finalB.type === "error" && finalB.error.code, "E_DEADLINE_EXCEEDED");
      assert.ok(
        running.messages.some((m) => m.type === "token"),
        "the running one had started streaming",
      );
      assert.equal(running.finals().length, 1);
      assert.equal(queued.finals().length, 1);
      await scheduler.stop(1000);
    });

    it("cancels queued and running requests, each with exactly one 'cancelled' answer", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 1 });
      scheduler.start();
      const sinks = [new RecordingSink(), new RecordingSink()];
      const running = scheduler.submit(request("r", { max_tokens: 1000 }), sinks[0]!);
      const queued = scheduler.submit(request("w"), sinks[1]!);
      queued.cancel();
      while (!sinks[0]!.messages.some((m) => m.type === "token")) await new Promise((r) => setTimeout(r, 5));
      running.cancel();
      running.cancel(); // twice: still one answer
      const finals = await Promise.all([running.finished, queued.finished]);
      for (const final of finals) assert.equal(final.type === "done" && final.finish_reason, "cancelled");
      for (const sink of sinks) assert.equal(sink.finals().length, 1);
      assert.equal(scheduler.stats().cancelled, 2);
      await scheduler.stop(1000);
    });

    it("refuses new work with E_SHUTTING_DOWN once stopping, and ends cut-off work with it", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 1 });
      scheduler.start();
      const sink = new RecordingSink();
      const long = scheduler.submit(request("long", { max_tokens: 1000 }), sink);
      while (!sink.messages.some((m) => m.type === "token")) await new Promise((r) => setTimeout(r, 5));
      const stopped = scheduler.stop(50);
      const late = scheduler.submit(request("late"), new RecordingSink());
      const lateFinal = await late.finished;
      assert.equal(lateFinal.type === "error" && lateFinal.error.code, "E_SHUTTING_DOWN");
      await stopped;
      const longFinal = await long.finished;
      assert.equal(longFinal.type === "error" && longFinal.error.code, "E_SHUTTING_DOWN");
      assert.equal(sink.finals().length, 1);
    });
  });
});

describe("Scheduler before its first backend (the model is being pulled or loaded)", () => {
  withBackend(1, (backend) => {
    it("holds requests until a backend is attached, then serves them", async () => {
      const scheduler = new Scheduler({ maxQueue: 8, concurrency: 0 });
      scheduler.start();
      const sinks = [new RecordingSink(), new RecordingSink()];
      const handles = sinks.map((sink, i) => scheduler.submit(request(`held${i}`), sink));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(scheduler.ready, false);
      assert.deepEqual(
        sinks.map((sink) => sink.messages.length),
        [0, 0],
      );
      assert.deepEqual(scheduler.stats().queued, 2);
      assert.equal(await scheduler.swapBackend(backend, 1), undefined);
      assert.equal(scheduler.ready, true);
      const finals = await Promise.all(handles.map((h) => h.finished));
      assert.deepEqual(
        finals.map((f) => f.type),
        ["done", "done"],
      );
      for (const sink of sinks) assert.equal(sink.finals().length, 1);
      await scheduler.stop(1000);
    });

    it("refuses with E_NOT_READY and the reason while told it is not ready, and accepts again after", async () => {
      const scheduler = new Scheduler({ maxQueue: 8, concurrency: 0 });
      scheduler.start();
      scheduler.setNotReady("the node is pulling its model");
      const refused = await scheduler.submit(request("early"), new RecordingSink()).finished;
      assert.deepEqual(refused, {
        type: "error",
        id: "early",
        error: { code: "E_NOT_READY", message: "the node is pulling its model" },
      });
      scheduler.setNotReady(undefined);
      const later = scheduler.submit(request("later"), new RecordingSink());
      await scheduler.swapBackend(backend, 1);
      assert.equal((await later.finished).type, "done");
      await scheduler.stop(1000);
    });

    it("stopping without a backend ends held requests with E_SHUTTING_DOWN without waiting out the grace", {
      timeout: 30_000,
    }, async () => {
      const scheduler = new Scheduler({ maxQueue: 8, concurrency: 0 });
      scheduler.start();
      const sink = new RecordingSink();
      const held = scheduler.submit(request("held"), sink);
      await scheduler.stop(10 * 60_000);
      const final = await held.finished;
      assert.equal(final.type === "error" && final.error.code, "E_SHUTTING_DOWN");
      assert.equal(sink.finals().length, 1);
    });
  });
});

describe("Scheduler with several sequences", () => {
  withBackend(3, (backend) => {
    it("interleaves concurrent streams instead of serving them one after another", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 3 });
      scheduler.start();
      const arrivals: string[] = [];
      const sink = { send: (m: ServerMessage) => (m.type === "token" ? arrivals.push(m.id) : undefined) };
      const handles = ["a", "b", "c"].map((id) => scheduler.submit(request(id, { max_tokens: 16 }), sink));
      await Promise.all(handles.map((h) => h.finished));
      const lastOfFirst = Math.min(...["a", "b", "c"].map((id) => arrivals.lastIndexOf(id)));
      const firstOfLast = Math.max(...["a", "b", "c"].map((id) => arrivals.indexOf(id)));
      assert.ok(firstOfLast < lastOfFirst, `streams overlap: ${arrivals.join("")}`);
      await scheduler.stop(1000);
    });

    it("keeps the exactly-one-final-answer invariant under a mixed storm", async () => {
      const scheduler = new Scheduler({ backend, maxQueue: 6, concurrency: 3 });
      scheduler.start();
      const sinks = Array.from({ length: 16 }, () => new RecordingSink());
      const handles = sinks.map((sink, i) =>
        scheduler.submit(
          request(`s${i}`, {
            max_tokens: 6 + (i % 5) * 4,
            priority: i % 3 === 0 ? "batch" : "interactive",
            deadline_ms: i % 7 === 0 ? 40 : undefined,
          }),
          sink,
        ),
      );
      handles[2]?.cancel();
      setTimeout(() => handles[5]?.cancel(), 30);
      await Promise.all(handles.map((h) => h.finished));
      for (const [i, sink] of sinks.entries()) {
        assert.equal(sink.finals().length, 1, `request ${i} got exactly one final answer`);
        assert.equal(sink.messages.at(-1), sink.finals()[0], `nothing after request ${i}'s final answer`);
      }
      const stats = scheduler.stats();
      assert.equal(stats.completed + stats.failed + stats.cancelled, 16);
      assert.equal(stats.queued + stats.running, 0);
      await scheduler.stop(1000);
    });
  });
});
