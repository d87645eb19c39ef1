/** llama.cpp's own llama-server, driven over HTTP with streaming, as the reference. */
import { type ChildProcess, spawn } from "node:child_process";
import { freePort } from "../../harness/freePort.js";
import { type ProcessMemory, processMemory } from "../../harness/processMemory.js";
import { terminateChild } from "../../harness/terminateChild.js";
import { type GenerationTiming, timingFrom } from "../measurements.js";

export interface ServerTiming extends GenerationTiming {
  promptTokens: number;
  /** Prompt tokens taken from the slot's cache (timings.cache_n): 0 with cache_prompt false. */
  reusedTokens: number;
  /** The server's own prefill time. */
  promptMs: number;
  text: string;
}

export class LlamaServer {
  private child: ChildProcess | undefined;
  private port = 0;
  log = "";

  constructor(
    private readonly binary: string,
    private readonly options: {
      modelPath: string;
      threads: number;
      slots: number;
      contextSize: number;
      /** true: the slot keeps the prompt's KV for the next request (warm legs); default false. */
      cachePrompt?: boolean;
      extraArgs?: string[];
    },
  ) {}

  async start(): Promise<void> {
    this.port = await freePort();
    const { modelPath, threads, slots, contextSize } = this.options;
    const child = spawn(
      this.binary,
      [
        "-m",
        modelPath,
        "-t",
        String(threads),
        "-tb",
        String(threads),
        "-c",
        String(contextSize * slots),
        "-np",
        String(slots),
        "--host",
        "127.0.0.1",
        "--port",
        String(this.port),
        "--no-webui",
        ...(this.options.extraArgs ?? []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    // A bench that ends (or fails) without stopping this server must not leave it running.
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    child.stdout?.on("data", (d: Buffer) => (this.log += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.log += d.toString()));
    this.child = child;
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`llama-server exited: ${this.log.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error("llama-server did not become healthy");
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/health`)).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error("llama-server is not running");
    return pid;
  }

  memory(): ProcessMemory {
    return processMemory(this.pid);
  }

  /**
   * One streamed completion; token arrival times measured from the request. No ignore_eos: the
   * daemon has none, so both sides may stop early and callers keep only runs that reached `tokens`.
   */
  async complete(
    prompt: string,
    tokens: number,
    extra: { json_schema?: Record<string, unknown> } = {},
  ): Promise<ServerTiming> {
    const startedAt = performance.now();
    const response = await fetch(`http://127.0.0.1:${this.port}/completion`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt,
        n_predict: tokens,
        temperature: 0,
        stream: true,
        cache_prompt: this.options.cachePrompt ?? false,
        ...extra,
      }),
    });
    if (!response.ok || !response.body) throw new Error(`llama-server answered ${response.status}`);
    const times: number[] = [];
    let promptTokens = 0;
    let promptMs = 0;
    let reusedTokens = 0;
    let generated = 0;
    let text = "";
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
        if (!line.startsWith("data: ")) continue;
        const event = JSON.parse(line.slice(6)) as {
          content?: string;
          stop?: boolean;
          tokens_predicted?: number;
          tokens_evaluated?: number;
          timings?: { prompt_n: number; prompt_ms: number; predicted_n: number; cache_n?: number };
        };
        if (event.stop) {
          reusedTokens = event.timings?.cache_n ?? 0;
          promptTokens = event.tokens_evaluated ?? (event.timings?.prompt_n ?? 0) + reusedTokens;
          promptMs = event.timings?.prompt_ms ?? 0;
          generated = event.timings?.predicted_n ?? event.tokens_predicted ?? times.length;
        } else if (event.content !== undefined && event.content !== "") {
          times.push(performance.now());
          text += event.content;
        }
      }
    }
    return { ...timingFrom(startedAt, times, generated || times.length), promptTokens, reusedTokens, promptMs, text };
  }

  /** http://127.0.0.1:PORT, once started (for workloads with requests of their own: npcWorkload.ts). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    await terminateChild(child);
  }
}
