/**
 * The spine end to end: `tinyllamad serve` as its own process, real WebSocket clients, a real GGUF
 * model made by the project's generator, loaded by node-llama-cpp.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getLlama, type Token } from "node-llama-cpp";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

const contextSize = 512;
const threads = 2;
const parallelSequences = 4;

/**
 * node-llama-cpp's own greedy output: BOS + the prompt as llama.cpp tokenizes it, temperature 0, with
 * flash attention "auto" as the daemon configures it by default (backend.flashAttention).
 */
async function nodeLlamaCppGreedy(modelPath: string, prompt: string, maxTokens: number) {
  const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads });
  try {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize, threads, flashAttention: "auto" });
    const sequence = context.getSequence();
    const promptTokens = [model.tokens.bos as Token, ...model.tokenize(prompt, false)];
    const generated: Token[] = [];
    for await (const token of sequence.evaluate(promptTokens, { temperature: 0 })) {
      generated.push(token);
      if (generated.length >= maxTokens) break;
    }
    return {
      tokens: generated,
      text: model.detokenize(generated, false, promptTokens),
      promptTokens: promptTokens.length,
    };
  } finally {
    await llama.dispose();
  }
}

describe("tinyllamad serve over WebSocket", () => {
  const modelPath = testModelPath();
  const { daemon, url } = daemonForSuite(
    testDaemonFlags({
      "model.path": modelPath,
      "model.contextSize": String(contextSize),
      "backend.threads": String(threads),
      "scheduler.parallelSequences": String(parallelSequences),
      "limits.maxMessageBytes": "65536",
    }),
  );

  it("answers /healthz on the same port", async () => {
    const response = await fetch(`${url().replace("ws://", "http://")}healthz`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; backend: string };
    assert.equal(body.status, "ok");
    assert.equal(body.backend, "cpu");
  });

  it("streams greedy generation equal to node-llama-cpp's own greedy output", async () => {
    const prompt = "The robot in the garden said";
    const reference = await nodeLlamaCppGreedy(modelPath, prompt, 32);
    const client = await ProtocolClient.connect(url());
    try {
      const answer = await client.request({ id: "greedy", prompt, max_tokens: 32, temperature: 0 });
      assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
      if (answer.final.type !== "done") return;
      assert.equal(answer.final.usage.prompt_tokens, reference.promptTokens);
      assert.equal(answer.final.usage.completion_tokens, reference.tokens.length);
      assert.equal(answer.final.text, reference.text);
      assert.equal(answer.tokens.map((t) => t.text).join(""), reference.text, "streamed pieces add up to the text");
      assert.deepEqual(
        answer.tokens.map((t) => t.seq),
        answer.tokens.map((_, i) => i),
        "seq counts up from 0",
      );
      assert.equal(answer.final.finish_reason, reference.tokens.length === 32 ? "length" : "stop");
      assert.equal(answer.all.at(-1), answer.final, "nothing follows the final answer");
    } finally {
      await client.close();
    }
  });

  it("passes chat, json_schema, session and sampling fields through to the backend", async () => {
    const client = await ProtocolClient.connect(url());
    try {
      const persona = `You are Bram, a gruff dwarf smith. ${"He hates elves and loves gold. ".repeat(6)}`;
      const chat = (id: string, question: string) =>
        client.request({
          id,
          messages: [
            { role: "system", content: persona },
            { role: "user", content: question },
          ],
          session: "bram",
          max_tokens: 40,
          temperature: 0.7,
          seed: 5,
          json_schema: {
            type: "object",
            properties: { mood: { enum: ["angry", "happy"] } },
            required: ["mood"],
            additionalProperties: false,
          },
        });
      const first = await chat("s1", "Hello there!");
      const second = await chat("s2", "Can you fix my axe?");
      for (const answer of [first, second]) {
        assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
        if (answer.final.type !== "done") return;
        assert.equal(answer.final.finish_reason, "stop");
        assert.ok(["angry", "happy"].includes((JSON.parse(answer.final.text) as { mood: string }).mood));
      }
      assert.ok(
        second.final.type === "done" && second.final.usage.cached_prompt_tokens > 50,
        `the session's persona was reused: ${JSON.stringify(second.final)}`,
      );
    } finally {
      await client.close();
    }
  });

  it("stream:false sends only the final answer", async () => {
    const client = await ProtocolClient.connect(url());
    try {
      const answer = await client.request({ id: "quiet", prompt: "Hi", max_tokens: 6, stream: false, temperature: 0 });
      assert.equal(answer.tokens.length, 0);
      assert.equal(answer.all.length, 1);
      assert.equal(answer.final.type === "done" && answer.final.usage.completion_tokens, 6);
    } finally {
      await client.close();
    }
  });

  it("serves 8 concurrent clients, each to a complete answer", async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => ProtocolClient.connect(url())));
    try {
      const answers = await Promise.all(
        clients.map((client, i) =>
          client.request({ id: `c${i}`, prompt: `Story number ${i}:`, max_tokens: 24, temperature: 0 }),
        ),
      );
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.final.type, "done", `client ${i}: ${JSON.stringify(answer.final)}`);
        if (answer.final.type !== "done") continue;
        assert.equal(answer.final.finish_reason, "length");
        assert.equal(answer.final.usage.completion_tokens, 24);
        assert.equal(answer.tokens.map((t) => t.text).join(""), answer.final.text);
      }
      // Concurrency must not change results: greedy output of a prompt is the same alone or in a batch.
      const alone = await clients[3]!.request({
        id: "again",
        prompt: "Story number 3:",
        max_tokens: 24,
        temperature: 0,
      });
      assert.equal(
        alone.final.type === "done" && alone.final.text,
        answers[3]!.final.type === "done" && answers[3]!.final.text,
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it("cancel mid-stream ends the request with finish_reason cancelled", async () => {
    const client = await ProtocolClient.connect(url());
    try {
      const answer = client.answer("long");
      client.send({
        type: "generate",
        id: "long",
        prompt: "Once upon a time",
        max_tokens: 400,
        temperature: 0,
      });
      await client.tokensReceived("long", 3);
      client.send({ type: "cancel", id: "long" });
      const { final, tokens } = await answer;
      assert.equal(final.type, "done");
      if (final.type !== "done") return;
      assert.equal(final.finish_reason, "cancelled");
      assert.ok(final.usage.completion_tokens < 400);
      assert.ok(tokens.length >= 3);
      // The id is free again: a cancel now names nothing in flight.
      const notFound = client.answer("long");
      client.send({ type: "cancel", id: "long" });
      await new Promise((r) => setTimeout(r, 50));
      const errors = client.received.filter((m) => m.id === "long" && m.type === "error");
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.type === "error" && errors[0].error.code, "E_NOT_FOUND");
      void notFound;
    } finally {
      await client.close();
    }
  });

  it("a disconnecting client frees its slot", async () => {
    // Fill every sequence with long requests from one client, then drop that client.
    const hog = await ProtocolClient.connect(url());
    for (let i = 0; i < parallelSequences; i++) {
      hog.send({
        type: "generate",
        id: `hog${i}`,
        prompt: "Count with me:",
        max_tokens: 2000,
        temperature: 0,
      });
    }
    for (let i = 0; i < parallelSequences; i++) await hog.tokensReceived(`hog${i}`, 1);
    hog.socket.terminate();
    await daemon.waitForLog((l) => l.msg === "client disconnected; cancelling its request" || l.msg === "serving");
    const client = await ProtocolClient.connect(url());
    try {
      const answer = await client.request({ id: "after", prompt: "Hello", max_tokens: 8, temperature: 0 }, 30_000);
      assert.equal(answer.final.type, "done");
      const health = (await (await fetch(`${url().replace("ws://", "http://")}healthz`)).json()) as {
        queue: { running: number; cancelled: number };
      };
      assert.equal(health.queue.running, 0, "no generation left running for the dropped client");
      assert.ok(health.queue.cancelled >= parallelSequences);
    } finally {
      await client.close();
    }
  });

  describe("bad input gets a clear error and the daemon keeps serving", () => {
    const cases: Array<{ name: string; send: string | Buffer; code: string; id: string | null }> = [
      { name: "malformed JSON", send: '{"type":"generate",', code: "E_BAD_JSON", id: null },
      { name: "not an object", send: "[1,2,3]", code: "E_BAD_REQUEST", id: null },
      { name: "unknown type", send: '{"type":"dance","id":"u1"}', code: "E_UNKNOWN_TYPE", id: "u1" },
      {
        name: "wrong field type",
        send: '{"type":"generate","id":"w1","prompt":"hi","max_tokens":"many"}',
        code: "E_BAD_REQUEST",
        id: "w1",
      },
      {
        name: "unknown field",
        send: '{"type":"generate","id":"f1","prompt":"hi","temprature":0.5}',
        code: "E_BAD_REQUEST",
        id: "f1",
      },
      { name: "missing prompt", send: '{"type":"generate","id":"m1"}', code: "E_BAD_REQUEST", id: "m1" },
      {
        name: "both prompt and messages",
        send: '{"type":"generate","id":"b1","prompt":"a","messages":[{"role":"user","content":"b"}]}',
        code: "E_BAD_REQUEST",
        id: "b1",
      },
      {
        name: "bad role",
        send: '{"type":"generate","id":"r1","messages":[{"role":"god","content":"b"}]}',
        code: "E_BAD_REQUEST",
        id: "r1",
      },
      // An oversized frame is refused by closing the connection (1009): websocketHardening.e2e.test.ts.
      {
        name: "prompt longer than the context",
        send: JSON.stringify({ type: "generate", id: "long1", prompt: "word ".repeat(1500) }),
        code: "E_PROMPT_TOO_LONG",
        id: "long1",
      },
      {
        name: "cancel of an unknown id",
        send: '{"type":"cancel","id":"nobody"}',
        code: "E_NOT_FOUND",
        id: "nobody",
      },
      { name: "binary frame", send: Buffer.from([1, 2, 3]), code: "E_BAD_JSON", id: null },
    ];
    for (const testCase of cases) {
      it(`${testCase.name} → ${testCase.code}`, async () => {
        const client = await ProtocolClient.connect(url());
        try {
          const answer = client.answer(testCase.id, 30_000);
          client.socket.send(testCase.send);
          const { final } = await answer;
          assert.equal(final.type, "error");
          if (final.type !== "error") return;
          assert.equal(final.error.code, testCase.code, final.error.message);
          assert.ok(final.error.message.length > 0);
          const next = await client.request({
            id: "next",
            prompt: "Still there?",
            max_tokens: 4,
            temperature: 0,
          });
          assert.equal(next.final.type, "done", "the daemon serves the next request on the same connection");
        } finally {
          await client.close();
        }
      });
    }

    it("a duplicate id while the first is in flight → E_DUPLICATE_ID, the first still completes", async () => {
      const client = await ProtocolClient.connect(url());
      try {
        client.send({ type: "generate", id: "dup", prompt: "One", max_tokens: 40, temperature: 0 });
        await client.tokensReceived("dup", 1);
        client.send({ type: "generate", id: "dup", prompt: "Two", max_tokens: 4 });
        const finals = () => client.received.filter((m) => m.id === "dup" && (m.type === "done" || m.type === "error"));
        while (finals().length < 2) await new Promise((r) => setTimeout(r, 10));
        const [duplicate, original] = finals();
        assert.equal(duplicate?.type === "error" && duplicate.error.code, "E_DUPLICATE_ID");
        assert.equal(original?.type === "done" && original.usage.completion_tokens, 40);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(finals().length, 2, "exactly one error for the duplicate and one done for the original");
      } finally {
        await client.close();
      }
    });
  });
});
