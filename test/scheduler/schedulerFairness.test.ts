/**
 * Per-client fairness in the scheduler, in front of a real backend (node-llama-cpp on the generated
 * tiny model) with one sequence, so the order requests start in is the order they finish in.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FinalMessage, GenerateRequest, ServerMessage } from "../../daemon/protocol/messages.js";
import { type ResponseSink, Scheduler } from "../../daemon/scheduler/Scheduler.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { testModelPath } from "../support/testModels.js";

function request(id: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    type: "generate",
    id,
    prompt: `Request ${id} begins:`,
    max_tokens: 4,
    temperature: 0,
    priority: "interactive",
    stream: true,
    ...overrides,
  };
}

/** Records every answer, and the order requests finished in across all sinks sharing `order`. */
function sinkFor(client: string | undefined, order: string[], messages: ServerMessage[] = []): ResponseSink {
  return {
    client,
    send: (message) => {
      messages.push(message);
      if (message.type === "done") order.push(message.id);
    },
  };
}

function outcome(final: FinalMessage): string {
  return final.type === "error" ? final.error.code : final.finish_reason;
}

describe("Scheduler per-client share and order", () => {
  const backend = new LlamaCppBackend({ kind: "cpu" });
  before(() => backend.load({ modelPath: testModelPath(), contextSize: 1024, parallelSequences: 1, threads: 2 }));
  after(() => backend.unload());

  it("refuses a client past its share with E_QUEUE_FULL naming the share, and still accepts another client", async () => {
    // Admits 4 waiting + 1 running; half of that, rounded up, is 3 per client.
    const scheduler = new Scheduler({ backend, maxQueue: 4, concurrency: 1, maxQueueSharePerClient: 0.5 });
    scheduler.start();
    assert.equal(scheduler.perClientLimit(), 3);
    const order: string[] = [];
    const greedy = ["a0", "a1", "a2", "a3"].map((id) => scheduler.submit(request(id), sinkFor("a", order)));
    assert.equal(scheduler.hasRoom("a"), false);
    assert.equal(scheduler.hasRoom("b"), true);
    const other = scheduler.submit(request("b0"), sinkFor("b", order));
    const finals = await Promise.all([...greedy, other].map((handle) => handle.finished));
    assert.deepEqual(finals.map(outcome), ["length", "length", "length", "E_QUEUE_FULL", "length"]);
    const refused = finals[3]!;
    assert.match(refused.type === "error" ? refused.error.message : "", /share of the queue is full.*3/);
    assert.equal(scheduler.hasRoom("a"), true, "the share is free again once a's requests ended");
    await scheduler.stop(1000);
  });

  it("starts another client's single request before the rest of a client's backlog", async () => {
    const scheduler = new Scheduler({ backend, maxQueue: 16, concurrency: 1, maxQueueSharePerClient: 1 });
    scheduler.start();
    const order: string[] = [];
    const backlog = Array.from({ length: 10 }, (_, i) => `a${i}`);
    const handles = backlog.map((id) => scheduler.submit(request(id), sinkFor("a", order)));
    handles.push(scheduler.submit(request("b0"), sinkFor("b", order)));
    await Promise.all(handles.map((handle) => handle.finished));
    assert.deepEqual(order, ["a0", "b0", ...backlog.slice(1)]);
    await scheduler.stop(1000);
  });

  it("takes turns between two busy clients", async () => {
    const scheduler = new Scheduler({ backend, maxQueue: 16, concurrency: 1 });
    scheduler.start();
    const order: string[] = [];
    const handles = [
      ...["a0", "a1", "a2"].map((id) => scheduler.submit(request(id), sinkFor("a", order))),
      ...["b0", "b1", "b2"].map((id) => scheduler.submit(request(id), sinkFor("b", order))),
    ];
    await Promise.all(handles.map((handle) => handle.finished));
    assert.deepEqual(order, ["a0", "b0", "a1", "b1", "a2", "b2"]);
    await scheduler.stop(1000);
  });

  it("requests without a client share one anonymous client's share", async () => {
    const scheduler = new Scheduler({ backend, maxQueue: 4, concurrency: 1, maxQueueSharePerClient: 0.5 });
    scheduler.start();
    const order: string[] = [];
    const anonymous = ["n0", "n1", "n2", "n3"].map((id) => scheduler.submit(request(id), sinkFor(undefined, order)));
    const named = scheduler.submit(request("c0"), sinkFor("c", order));
    const finals = await Promise.all([...anonymous, named].map((handle) => handle.finished));
    assert.deepEqual(finals.map(outcome), ["length", "length", "length", "E_QUEUE_FULL", "length"]);
    await scheduler.stop(1000);
  });

  it("still serves interactive requests before batch ones, taking turns within each", async () => {
    const scheduler = new Scheduler({ backend, maxQueue: 16, concurrency: 1 });
    scheduler.start();
    const order: string[] = [];
    const submit = (id: string, client: string, priority: GenerateRequest["priority"]) =>
      scheduler.submit(request(id, { priority }), sinkFor(client, order));
    const handles = [
      submit("a0", "a", "interactive"),
      submit("a1", "a", "batch"),
      submit("a2", "a", "batch"),
      submit("b0", "b", "batch"),
      submit("b1", "b", "interactive"),
      submit("c0", "c", "interactive"),
    ];
    await Promise.all(handles.map((handle) => handle.finished));
    assert.deepEqual(order, ["a0", "b1", "c0", "a1", "b0", "a2"]);
    await scheduler.stop(1000);
  });

  it("keeps exactly one final answer per request when queued requests of several clients are cancelled, expire or are cut off", async () => {
    const scheduler = new Scheduler({ backend, maxQueue: 8, concurrency: 1, maxQueueSharePerClient: 0.5 });
    scheduler.start();
    const order: string[] = [];
    const messages = new Map<string, ServerMessage[]>();
    const submit = (id: string, client: string, overrides: Partial<GenerateRequest> = {}) => {
      messages.set(id, []);
      return scheduler.submit(request(id, overrides), sinkFor(client, order, messages.get(id)));
    };
    const long = submit("a0", "a", { max_tokens: 1000 });
    const cancelled = submit("a1", "a");
    const expiring = submit("b0", "b", { deadline_ms: 20 });
    const cutOff = submit("b1", "b");
    cancelled.cancel();
    assert.equal(scheduler.stats().queued, 2);
    assert.equal((await expiring.finished).type, "error");
    await scheduler.stop(0);
    const finals = await Promise.all([long, cancelled, expiring, cutOff].map((handle) => handle.finished));
    assert.deepEqual(finals.map(outcome), ["E_SHUTTING_DOWN", "cancelled", "E_DEADLINE_EXCEEDED", "E_SHUTTING_DOWN"]);
    for (const [id, received] of messages) {
      const finalsOfId = received.filter((m) => m.type === "done" || m.type === "error");
      assert.equal(finalsOfId.length, 1, `${id}: exactly one final answer`);
      assert.equal(received.at(-1), finalsOfId[0], `${id}: nothing after it`);
    }
    assert.deepEqual([scheduler.stats().queued, scheduler.stats().running], [0, 0]);
    assert.equal(scheduler.hasRoom("a") && scheduler.hasRoom("b"), true, "nothing left held by either client");
  });
});

describe("Scheduler per-client limit", () => {
  it("is the share of waiting + running capacity, rounded up, at least 1; share 1 leaves only the shared limit", () => {
    const limit = (maxQueue: number, concurrency: number, share?: number) =>
      new Scheduler({ maxQueue, concurrency, maxQueueSharePerClient: share }).perClientLimit();
    assert.equal(limit(64, 4, 0.5), 34);
    assert.equal(limit(26, 4, 0.1), 3, "0.1 × 30 is 3, not 4");
    assert.equal(limit(4, 1, 0.01), 1);
    assert.equal(limit(0, 0, 0.5), 1);
    assert.equal(limit(64, 4, 1), 68);
    assert.equal(limit(64, 4), 68, "no share given: no per-client limit beyond the queue's");
  });

  it("follows a reconfigured share", () => {
    const scheduler = new Scheduler({ maxQueue: 8, concurrency: 2, maxQueueSharePerClient: 0.5 });
    assert.equal(scheduler.perClientLimit(), 5);
    scheduler.reconfigure({ maxQueue: 8, maxQueueSharePerClient: 0.2, logPrompts: false });
    assert.equal(scheduler.perClientLimit(), 2);
  });
});
