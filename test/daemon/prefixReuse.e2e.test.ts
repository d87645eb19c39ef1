/**
 * Prefix reuse as a client sees it, without any session id: a chat re-sent turn by turn (the way the
 * OpenAI and Ollama APIs work) evaluates only what is new, and with more personas than sequences a
 * returning persona is loaded back from disk. The reuse lives in the backend, below every transport,
 * so the WebSocket API here stands for all of them; the figures are in the final message's usage and
 * in /metrics.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { DoneMessage } from "../../daemon/protocol/messages.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

type Message = { role: "system" | "user" | "assistant"; content: string };

const personaOf = (name: string, trade: string) =>
  `You are ${name}, the ${trade} of Oakvale. ${`${name} speaks plainly about ${trade} work and the weather. `.repeat(4)}`;

describe("prefix reuse without a session id", () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-reuse-"));
  const daemon = new DaemonProcess(
    testDaemonFlags({
      "model.contextSize": 512,
      "backend.threads": 2,
      "backend.flashAttention": "off",
      "scheduler.parallelSequences": 2,
      "backend.sequenceStateMinTokens": 16,
      "state.directory": state,
    }),
  );
  let client: ProtocolClient;
  let base = "";
  let counter = 0;
  before(async () => {
    const url = await daemon.start(120_000);
    base = url.replace("ws://", "http://");
    client = await ProtocolClient.connect(url);
  });
  after(async () => {
    await client.close();
    assert.equal((await daemon.stop()).code, 0);
    rmSync(state, { recursive: true, force: true });
  });

  async function chat(messages: Message[]): Promise<DoneMessage> {
    const answer = await client.request({ id: `reuse-${counter++}`, messages, max_tokens: 6, temperature: 0 }, 120_000);
    assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
    return answer.final as DoneMessage;
  }

  async function metric(name: string, labels: string): Promise<number> {
    const text = await (await fetch(`${base}metrics`)).text();
    const prefix = labels === "" ? `${name} ` : `${name}{${labels}}`;
    const line = text.split("\n").find((l) => l.startsWith(prefix));
    return line === undefined ? 0 : Number(line.split(" ").at(-1));
  }

  it("a growing history re-sent each turn evaluates only the new turn", async () => {
    const history: Message[] = [{ role: "system", content: personaOf("Mira", "innkeeper") }];
    let previous: DoneMessage | undefined;
    const reusedBefore = await metric("tinyllamad_prompt_tokens_total", 'source="reused"');
    for (const question of ["Any rooms?", "How much?", "Is there stew?", "Goodnight."]) {
      history.push({ role: "user", content: question });
      const done = await chat(history);
      if (previous !== undefined) {
        // The previous prompt is a prefix of this one (its answer may be re-tokenized at the edges).
        assert.ok(
          done.usage.cached_prompt_tokens >= previous.usage.prompt_tokens - 2,
          `reused ${done.usage.cached_prompt_tokens} of the previous ${previous.usage.prompt_tokens} prompt tokens`,
        );
        assert.equal(done.usage.evaluated_prompt_tokens, done.usage.prompt_tokens - done.usage.cached_prompt_tokens);
      }
      history.push({ role: "assistant", content: done.text });
      previous = done;
    }
    assert.ok((await metric("tinyllamad_prompt_tokens_total", 'source="reused"')) > reusedBefore);
  });

  it("the same through the OpenAI-compatible API: usage.prompt_tokens_details.cached_tokens grows with the chat", async () => {
    const openai = new OpenAI({ apiKey: "unused", baseURL: `${base}v1`, maxRetries: 0 });
    const history: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: "system", content: personaOf("Bram", "brewer") },
    ];
    let previousPrompt = 0;
    for (const question of ["What do you brew?", "Is it strong?", "One pint, please."]) {
      history.push({ role: "user", content: question });
      const completion = await openai.chat.completions.create({
        model: "tiny-q8_0-seed1",
        messages: history,
        max_tokens: 6,
        temperature: 0,
      });
      const usage = completion.usage;
      assert.ok(usage !== undefined);
      const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
      if (previousPrompt > 0)
        assert.ok(cached >= previousPrompt - 2, `cached ${cached} of the previous ${previousPrompt} prompt tokens`);
      previousPrompt = usage.prompt_tokens;
      history.push({ role: "assistant", content: completion.choices[0]?.message.content ?? "" });
    }
  });

  it("with more personas than sequences, a returning persona is loaded from disk, not evaluated again", async () => {
    const personas = [personaOf("Tobin", "blacksmith"), personaOf("Sela", "healer"), personaOf("Garrick", "guard")].map(
      (persona) => [{ role: "system" as const, content: persona }],
    );
    const first = [];
    for (const persona of personas) first.push(await chat([...persona, { role: "user", content: "Hello." }]));
    const restoredBefore = await metric("tinyllamad_sequence_states_total", 'event="restored"');
    // Tobin's sequence was overwritten by Garrick (2 sequences, least recently used first).
    const returning = await chat([...(personas[0] ?? []), { role: "user", content: "Any news?" }]);
    assert.ok(
      returning.usage.cached_prompt_tokens > (first[0]?.usage.prompt_tokens ?? 0) / 2,
      `reused ${returning.usage.cached_prompt_tokens} of ${returning.usage.prompt_tokens}`,
    );
    assert.ok((await metric("tinyllamad_sequence_states_total", 'event="restored"')) > restoredBefore);
    assert.ok((await metric("tinyllamad_sequence_states_total", 'event="saved"')) > 0);
    assert.ok((await metric("tinyllamad_sequence_state_bytes", "")) > 0);
  });
});
