/**
 * The linux-arm64 release bundle's memory under qemu-aarch64 (issue 21, item 4). RSS is meaningful under
 * emulation, speed is not: qemu-user maps the guest's memory into its own process, so the daemon's heap, the
 * model and the KV cache are the qemu process's pages, read from its /proc/PID/smaps_rollup as for any other
 * process. qemu adds its own memory (the translator and its cache of translated code); that share is
 * measured separately, as the bundle's aarch64 Node at idle against this machine's Node at idle.
 *
 * The daemon of the bundle runs the plan the HAL makes for a 1 GB Raspberry Pi 4 (the board whose budget is
 * tight), idle and while every sequence evaluates a prompt longer than a batch; the linux-x64 bundle's daemon
 * runs natively with the same model and settings — the same Node runtime (the bundles' Node 22, not this
 * machine's), so the two differ only by architecture and emulation. qemu's own mappings are split out
 * (harness/qemuOwnMemory.ts); both are set against the daemon's own estimate.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { prepareAarch64Emulation } from "../../harness/aarch64Emulation.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { type ProcessMemory, peakMemoryDuring, processMemory } from "../../harness/processMemory.js";
import { type QemuOwnMemory, qemuOwnMemory } from "../../harness/qemuOwnMemory.js";
import { buildBundle, unpackBundle } from "../../harness/releaseBundle.js";
import { startBundle } from "../../harness/startBundle.js";
import { terminateChild } from "../../harness/terminateChild.js";
import { uniquePrompt } from "../uniquePrompt.js";
import type { BenchContext } from "./benchContext.js";
import { edgeBoards, planForEdgeBoard } from "./memoryFootprint.js";

/** A Raspberry Pi 4's cores, as the arm64 bundle test emulates them. */
const qemuCpu = "cortex-a72";
const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

/** A Node runtime doing nothing, after it has started: what the runtime itself (and qemu, for an aarch64 one) holds. */
async function idleNode(executable: string): Promise<ProcessMemory> {
  const child = spawn(executable, ["-e", "console.log('ready'); setInterval(() => {}, 60_000)"], {
    env: { PATH: process.env.PATH, QEMU_CPU: qemuCpu },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    await once(child.stdout!, "data");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return processMemory(child.pid!);
  } finally {
    await terminateChild(child);
  }
}

/** One greedy generation per prompt, all at once, over one WebSocket connection. */
async function generateAll(url: string, prompts: string[], tokens: number): Promise<number[]> {
  const client = await ProtocolClient.connect(url);
  try {
    const answers = await Promise.all(
      prompts.map((prompt, index) =>
        client.request({ id: `arm64-${index}`, prompt, max_tokens: tokens, temperature: 0 }, 1_800_000),
      ),
    );
    return answers.map((answer) => {
      if (answer.final.type !== "done") throw new Error(`the daemon answered ${JSON.stringify(answer.final)}`);
      return answer.final.usage.prompt_tokens;
    });
  } finally {
    await client.close();
  }
}

/** The bundle's daemon with `flags`: idle after one short answer, then its peak while every sequence evaluates `prompts`. */
async function measureBundle(
  root: string,
  flags: string[],
  prompts: string[],
  warmUp: string,
  tokens: number,
  emulated: boolean,
) {
  const { child, url } = await startBundle(root, flags, {}, 900_000);
  try {
    await generateAll(url, [warmUp], tokens);
    const pid = child.pid!;
    const idle = processMemory(pid);
    const idleQemu = emulated ? qemuOwnMemory(pid) : undefined;
    let peakQemu: QemuOwnMemory | undefined = idleQemu;
    const sampler = setInterval(() => {
      if (!emulated) return;
      const now = qemuOwnMemory(pid);
      if (!peakQemu || now.emulatedProgramMiB > peakQemu.emulatedProgramMiB) peakQemu = now;
    }, 1000);
    try {
      const { result, peak } = await peakMemoryDuring(pid, generateAll(url, prompts, tokens));
      return { idle, peak, promptTokens: result, ...(emulated ? { qemu: { idle: idleQemu, peak: peakQemu } } : {}) };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await terminateChild(child);
  }
}

export async function arm64Footprint(ctx: BenchContext, modelPath: string, modelLabel: string) {
  const skipped = prepareAarch64Emulation();
  if (skipped) return { skipped };
  const board = "Raspberry Pi 4, 1 GB";
  const memory = edgeBoards[board];
  const fileBytes = statSync(modelPath).size;
  const plan = planForEdgeBoard(memory, fileBytes);
  if (!plan.fits) return { skipped: `${modelLabel} does not fit the ${board} plan`, plan };
  const { estimate } = plan;
  // One prompt per sequence, each longer than a batch (compute buffers and KV touched as in use); two
  // tokens out, since each costs seconds under emulation and adds no memory. The same prompts on both.
  const prompts = Array.from({ length: plan.parallelSequences }, () =>
    uniquePrompt(ctx.nextPromptIndex(), plan.batchSize + 32),
  );
  const warmUp = uniquePrompt(ctx.nextPromptIndex(), 12);
  const tokens = 2;

  ctx.log("arm64Footprint: building the linux-arm64 and linux-x64 bundles (cross-compile.sh; cached) …");
  const roots = { arm64: unpackBundle(buildBundle("linux-arm64")), x64: unpackBundle(buildBundle("linux-x64")) };
  const stateDirectory = mkdtempSync(join(tmpdir(), "tinyllamad-bench-arm64-"));
  const flags = (state: string) => [
    "--model.path",
    modelPath,
    "--backend.kind",
    "cpu",
    "--backend.threads",
    String(ctx.threads),
    "--http.port",
    "0",
    "--mqtt.enabled",
    "false",
    "--state.directory",
    state,
    "--model.contextSize",
    String(plan.contextSize),
    "--scheduler.parallelSequences",
    String(plan.parallelSequences),
    "--backend.kvCacheType",
    plan.kvCacheType,
    "--backend.batchSize",
    String(plan.batchSize),
  ];
  try {
    const nodeIdle = {
      x64: await idleNode(join(roots.x64, "runtime", "bin", "node")),
      arm64UnderQemu: await idleNode(join(roots.arm64, "runtime", "bin", "node")),
    };
    ctx.log(`arm64Footprint: the linux-x64 bundle's daemon, ${modelLabel} …`);
    const x64 = await measureBundle(roots.x64, flags(join(stateDirectory, "x64")), prompts, warmUp, tokens, false);
    ctx.log(`arm64Footprint: the linux-arm64 bundle's daemon under qemu-aarch64 (${qemuCpu}), ${modelLabel} …`);
    const arm64 = await measureBundle(roots.arm64, flags(join(stateDirectory, "arm64")), prompts, warmUp, tokens, true);
    const emulatedPeakMiB = arm64.qemu?.peak?.emulatedProgramMiB ?? Number.NaN;
    return {
      board,
      model: { label: modelLabel, fileBytes },
      qemuCpu,
      plan: {
        parallelSequences: plan.parallelSequences,
        contextSize: plan.contextSize,
        kvCacheType: plan.kvCacheType,
        batchSize: plan.batchSize,
      },
      estimateMiB: mib(estimate.totalBytes),
      nodeIdle,
      x64,
      arm64,
      estimateOverX64Peak: Math.round((estimate.totalBytes / 1048576 / x64.peak.rssMiB) * 1000) / 1000,
      estimateOverArm64EmulatedPeak: Math.round((estimate.totalBytes / 1048576 / emulatedPeakMiB) * 1000) / 1000,
      leftOfMemTotalMiB: {
        x64Peak: Math.round((mib(memory.totalBytes) - x64.peak.rssMiB) * 10) / 10,
        arm64EmulatedPeak: Math.round((mib(memory.totalBytes) - emulatedPeakMiB) * 10) / 10,
        arm64WholeQemuProcessPeak: Math.round((mib(memory.totalBytes) - arm64.peak.rssMiB) * 10) / 10,
      },
    };
  } finally {
    rmSync(stateDirectory, { recursive: true, force: true });
    for (const root of Object.values(roots)) rmSync(dirname(root), { recursive: true, force: true });
  }
}
