/**
 * The scheduler's per-client queue on its own: which waiting request goes next, and what each
 * client holds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FairQueue } from "../../daemon/scheduler/FairQueue.js";

type Priority = "interactive" | "batch";
const both: readonly Priority[] = ["interactive", "batch"];

/** Items are named after their client: "a3" is client a's fourth. */
function clientOf(item: string): string {
  return item.replace(/\d+$/, "");
}

function pushAll(queue: FairQueue<string, Priority>, items: string[], priority: Priority = "interactive"): void {
  for (const item of items) queue.push(item, clientOf(item), priority);
}

/** Serves everything one at a time (one sequence): each item ends before the next is taken. */
function serveOneAtATime(queue: FairQueue<string, Priority>, priorities = both): string[] {
  const order: string[] = [];
  for (let item = queue.take(priorities); item !== undefined; item = queue.take(priorities)) {
    order.push(item);
    queue.ended(clientOf(item));
  }
  return order;
}

describe("FairQueue", () => {
  it("a client's single request does not wait behind another client's backlog", () => {
    const queue = new FairQueue<string, Priority>();
    pushAll(queue, ["a0", "a1", "a2", "a3"]);
    const first = queue.take(both);
    assert.equal(first, "a0");
    pushAll(queue, ["b0"]);
    queue.ended("a");
    assert.deepEqual(serveOneAtATime(queue), ["b0", "a1", "a2", "a3"]);
  });

  it("takes turns between clients with work waiting, each client's own requests in arrival order", () => {
    const queue = new FairQueue<string, Priority>();
    pushAll(queue, ["a0", "a1", "a2", "b0", "b1", "c0"]);
    assert.deepEqual(serveOneAtATime(queue), ["a0", "b0", "c0", "a1", "b1", "a2"]);
  });

  it("serves the client with the fewest requests running first", () => {
    const queue = new FairQueue<string, Priority>();
    pushAll(queue, ["a0", "a1", "a2", "b0", "b1"]);
    // Three sequences: a0, b0, then a1 (a and b both have one running; a's turn came longer ago).
    assert.deepEqual([queue.take(both), queue.take(both), queue.take(both)], ["a0", "b0", "a1"]);
    queue.ended("b");
    assert.equal(queue.take(both), "b1", "b has none running now, a has two");
  });

  it("serves interactive requests before batch ones, whoever sent them", () => {
    const queue = new FairQueue<string, Priority>();
    pushAll(queue, ["a0", "a1"], "batch");
    pushAll(queue, ["b0"], "batch");
    pushAll(queue, ["c0"], "interactive");
    pushAll(queue, ["a2"], "interactive");
    assert.deepEqual(serveOneAtATime(queue), ["c0", "a2", "b0", "a0", "a1"]);
  });

  it("leaves batch requests waiting while only interactive ones may run", () => {
    const queue = new FairQueue<string, Priority>();
    pushAll(queue, ["a0"], "batch");
    assert.equal(queue.take(["interactive"]), undefined);
    assert.equal(queue.size, 1);
    assert.equal(queue.take(both), "a0");
  });

  it("counts what each client holds, waiting and running, and forgets a client with nothing left", () => {
    const queue = new FairQueue<string, Priority>();
    pushAll(queue, ["a0", "a1", "b0"]);
    assert.equal(queue.take(both), "a0");
    assert.deepEqual([queue.heldBy("a"), queue.heldBy("b"), queue.heldBy("c"), queue.size], [2, 1, 0, 2]);
    assert.equal(queue.remove("a1", "a", "interactive"), true);
    assert.equal(queue.remove("a1", "a", "interactive"), false, "already gone");
    assert.equal(queue.remove("b0", "b", "batch"), false, "not in that priority");
    assert.deepEqual(queue.waitingItems(), ["b0"]);
    queue.ended("a");
    assert.equal(queue.heldBy("a"), 0);
    queue.ended("a"); // nothing running: no negative count
    pushAll(queue, ["a2"]);
    assert.equal(queue.heldBy("a"), 1);
    // Back after having nothing, a counts as a new client: like b (never served), so the older request goes first.
    assert.deepEqual(serveOneAtATime(queue), ["b0", "a2"]);
  });

  it("under any mix of arrivals, removals and ends: every request is taken at most once, in its client's order, and the counts add up", () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant("push" as const), client: fc.constantFrom("a", "b", "c", ""), batch: fc.boolean() }),
      fc.record({ op: fc.constant("take" as const), interactiveOnly: fc.boolean() }),
      fc.record({ op: fc.constant("end" as const), pick: fc.nat() }),
      fc.record({ op: fc.constant("remove" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const queue = new FairQueue<number, Priority>();
        const waiting: Array<{ item: number; client: string; priority: Priority }> = [];
        const running: Array<{ item: number; client: string }> = [];
        const taken = new Set<number>();
        const lastTakenOf = new Map<string, Map<Priority, number>>();
        let next = 0;
        for (const operation of operations) {
          if (operation.op === "push") {
            const priority: Priority = operation.batch ? "batch" : "interactive";
            waiting.push({ item: next, client: operation.client, priority });
            queue.push(next++, operation.client, priority);
          } else if (operation.op === "take") {
            const item = queue.take(operation.interactiveOnly ? ["interactive"] : both);
            if (item === undefined) {
              assert.ok(!waiting.some((w) => w.priority === "interactive"));
              if (!operation.interactiveOnly) assert.equal(waiting.length, 0);
              continue;
            }
            assert.ok(!taken.has(item), "taken once");
            taken.add(item);
            const index = waiting.findIndex((w) => w.item === item);
            const entry = waiting.splice(index, 1)[0]!;
            if (operation.interactiveOnly) assert.equal(entry.priority, "interactive");
            else if (entry.priority === "batch") assert.ok(!waiting.some((w) => w.priority === "interactive"));
            const previous = lastTakenOf.get(entry.client)?.get(entry.priority) ?? -1;
            assert.ok(item > previous, "a client's requests of one priority leave in arrival order");
            lastTakenOf.set(entry.client, (lastTakenOf.get(entry.client) ?? new Map()).set(entry.priority, item));
            running.push({ item, client: entry.client });
          } else if (operation.op === "end" && running.length > 0) {
            const [ended] = running.splice(operation.pick % running.length, 1);
            queue.ended(ended!.client);
          } else if (operation.op === "remove" && waiting.length > 0) {
            const [removed] = waiting.splice(operation.pick % waiting.length, 1);
            assert.equal(queue.remove(removed!.item, removed!.client, removed!.priority), true);
          }
          assert.equal(queue.size, waiting.length);
          for (const client of ["a", "b", "c", ""]) {
            const held = [...waiting, ...running].filter((entry) => entry.client === client).length;
            assert.equal(queue.heldBy(client), held, `held by '${client}'`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
