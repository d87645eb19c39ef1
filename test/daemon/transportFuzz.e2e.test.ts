/**
 * Fuzzing through the transports (issue 15): random and hostile frames sent to a real daemon over
 * WebSocket and over MQTT 5 (a real Mosquitto, every frame with its own response topic), and random
 * bodies posted to the OpenAI- and Ollama-compatible HTTP APIs. Each frame
 * must get exactly one error answer with the code the protocol parser gives it, in order, and the
 * daemon must still serve a real request afterwards and never exit. The frames come from fast-check
 * with a fixed seed, so a run is bounded and a failure is reproducible.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { parseClientMessage } from "../../daemon/protocol/parseClientMessage.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { prototypeNames } from "../protocol/parseResultInvariants.js";
import { testModelPath } from "../support/testModels.js";

const limits = { maxPromptChars: 4096, defaultMaxTokens: 16, maxMaxTokens: 256 };
const framesPerTransport = 300;
const base = "tinyllamad";
const node = "fuzzed";

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const oddString = fc.string({ unit: codeUnit, maxLength: 24 });
const fieldName = fc.oneof(
  fc.constantFrom("type", "id", "prompt", "messages", "max_tokens", "temperature", "stop", "json_schema", "reply_to"),
  fc.constantFrom(...prototypeNames),
  oddString,
);
const fieldValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString);
/** Message-shaped objects with random and prototype-named fields, written by hand so `__proto__` survives. */
const messageLike = fc
  .tuple(
    fc.oneof(fc.constantFrom("generate", "cancel", "admin"), oddString),
    fc.oneof(fc.constant("f"), oddString, fc.jsonValue({ maxDepth: 1 })),
    fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 4 }),
  )
  .map(([type, id, fields]) =>
    [["type", type], ["id", id], ...fields]
      .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}`)
      .join(","),
  )
  .map((body) => `{${body}}`);
const deepNesting = fc
  .integer({ min: 40, max: 6000 })
  .map((depth) => `{"type":"generate","id":"deep","prompt":"x","stop":${"[".repeat(depth)}1${"]".repeat(depth)}}`);
const frame = fc.oneof(
  fc.json({ maxDepth: 4 }),
  messageLike,
  deepNesting,
  oddString,
  fc.constantFrom("", "null", "[]", "{", '{"type":"cancel","id":"x","valueOf":1}'),
);

interface FuzzCase {
  bytes: Buffer;
  expectedCode: string;
}

/**
 * Frames with the code the parser gives them. Frames the parser accepts as a generate or admin
 * request are left out (they would start real work); an accepted cancel is kept: nothing of that id
 * is in flight, so it must be answered E_NOT_FOUND.
 */
function fuzzCases(seed: number): FuzzCase[] {
  const cases: FuzzCase[] = [];
  for (const text of fc.sample(frame, { numRuns: framesPerTransport * 2, seed })) {
    const bytes = Buffer.from(text, "utf8");
    if (bytes.length > 60_000) continue;
    const parsed = parseClientMessage(bytes, limits);
    if (parsed.ok && parsed.message.type !== "cancel") continue;
    cases.push({ bytes, expectedCode: parsed.ok ? "E_NOT_FOUND" : parsed.error.code });
    if (cases.length === framesPerTransport) break;
  }
  return cases;
}

describe("fuzzing through the transports of a real daemon", () => {
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-fuzz-"));
  let daemon: DaemonProcess;
  let url: string;

  before(async () => {
    await broker.start();
    daemon = new DaemonProcess([
      ...["--model.path", testModelPath(), "--model.contextSize", "256", "--backend.threads", "1"],
      ...["--limits.maxPromptChars", String(limits.maxPromptChars)],
      ...["--limits.defaultMaxTokens", String(limits.defaultMaxTokens)],
      ...["--limits.maxMaxTokens", String(limits.maxMaxTokens)],
      ...["--http.port", "0", "--mqtt.url", broker.url, "--mqtt.nodeId", node, "--state.directory", state],
    ]);
    url = await daemon.start();
  });

  after(async () => {
    if (daemon) assert.equal((await daemon.stop()).code, 0, "the daemon never exited on its own");
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  it("OpenAI and Ollama HTTP APIs: every random body gets a 2xx or a 4xx with a JSON error, never a 5xx, and the daemon still serves", async () => {
    const base = url.replace("ws://", "http://");
    const apiField = fc.oneof(
      fieldName,
      fc.constantFrom("model", "stream", "n", "tools", "response_format", "format", "options", "keep_alive", "seed"),
      fc.constantFrom("max_completion_tokens", "stream_options", "top_p", "presence_penalty", "logit_bias", "raw"),
    );
    // Bodies that reach past the envelope: a served model and a message, then random fields over them.
    const chatLike = fc
      .array(fc.tuple(apiField, fieldValue), { maxLength: 4 })
      .map((fields) =>
        [["model", "tiny-q8_0-seed1"], ["messages", [{ role: "user", content: "Hi" }]], ["prompt", "Hi"], ...fields]
          .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}`)
          .join(","),
      )
      .map((body) => `{${body}}`);
    const bodies = fc.sample(fc.oneof(frame, chatLike, chatLike), { numRuns: 160, seed: 19 });
    const paths = ["/v1/chat/completions", "/v1/completions", "/api/chat", "/api/generate"];
    for (const [index, body] of bodies.entries()) {
      if (Buffer.byteLength(body) > 60_000) continue;
      const path = paths[index % paths.length]!;
      const response = await fetch(`${base}${path.slice(1)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      const text = await response.text();
      assert.ok(response.status < 500, `${path} answered ${response.status} to ${body}: ${text.slice(0, 300)}`);
      if (response.status >= 400) {
        const error = (JSON.parse(text) as { error?: unknown }).error;
        assert.ok(error, `${path}: a ${response.status} carries an error: ${text.slice(0, 300)}`);
      }
    }
    const client = await ProtocolClient.connect(url);
    const answer = await client.request({ id: "after-http-fuzz", prompt: "Hello", max_tokens: 4, temperature: 0 });
    assert.equal(answer.final.type, "done");
    await client.close();
  });

  it("WebSocket: every random frame gets exactly one error, with the parser's code, and the daemon still serves", async () => {
    const cases = fuzzCases(15);
    assert.ok(cases.length >= framesPerTransport * 0.9, `enough refused frames (${cases.length})`);
    const client = await ProtocolClient.connect(url);
    for (const fuzzCase of cases) client.send(fuzzCase.bytes.toString("utf8"));
    const errors = () => client.received.filter((message) => message.type === "error");
    await client.firstMessage(() => errors().length >= cases.length, 60_000);
    const codes = errors().map((message) => (message.type === "error" ? message.error.code : ""));
    assert.deepEqual(
      codes,
      cases.map((fuzzCase) => fuzzCase.expectedCode),
    );
    assert.equal(client.received.length, cases.length, "one answer per frame, nothing else");
    const answer = await client.request({ id: "after-fuzz", prompt: "Hello", max_tokens: 4, temperature: 0 });
    assert.equal(answer.final.type, "done");
    await client.close();
  });

  it("MQTT 5: every random payload gets exactly one error on its own response topic, and the daemon still serves", async () => {
    const cases = fuzzCases(16);
    const client = await MqttProbeClient.connect(broker.url);
    await client.subscribe("fuzz/#");
    for (const [index, fuzzCase] of cases.entries())
      await client.publish(`${base}/${node}/request`, fuzzCase.bytes, {
        properties: { responseTopic: `fuzz/${index}`, correlationData: Buffer.from(String(index)) },
      });
    await client.waitFor(() => client.received.length >= cases.length, 60_000, `${cases.length} answers`);
    for (const [index, fuzzCase] of cases.entries()) {
      const answers = client.received.filter((received) => received.topic === `fuzz/${index}`);
      assert.equal(answers.length, 1, `one answer for frame ${index}: ${fuzzCase.bytes.toString().slice(0, 80)}`);
      const answer = answers[0]!;
      assert.equal(answer.correlationData, String(index));
      assert.equal(
        answer.message.type === "error" ? answer.message.error.code : answer.message.type,
        fuzzCase.expectedCode,
        `frame ${index}: ${fuzzCase.bytes.toString().slice(0, 80)}`,
      );
    }
    await client.subscribe(`${base}/${node}/response/#`);
    await client.publish(`${base}/${node}/request`, {
      type: "generate",
      id: "after-fuzz",
      prompt: "Hello",
      max_tokens: 4,
      temperature: 0,
    });
    assert.equal((await client.final("after-fuzz", 30_000)).type, "done");
    await client.end();
  });
});
