/**
 * The NPC workload (issue 19 item 4, issue 21 workload 2b): what a game does with dialogue.
 *
 * 1. One persona (≈300 tokens) and 8 growing turns: each turn re-sends the whole transcript, with no
 *    session id, as a client of an OpenAI-style API does. Per-turn TTFT of tinyllamad's automatic
 *    reuse (1 sequence) against llama-server (1 slot) with `cache_prompt: true`, the two in turns.
 * 2. 8 personas over 4 sequences, each persona speaking once per round: tinyllamad with its sequence
 *    states on disk (the default), tinyllamad without them (`backend.sequenceStateMaxBytes 0`), and
 *    llama-server with 4 slots, `cache_prompt: true` and its defaults (which include a host-memory
 *    prompt cache, `--cache-ram` 8192 MiB). The returning turns (round 2 on) are what differs.
 *
 * Every side gets the same prompt text; greedy decoding; a fresh state directory per daemon. Reused
 * tokens come from each side's own report (tinyllamad: usage.cached_prompt_tokens; llama-server:
 * timings.cache_n), evaluated ones likewise (evaluated_prompt_tokens; timings.prompt_n).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { summarize } from "../measurements.js";
import { LlamaServer } from "./llamaServerLeg.js";

export interface NpcTurn {
  ttftMs: number;
  promptTokens: number;
  reusedTokens: number;
  evaluatedTokens: number;
  text: string;
}

interface NpcSide {
  name: string;
  turn(prompt: string, maxTokens: number): Promise<NpcTurn>;
  stop(): Promise<void>;
}

const names = ["Mira", "Tobin", "Sela", "Garrick", "Ilse", "Bram", "Odette", "Corwin"];
const trades = ["innkeeper", "blacksmith", "healer", "guard", "fisher", "miller", "weaver", "hunter"];
const questions = [
  "Good evening. Who are you?",
  "What is the news in the village?",
  "Have you seen any strangers lately?",
  "What do you think of the new mayor?",
  "Where can I find work around here?",
  "Is the road north safe to travel?",
  "What happened at the old mill last winter?",
  "Can you tell me a secret about this place?",
];

/** A persona of ≈300 tokens, different from every other one from its second word on. */
export function npcPersona(index: number): string {
  const name = names[index % names.length] ?? "Nobody";
  const trade = trades[index % trades.length] ?? "wanderer";
  const facts = [
    `${name} has been the ${trade} of Oakvale for twenty years and knows every family in the valley.`,
    `${name} speaks plainly, distrusts nobles, and never lies to a customer, though ${name} keeps some things back.`,
    `${name} lost a brother to the wolves of the northern forest and does not speak of it unless asked twice.`,
    `${name} believes the old mill is haunted, has heard singing there at night, and will warn travellers away.`,
    `${name} owes the widow Hale three silver coins and worries that the debt will be called in before spring.`,
    `${name} thinks the new mayor is honest but weak, and that the guild of merchants tells him what to do.`,
    `${name} likes travellers who bring news from the capital and will trade a meal for a good story.`,
    `${name} answers in two or three sentences, stays in character, and never mentions being a program.`,
  ];
  return `${name} (${trade}). You are ${name}, the ${trade} of Oakvale. ${facts.join(" ")} ${facts.slice(0, 5).join(" ")}\n`;
}

/** The transcript a client re-sends: the persona, then every turn so far, ending where the NPC speaks. */
function transcript(persona: string, turns: Array<{ question: string; answer: string }>, question: string): string {
  const past = turns.map((t) => `Traveller: ${t.question}\nNPC: ${t.answer.trim()}\n`).join("");
  return `${persona}${past}Traveller: ${question}\nNPC:`;
}

class DaemonSide implements NpcSide {
  private client: ProtocolClient | undefined;
  private readonly state = mkdtempSync(join(tmpdir(), "tinyllamad-npc-"));
  private readonly process: DaemonProcess;
  private counter = 0;
  private base = "";

  constructor(
    readonly name: string,
    modelPath: string,
    threads: number,
    sequences: number,
    extra: string[] = [],
  ) {
    this.process = new DaemonProcess([
      ...["--model.path", modelPath, "--backend.threads", String(threads)],
      ...["--scheduler.parallelSequences", String(sequences), "--model.contextSize", "2048"],
      ...["--state.directory", this.state, "--ws.port", "0", "--mqtt.enabled", "false", "--log.level", "info"],
      ...extra,
    ]);
  }

  async start(): Promise<this> {
    const url = await this.process.start(300_000);
    this.base = url.replace("ws://", "http://");
    this.client = await ProtocolClient.connect(url);
    return this;
  }

  async turn(prompt: string, maxTokens: number): Promise<NpcTurn> {
    const client = this.client;
    if (client === undefined) throw new Error("not started");
    const id = `npc-${this.counter++}`;
    let firstAt = Number.NaN;
    const onMessage = (data: unknown) => {
      if (Number.isNaN(firstAt) && String(data).includes(`"type":"token","id":"${id}"`)) firstAt = performance.now();
    };
    client.socket.on("message", onMessage);
    const startedAt = performance.now();
    const answer = await client.request({ id, prompt, max_tokens: maxTokens, temperature: 0 }, 600_000);
    client.socket.off("message", onMessage);
    if (answer.final.type !== "done") throw new Error(`daemon answered ${JSON.stringify(answer.final)}`);
    const { usage, text } = answer.final;
    return {
      ttftMs: firstAt - startedAt,
      promptTokens: usage.prompt_tokens,
      reusedTokens: usage.cached_prompt_tokens,
      evaluatedTokens: usage.evaluated_prompt_tokens,
      text,
    };
  }

  /** A counter of the daemon's /metrics (0 when absent). */
  async metric(line: string): Promise<number> {
    const text = await (await fetch(`${this.base}metrics`)).text();
    return Number(
      text
        .split("\n")
        .find((l) => l.startsWith(`${line} `))
        ?.split(" ")[1] ?? 0,
    );
  }

  async stop(): Promise<void> {
    await this.client?.close();
    await this.process.stop();
    rmSync(this.state, { recursive: true, force: true });
  }
}

class ServerSide implements NpcSide {
  private readonly server: LlamaServer;

  constructor(
    readonly name: string,
    binary: string,
    modelPath: string,
    threads: number,
    slots: number,
  ) {
    this.server = new LlamaServer(binary, { modelPath, threads, slots, contextSize: 2048 });
  }

  async start(): Promise<this> {
    await this.server.start();
    return this;
  }

  async turn(prompt: string, maxTokens: number): Promise<NpcTurn> {
    const startedAt = performance.now();
    const response = await fetch(`${this.server.baseUrl}/completion`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt, n_predict: maxTokens, temperature: 0, stream: true, cache_prompt: true }),
    });
    if (!response.ok || !response.body) throw new Error(`llama-server answered ${response.status}`);
    let firstAt = Number.NaN;
    let text = "";
    let timings = { prompt_n: 0, cache_n: 0 };
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line.startsWith("data: ")) continue;
        const event = JSON.parse(line.slice(6)) as { content?: string; stop?: boolean; timings?: typeof timings };
        if (Number.isNaN(firstAt) && !event.stop) firstAt = performance.now();
        text += event.content ?? "";
        if (event.stop && event.timings) timings = event.timings;
      }
    }
    return {
      ttftMs: firstAt - startedAt,
      promptTokens: timings.prompt_n + timings.cache_n,
      reusedTokens: timings.cache_n,
      evaluatedTokens: timings.prompt_n,
      text,
    };
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

function pushTo(lists: Record<string, NpcTurn[]>, name: string, turn: NpcTurn): void {
  lists[name] = [...(lists[name] ?? []), turn];
}

function describeTurns(turns: NpcTurn[]) {
  const ttft = summarize(turns.map((t) => t.ttftMs));
  return {
    ttftMsMedian: ttft.median,
    ttftMsMin: ttft.min,
    ttftMsMax: ttft.max,
    evaluatedTokensMedian: summarize(turns.map((t) => t.evaluatedTokens)).median,
    reusedTokensMedian: summarize(turns.map((t) => t.reusedTokens)).median,
  };
}

export async function runNpcWorkload(options: {
  llamaServer: string;
  modelPath: string;
  threads: number;
  quick: boolean;
  log: (line: string) => void;
}) {
  const { llamaServer, modelPath, threads, quick, log } = options;
  const maxTokens = quick ? 8 : 24;
  const turns = quick ? 4 : 8;

  log(`npc 1/2: one ≈300-token persona, ${turns} growing turns, no session id, in turns with llama-server …`);
  const single: NpcSide[] = [
    await new DaemonSide("tinyllamad (1 sequence)", modelPath, threads, 1).start(),
    await new ServerSide("llama-server (1 slot, cache_prompt)", llamaServer, modelPath, threads, 1).start(),
  ];
  const growing: Record<string, NpcTurn[]> = {};
  const histories = new Map<string, Array<{ question: string; answer: string }>>();
  for (let t = 0; t < turns; t++)
    for (let s = 0; s < single.length; s++) {
      const side = single[(t + s) % single.length] as NpcSide;
      const history = histories.get(side.name) ?? [];
      const question = questions[t % questions.length] ?? "Well?";
      const result = await side.turn(transcript(npcPersona(0), history, question), maxTokens);
      history.push({ question, answer: result.text });
      histories.set(side.name, history);
      pushTo(growing, side.name, result);
    }
  for (const side of single) await side.stop();

  const personas = 8;
  const rounds = quick ? 2 : 3;
  log(`npc 2/2: ${personas} personas over 4 sequences, ${rounds} rounds …`);
  const withStates = await new DaemonSide("tinyllamad (4 sequences, states on disk)", modelPath, threads, 4).start();
  const withoutStates = await new DaemonSide("tinyllamad (4 sequences, no states)", modelPath, threads, 4, [
    "--backend.sequenceStateMaxBytes",
    "0",
  ]).start();
  const server = await new ServerSide(
    "llama-server (4 slots, cache_prompt)",
    llamaServer,
    modelPath,
    threads,
    4,
  ).start();
  const many: NpcSide[] = [withStates, withoutStates, server];
  const returning: Record<string, NpcTurn[]> = {};
  const firstRound: Record<string, NpcTurn[]> = {};
  const manyHistories = new Map<string, Array<{ question: string; answer: string }>>();
  for (let round = 0; round < rounds; round++)
    for (let p = 0; p < personas; p++)
      for (let s = 0; s < many.length; s++) {
        const side = many[(round * personas + p + s) % many.length] as NpcSide;
        const key = `${side.name}/${p}`;
        const history = manyHistories.get(key) ?? [];
        const question = questions[(round + p) % questions.length] ?? "Well?";
        const result = await side.turn(transcript(npcPersona(p), history, question), maxTokens);
        history.push({ question, answer: result.text });
        manyHistories.set(key, history);
        pushTo(round === 0 ? firstRound : returning, side.name, result);
      }
  const stateEvents = {
    saved: await withStates.metric('tinyllamad_sequence_states_total{event="saved"}'),
    restored: await withStates.metric('tinyllamad_sequence_states_total{event="restored"}'),
    evicted: await withStates.metric('tinyllamad_sequence_states_total{event="evicted"}'),
    bytesOnDisk: await withStates.metric("tinyllamad_sequence_state_bytes"),
  };
  for (const side of many) await side.stop();

  const report = {
    maxTokens,
    growingHistory: {
      personaTokens: growing[single[0]?.name ?? ""]?.[0]?.promptTokens,
      perTurn: Object.fromEntries(
        Object.entries(growing).map(([name, list]) => [
          name,
          list.map((t) => ({ ttftMs: t.ttftMs, promptTokens: t.promptTokens, reusedTokens: t.reusedTokens })),
        ]),
      ),
      turnsAfterFirst: Object.fromEntries(
        Object.entries(growing).map(([name, list]) => [name, describeTurns(list.slice(1))]),
      ),
    },
    personasOverSequences: {
      personas,
      sequences: 4,
      rounds,
      firstRound: Object.fromEntries(Object.entries(firstRound).map(([name, list]) => [name, describeTurns(list)])),
      returningTurns: Object.fromEntries(Object.entries(returning).map(([name, list]) => [name, describeTurns(list)])),
      tinyllamadStateEvents: stateEvents,
    },
  };
  log(`npc: ${JSON.stringify(report.growingHistory.turnsAfterFirst)}`);
  log(`npc: returning turns ${JSON.stringify(report.personasOverSequences.returningTurns)}`);
  return report;
}
