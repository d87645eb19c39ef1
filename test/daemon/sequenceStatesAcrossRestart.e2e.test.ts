/**
 * A restart keeps the conversations: on SIGTERM the daemon saves what its sequences hold to disk, and
 * a daemon started on the same state directory loads a returning conversation from there
 * (usage.cached_prompt_tokens) instead of evaluating its persona again — with the greedy answer of a
 * daemon that never stopped (flash attention off: see docs/prefix-reuse.md, "Things to know"). A disk
 * that fails at the stop costs only the save: the daemon still exits 0 and says why.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { DoneMessage } from "../../daemon/protocol/messages.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testModelPath } from "../support/testModels.js";

type Message = { role: "system" | "user" | "assistant"; content: string };

const persona: Message = {
  role: "system",
  content: `You are Mira, the innkeeper of Oakvale. ${"Mira speaks plainly about rooms, stew and the weather. ".repeat(5)}`,
};
const firstTurn: Message[] = [persona, { role: "user", content: "Any rooms tonight?" }];
const secondTurn = (answer: string): Message[] => [
  ...firstTurn,
  { role: "assistant", content: answer },
  { role: "user", content: "How much for two nights?" },
];

const roots: string[] = [];
function stateDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), "tinyllamad-restart-"));
  roots.push(directory);
  return directory;
}

function daemonOn(state: string): DaemonProcess {
  return new DaemonProcess([
    "--model.path",
    testModelPath(),
    "--model.contextSize",
    "512",
    "--backend.threads",
    "2",
    "--backend.flashAttention",
    "off",
    "--scheduler.parallelSequences",
    "2",
    "--backend.sequenceStateMinTokens",
    "16",
    "--state.directory",
    state,
    "--ws.port",
    "0",
    "--mqtt.enabled",
    "false",
  ]);
}

/** Runs `work` against a fresh daemon on `state`, then stops it with SIGTERM (also when `work` fails). */
async function withDaemon<T>(
  state: string,
  work: (chat: (messages: Message[]) => Promise<DoneMessage>, base: string) => Promise<T>,
): Promise<{ value: T; code: number | null; daemon: DaemonProcess }> {
  const daemon = daemonOn(state);
  const url = await daemon.start(120_000);
  const client = await ProtocolClient.connect(url);
  let counter = 0;
  const chat = async (messages: Message[]) => {
    const answer = await client.request({ id: `turn-${counter++}`, messages, max_tokens: 8, temperature: 0 }, 120_000);
    assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
    return answer.final as DoneMessage;
  };
  const outcome = await work(chat, url.replace("ws://", "http://")).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await client.close();
  const { code } = await daemon.stop();
  if ("error" in outcome) throw outcome.error;
  return { value: outcome.value, code, daemon };
}

async function metric(base: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

/** The state files (llama.cpp's `.state`, not their metadata) under a state directory. */
function stateFiles(state: string): string[] {
  const root = join(state, "sequence-states");
  return readdirSync(root).flatMap((key) => readdirSync(join(root, key)).filter((file) => file.endsWith(".state")));
}

describe("sequence states across a restart", () => {
  after(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it("a conversation resident at SIGTERM is loaded from disk after the restart, with an uninterrupted daemon's answer", async () => {
    // The reference: both turns on one daemon that never stops (the second reuses the first in memory).
    const { value: reference } = await withDaemon(stateDirectory(), async (chat) => {
      const first = await chat(firstTurn);
      return { first, second: await chat(secondTurn(first.text)) };
    });

    const state = stateDirectory();
    const stopped = await withDaemon(state, (chat) => chat(firstTurn));
    const first = stopped.value;
    assert.equal(stopped.code, 0);
    assert.equal(first.text, reference.first.text, "the first turn is the same greedy answer");
    // Only one conversation ever ran: nothing was evicted, so this state is the stop's.
    assert.equal(stateFiles(state).length, 1, "the resident conversation was saved at the stop");

    const restarted = await withDaemon(state, async (chat, base) => ({
      second: await chat(secondTurn(first.text)),
      restored: await metric(base, "tinyllamad_sequence_states_total", 'event="restored"'),
    }));
    assert.equal(restarted.code, 0);
    const { second, restored } = restarted.value;
    assert.equal(restored, 1, "the conversation came from disk, not from evaluation");
    assert.ok(
      // The first turn's prompt is a prefix of this one (its answer may be re-tokenized at the edges).
      second.usage.cached_prompt_tokens >= first.usage.prompt_tokens - 2,
      `reused ${second.usage.cached_prompt_tokens} of ${second.usage.prompt_tokens} prompt tokens after the restart; the first turn's prompt had ${first.usage.prompt_tokens}`,
    );
    assert.equal(second.usage.evaluated_prompt_tokens, second.usage.prompt_tokens - second.usage.cached_prompt_tokens);
    assert.equal(second.usage.cached_prompt_tokens, reference.second.usage.cached_prompt_tokens);
    assert.equal(second.text, reference.second.text, "the answer after the restart is the uninterrupted daemon's");
  });

  it("a disk that fails at the stop costs only the save: the stop ends, exit 0, with a warning", async () => {
    const state = stateDirectory();
    const stopped = await withDaemon(state, async (chat) => {
      await chat(firstTurn);
      // The model's state directory turns into a file: every write into it fails (for root too).
      const root = join(state, "sequence-states");
      for (const key of readdirSync(root)) {
        rmSync(join(root, key), { recursive: true, force: true });
        writeFileSync(join(root, key), "not a directory");
      }
    });
    assert.equal(stopped.code, 0);
    assert.ok(
      stopped.daemon.logLines.some((line) => line.level === "warn" && line.msg.includes("could not be saved")),
      "the failed save is logged",
    );
    assert.ok(
      stopped.daemon.logLines.some((line) => line.msg === "stopped"),
      "the stop went on to its end",
    );
  });
});
