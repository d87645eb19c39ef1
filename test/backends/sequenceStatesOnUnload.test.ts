/**
 * Unloading the llama.cpp backend (a stop, a model swap) saves the conversations its sequences still
 * hold, by an eviction's rules and within the caller's time: a backend loaded later on the same
 * directory loads such a conversation instead of evaluating it, with a fresh evaluation's greedy
 * answer; a conversation too short to be worth a write is not saved; with no time left nothing is
 * written and each conversation is counted "unsaved"; an unload told not to save (calibration) writes nothing.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import type { SequenceStateEvent } from "../../hal/backends/llamaCpp/SequenceStateStore.js";
import { testModelPath } from "../support/testModels.js";
import { collect, jobFor } from "./backendContract.js";

const persona = `Persona Mira: ${"Mira keeps the inn by the north gate and remembers every face. ".repeat(6)}`;
const loadOptions = { modelPath: testModelPath(), contextSize: 512, parallelSequences: 2, threads: 2 };
const minTokens = 16;
/** Flash attention off: a restored prefix then gives exactly a fresh evaluation's answer (sequenceStates.test.ts). */
const flashAttention = "off" as const;

function backendWith(directory: string, events: SequenceStateEvent[]) {
  return new LlamaCppBackend({
    kind: "cpu",
    flashAttention,
    sequenceStates: { directory, maxBytes: 64 * 2 ** 20, minTokens },
    onSequenceState: (event) => events.push(event),
  });
}

const count = (events: SequenceStateEvent[], kind: SequenceStateEvent["kind"]) =>
  events.filter((event) => event.kind === kind).length;

function stateFiles(directory: string): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory).flatMap((key) =>
    readdirSync(join(directory, key)).filter((file) => file.endsWith(".state")),
  );
}

describe("sequence states saved when the backend unloads", () => {
  const root = mkdtempSync(join(tmpdir(), "tinyllamad-unload-states-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("saves the resident conversation worth keeping, which a later backend loads with a fresh evaluation's answer", async () => {
    const directory = join(root, "saved");
    const events: SequenceStateEvent[] = [];
    const first = backendWith(directory, events);
    await first.load(loadOptions);
    let answer = "";
    try {
      answer = (await collect(first, jobFor(persona, { maxTokens: 8 }))).result.text;
      // On the other, empty sequence: a handful of tokens, below minTokens.
      await collect(first, jobFor("Hi.", { maxTokens: 1 }));
      assert.equal(count(events, "saved"), 0, "nothing was evicted while serving");
    } finally {
      await first.unload();
    }
    assert.equal(count(events, "saved"), 1, "the persona was saved at the unload, the short prompt not");
    assert.equal(count(events, "unsaved") + count(events, "failed"), 0);
    assert.equal(stateFiles(directory).length, 1);

    const returning = `${persona}${answer} Q: Any rooms? A:`;
    const fresh = new LlamaCppBackend({ kind: "cpu", flashAttention });
    await fresh.load({ ...loadOptions, parallelSequences: 1 });
    let expected = "";
    try {
      expected = (await collect(fresh, jobFor(returning, { maxTokens: 8 }))).result.text;
    } finally {
      await fresh.unload();
    }

    const laterEvents: SequenceStateEvent[] = [];
    const later = backendWith(directory, laterEvents);
    await later.load(loadOptions);
    try {
      const { result } = await collect(later, jobFor(returning, { maxTokens: 8 }));
      const personaTokens = later.model.tokenize(persona).length;
      assert.ok(
        // The persona's trailing space may merge with the answer's first word: one token of slack.
        (result.restoredPromptTokens ?? 0) >= personaTokens - 1,
        `restored ${result.restoredPromptTokens} prompt tokens of a ${personaTokens}-token persona`,
      );
      assert.equal(result.evaluatedPromptTokens, result.promptTokens - result.reusedPromptTokens);
      assert.equal(result.text, expected, "the restored conversation answers as a fresh evaluation");
      assert.equal(count(laterEvents, "restored"), 1);
    } finally {
      await later.unload();
    }
    // The longer conversation replaced the state it grew from: still one file.
    assert.equal(stateFiles(directory).length, 1);
    assert.equal(count(laterEvents, "replaced"), 1);
  });

  /** A persona's conversation, then an unload with `options`: what was counted and the backend (model freed). */
  async function conversationThenUnload(name: string, options: Parameters<LlamaCppBackend["unload"]>[0]) {
    const directory = join(root, name);
    const events: SequenceStateEvent[] = [];
    const backend = backendWith(directory, events);
    await backend.load(loadOptions);
    try {
      await collect(backend, jobFor(persona, { maxTokens: 8 }));
    } finally {
      await backend.unload(options);
    }
    return { directory, events, backend };
  }

  it("with no time left, saves nothing and counts the conversation as unsaved", async () => {
    const { directory, events, backend } = await conversationThenUnload("no-time", { signal: AbortSignal.abort() });
    assert.equal(count(events, "unsaved"), 1);
    assert.equal(count(events, "saved"), 0);
    assert.deepEqual(stateFiles(directory), []);
    await assert.rejects(() => collect(backend, jobFor("Hi.")), { code: "E_NOT_READY" }, "the model is freed");
  });

  it("an unload told not to save (a calibration run) writes nothing and counts nothing", async () => {
    const { directory, events } = await conversationThenUnload("calibration", { saveStates: false });
    assert.equal(count(events, "saved") + count(events, "unsaved"), 0);
    assert.deepEqual(stateFiles(directory), []);
  });
});
