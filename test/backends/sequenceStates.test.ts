/**
 * More conversations than sequences: the llama.cpp backend keeps the most recently used ones in its
 * sequences, saves one to disk before overwriting it, and loads it back when it returns instead of
 * evaluating its prompt again — with the same greedy output. The disk stays under its bound, a corrupt
 * or foreign state is ignored, and a full disk costs only the save.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { GenerationResult } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import type { SequenceStateEvent } from "../../hal/backends/llamaCpp/SequenceStateStore.js";
import { testModelPath } from "../support/testModels.js";
import { collect, jobFor } from "./backendContract.js";

const names = ["Mira", "Tobin", "Sela", "Garrick"];
/** Four personas with nothing in common beyond their first word; ≈ 90 tokens each. */
const persona = (index: number) =>
  `Persona ${names[index]}: ${`${names[index]} guards the ${["north", "east", "south", "west"][index]} gate and remembers every face. `.repeat(6)}`;
const turn = (index: number, round: number) => `${persona(index)}Q${round}: What news, ${names[index]}? A:`;
const loadOptions = { modelPath: testModelPath(), contextSize: 512, parallelSequences: 2, threads: 2 };
const minTokens = 16;
/**
 * Flash attention off: with it on, llama.cpp's CPU kernel rounds differently for the same tokens
 * evaluated in batches of other sizes, which flips near-tied greedy choices of the random test model
 * whenever any prefix is reused (in memory too). Off, a reused or restored prefix must give exactly a
 * fresh evaluation's answer.
 */
const flashAttention = "off" as const;

function backendWith(directory: string, maxBytes: number, events: SequenceStateEvent[] = []) {
  return new LlamaCppBackend({
    kind: "cpu",
    flashAttention,
    sequenceStates: { directory, maxBytes, minTokens },
    onSequenceState: (event) => events.push(event),
  });
}

function diskBytes(directory: string): number {
  let total = 0;
  for (const key of readdirSync(directory))
    for (const file of readdirSync(join(directory, key))) total += statSync(join(directory, key, file)).size;
  return total;
}

const count = (events: SequenceStateEvent[], kind: SequenceStateEvent["kind"]) =>
  events.filter((event) => event.kind === kind).length;

describe("sequence states on disk (more personas than sequences)", () => {
  const root = mkdtempSync(join(tmpdir(), "tinyllamad-states-"));
  /** Greedy answers of a backend that never reuses anything: one fresh sequence per prompt. */
  const baseline = new Map<string, string>();
  before(async () => {
    const fresh = new LlamaCppBackend({ kind: "cpu", flashAttention });
    await fresh.load({ ...loadOptions, parallelSequences: 1 });
    try {
      for (const round of [0, 1])
        for (const index of names.keys()) {
          const prompt = turn(index, round);
          // Another prompt in between, so that this one shares nothing with what the sequence holds.
          await collect(fresh, jobFor("Unrelated.", { maxTokens: 1 }));
          baseline.set(prompt, (await collect(fresh, jobFor(prompt, { maxTokens: 8 }))).result.text);
        }
    } finally {
      await fresh.unload();
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  async function playRounds(backend: LlamaCppBackend, rounds: number[]): Promise<Map<string, GenerationResult>> {
    const results = new Map<string, GenerationResult>();
    for (const round of rounds)
      for (const index of names.keys()) {
        const prompt = turn(index, round);
        results.set(prompt, (await collect(backend, jobFor(prompt, { maxTokens: 8 }))).result);
      }
    return results;
  }

  it("loads a returning persona back from disk instead of evaluating it, with the same greedy answer", async () => {
    const directory = join(root, "restore");
    const events: SequenceStateEvent[] = [];
    const backend = backendWith(directory, 64 * 2 ** 20, events);
    await backend.load(loadOptions);
    try {
      const results = await playRounds(backend, [0, 1]);
      const personaTokens = backend.model.tokenize(persona(0)).length;
      for (const index of names.keys()) {
        const first = results.get(turn(index, 0));
        const returning = results.get(turn(index, 1));
        assert.ok(first && returning);
        assert.equal(first.restoredPromptTokens, 0, "the first turn evaluates its persona");
        assert.ok(
          (returning.restoredPromptTokens ?? 0) >= personaTokens,
          `${names[index]}: restored ${returning.restoredPromptTokens} of a ${personaTokens}-token persona`,
        );
        assert.equal(returning.evaluatedPromptTokens, returning.promptTokens - returning.reusedPromptTokens);
        assert.ok(
          returning.evaluatedPromptTokens < returning.promptTokens - personaTokens + 5,
          `${names[index]} evaluated ${returning.evaluatedPromptTokens} of ${returning.promptTokens} prompt tokens`,
        );
        assert.equal(first.text, baseline.get(turn(index, 0)));
        assert.equal(returning.text, baseline.get(turn(index, 1)), `${names[index]}: the restored answer`);
      }
      assert.equal(count(events, "restored"), names.length);
      assert.ok(count(events, "saved") >= names.length, `${count(events, "saved")} saved`);
      assert.equal(count(events, "failed") + count(events, "rejected"), 0);
    } finally {
      await backend.unload();
    }

    // A backend started later on the same directory finds the states (a restart keeps them).
    const later = backendWith(directory, 64 * 2 ** 20);
    await later.load(loadOptions);
    try {
      const again = await collect(later, jobFor(turn(2, 1), { maxTokens: 8 }));
      assert.ok((again.result.restoredPromptTokens ?? 0) > 0, "restored after a restart");
      assert.equal(again.result.text, baseline.get(turn(2, 1)));
    } finally {
      await later.unload();
    }
  });

  it("keeps the states under the disk bound, evicting the least recently used", async () => {
    const sized = join(root, "restore");
    const [key] = readdirSync(sized);
    const stateBytes = Math.max(
      ...readdirSync(join(sized, key ?? ""))
        .filter((file) => file.endsWith(".state"))
        .map((file) => statSync(join(sized, key ?? "", file)).size),
    );
    const directory = join(root, "bounded");
    const maxBytes = Math.floor(stateBytes * 2.5);
    const events: SequenceStateEvent[] = [];
    const backend = backendWith(directory, maxBytes, events);
    await backend.load(loadOptions);
    try {
      for (const round of [0, 1, 2]) {
        await playRounds(backend, [round]);
        assert.ok(diskBytes(directory) <= maxBytes, `${diskBytes(directory)} bytes on disk, bound ${maxBytes}`);
      }
      assert.ok(count(events, "evicted") > 0, "states were evicted to stay under the bound");
      assert.ok(count(events, "restored") > 0, "the states kept were still used");
      assert.ok(events.every((event) => event.usedBytes <= maxBytes));
    } finally {
      await backend.unload();
    }
  });

  it("ignores and deletes a corrupt state, a foreign one and stray files, and answers as without them", async () => {
    const directory = join(root, "restore");
    const [key] = readdirSync(directory);
    const keyDirectory = join(directory, key ?? "");
    const states = readdirSync(keyDirectory).filter((file) => file.endsWith(".state"));
    for (const file of states) {
      const bytes = readFileSync(join(keyDirectory, file));
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
      writeFileSync(join(keyDirectory, file), bytes);
    }
    writeFileSync(join(keyDirectory, "garbage.json"), "{not json");
    writeFileSync(join(keyDirectory, "orphan.state"), "no metadata");
    const events: SequenceStateEvent[] = [];
    const backend = backendWith(directory, 64 * 2 ** 20, events);
    await backend.load(loadOptions);
    try {
      const results = await playRounds(backend, [1]);
      for (const [prompt, result] of results) {
        assert.equal(result.restoredPromptTokens, 0, "no corrupt state is loaded");
        assert.equal(result.text, baseline.get(prompt));
      }
      assert.ok(count(events, "rejected") >= 2, `${count(events, "rejected")} rejected`);
      assert.equal(count(events, "restored"), 0);
      const left = readdirSync(keyDirectory);
      assert.ok(!left.includes("garbage.json") && !left.includes("orphan.state"), left.join(", "));
    } finally {
      await backend.unload();
    }

    // Another model of the same shape gets a directory of its own: none of these states reach it.
    const other = new LlamaCppBackend({
      kind: "cpu",
      flashAttention,
      sequenceStates: { directory, maxBytes: 64 * 2 ** 20, minTokens },
    });
    await other.load({ ...loadOptions, modelPath: testModelPath("tiny", "q8_0", 2) });
    try {
      const answer = await collect(other, jobFor(turn(0, 1), { maxTokens: 8 }));
      assert.equal(answer.result.restoredPromptTokens, 0);
      assert.equal(answer.result.reusedPromptTokens, 0);
    } finally {
      await other.unload();
    }
  });

  it("a full disk costs only the save: generations go on, the failure is counted", {
    skip: process.getuid?.() !== 0 ? "mounting a tmpfs needs root" : false,
  }, async () => {
    const directory = join(root, "full");
    mkdirSync(directory);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", directory]);
    const events: SequenceStateEvent[] = [];
    const backend = backendWith(directory, 64 * 2 ** 20, events);
    try {
      await backend.load(loadOptions);
      const results = await playRounds(backend, [0, 1]);
      for (const [prompt, result] of results) assert.equal(result.text, baseline.get(prompt));
      assert.ok(count(events, "failed") > 0, "the saves that did not fit were counted as failed");
      assert.ok(
        readdirSync(directory).every((key) => readdirSync(join(directory, key)).every((f) => !f.endsWith(".tmp"))),
        "no partial file is left behind",
      );
    } finally {
      await backend.unload();
      execFileSync("umount", [directory]);
    }
  });
});
