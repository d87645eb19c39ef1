/**
 * Where the daemon's main thread spends time per token beyond llama.cpp: a V8 CPU profile
 * (node --cpu-prof) of one daemon decoding `reps` answers over WebSocket, its self time grouped by
 * where the code lives, per generated token. llama.cpp's compute runs on its own threads; what the
 * main thread does between tokens (JS per token, JSON, WebSocket writes, GC) is what is here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonLeg } from "../legs/daemonLeg.js";
import { uniquePrompt } from "../uniquePrompt.js";
import type { BenchContext } from "./benchContext.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface CpuProfile {
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function category(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : `native: ${functionName || "(anonymous)"}`;
  if (url.includes("node-llama-cpp")) return "node-llama-cpp (JS)";
  if (url.includes("/ws/")) return "ws (WebSocket library)";
  if (url.includes("pino") || url.includes("sonic-boom") || url.includes("thread-stream")) return "pino (logging)";
  if (url.includes("/mqtt") || url.includes("aedes")) return "mqtt";
  if (url.includes("ajv")) return "ajv (validation)";
  const own = /\/dist\/(daemon|hal|protocol|models)\/(.*?)\/?[^/]*$/.exec(url);
  if (own) return `tinyllamad ${own[1]}/${own[2] ?? ""}`.replace(/\/$/, "");
  if (url.startsWith("node:")) return `node core: ${url.slice(5).split("/")[0]}`;
  return `other: ${url.split("/").slice(-2).join("/")}`;
}

export async function decodeProfile(ctx: BenchContext) {
  const directory = mkdtempSync(join(tmpdir(), "tinyllamad-cpu-prof-"));
  const daemon = new DaemonLeg({
    modelPath: ctx.modelPath,
    threads: ctx.threads,
    parallelSequences: 1,
    prefixReuse: false,
    nodeArguments: ["--cpu-prof", `--cpu-prof-dir=${directory}`],
  });
  await daemon.start();
  await daemon.viaWebSocket(uniquePrompt(ctx.nextPromptIndex(), 12), 8); // warm-up, outside the window
  let tokens = 0;
  let decodeMs = 0;
  const windowStart = performance.now();
  for (let i = 0; i < ctx.reps; i++) {
    const run = await daemon.viaWebSocket(uniquePrompt(ctx.nextPromptIndex(), 12), ctx.tokens);
    tokens += run.tokens;
    decodeMs += ((run.tokens - 1) * 1000) / run.decodeTokensPerSecond + run.ttftMs;
  }
  const stopping = performance.now();
  await daemon.stop();
  // Only the samples of the generations count (the profile ends at the daemon's exit): not the start,
  // the model load or the shutdown.
  const windowMs = stopping - windowStart;
  const stopMs = performance.now() - stopping;
  const file = readdirSync(directory).find((name) => name.endsWith(".cpuprofile"));
  if (!file) return { error: "no .cpuprofile written (the daemon did not exit normally)" };
  const profile = JSON.parse(readFileSync(join(directory, file), "utf8")) as CpuProfile;
  rmSync(directory, { recursive: true, force: true });
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<string, number>();
  const functions = new Map<string, number>();
  let totalMs = 0;
  const times: number[] = [];
  let at = profile.endTime;
  for (let i = profile.samples.length - 1; i >= 0; i--) {
    times[i] = at;
    at -= profile.timeDeltas[i] ?? 0;
  }
  const from = profile.endTime - (windowMs + stopMs) * 1000;
  const to = profile.endTime - stopMs * 1000;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const time = times[i] ?? 0;
    if (!node || time < from || time > to) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    totalMs += ms;
    const c = category(node.callFrame);
    selfMs.set(c, (selfMs.get(c) ?? 0) + ms);
    if (c !== "(idle)" && c !== "(program)") {
      const f = `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").slice(-2).join("/")}`;
      functions.set(f, (functions.get(f) ?? 0) + ms);
    }
  });
  const perToken = (ms: number) => Math.round((ms / tokens) * 1000) / 1000;
  const sorted = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), msPerToken: perToken(ms) }));
  const busyMs = totalMs - (selfMs.get("(idle)") ?? 0);
  return {
    tokens,
    generationWallMs: Math.round(decodeMs),
    profiledMs: Math.round(totalMs),
    mainThreadBusyMsPerToken: perToken(busyMs),
    msPerTokenAtDecodeRate: Math.round((decodeMs / tokens) * 1000) / 1000,
    byCategory: sorted(selfMs, 25),
    topFunctions: sorted(functions, 25),
  };
}
