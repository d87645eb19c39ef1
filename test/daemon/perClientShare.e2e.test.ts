/**
 * Per-client fairness end to end: `tinyllamad serve` as its own process with one sequence and a
 * small queue, two real WebSocket clients. One floods past its share of the queue; the other is
 * still accepted, and served before the flooder's backlog.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ServerMessage } from "../../daemon/protocol/messages.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

describe("tinyllamad serve: a client's share of the queue", () => {
  // 4 waiting + 1 running admitted; half of that, rounded up: 3 per client.
  const { url } = daemonForSuite(
    testDaemonFlags({
      "model.contextSize": "512",
      "backend.threads": "2",
      "scheduler.parallelSequences": "1",
      "scheduler.maxQueue": "4",
      "scheduler.maxQueueSharePerClient": "0.5",
    }),
  );

  it("refuses a flooding client past its share with E_QUEUE_FULL, accepts another client and serves it before the backlog", async () => {
    const flooder = await ProtocolClient.connect(url());
    const other = await ProtocolClient.connect(url());
    // Every message of both clients, in the order this process received them.
    const arrivals: ServerMessage[] = [];
    for (const client of [flooder, other])
      client.socket.on("message", (data) => arrivals.push(JSON.parse(data.toString()) as ServerMessage));
    try {
      const generate = (id: string) => ({ id, prompt: `Story ${id}:`, max_tokens: 48, temperature: 0 });
      // a0 runs long enough for everything below to arrive while it still holds the one sequence.
      const running = flooder.request({ ...generate("a0"), max_tokens: 400 });
      await flooder.tokensReceived("a0", 1);
      const flood = ["a1", "a2", "a3", "a4"].map((id) => flooder.request(generate(id)));
      const served = other.request(generate("b0"));

      const refused = await Promise.all(flood.slice(2));
      for (const { final } of refused) {
        assert.equal(final.type === "error" && final.error.code, "E_QUEUE_FULL", JSON.stringify(final));
        assert.match(final.type === "error" ? final.error.message : "", /share of the queue is full/);
      }
      assert.equal((await served).final.type, "done", JSON.stringify((await served).final));

      const answers = await Promise.all([running, ...flood]);
      assert.deepEqual(
        answers.map(({ final }) => (final.type === "error" ? final.error.code : final.finish_reason)),
        ["length", "length", "length", "E_QUEUE_FULL", "E_QUEUE_FULL"],
      );
      // b0 was queued behind a1 and a2 but started first: it ended before any of their tokens came.
      const doneOfB = arrivals.findIndex((m) => m.id === "b0" && m.type === "done");
      const firstOfBacklog = arrivals.findIndex((m) => (m.id === "a1" || m.id === "a2") && m.type === "token");
      assert.ok(doneOfB >= 0 && doneOfB < firstOfBacklog, `b0 done at ${doneOfB}, backlog began at ${firstOfBacklog}`);

      // With its requests answered, the flooder's share is free again.
      const again = await flooder.request(generate("a5"));
      assert.equal(again.final.type, "done");
    } finally {
      await Promise.all([flooder.close(), other.close()]);
    }
  });
});
