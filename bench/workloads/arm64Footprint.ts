/**
 * The linux-arm64 release bundle's memory under qemu-aarch64 (issue 21, item 4). RSS is meaningful under
 * emulation, speed is not: qemu-user maps the guest's memory into its own process, so the daemon's heap, the
 * model and the KV cache are the qemu process's pages, read from its /proc/PID/smaps_rollup as for any other
 * process. qemu adds its own memory (the translator and its cache of translated code); that share is
 * measured separately, as the bundle's aarch64 Node at idle against this machine's Node at idle.
 *
 * The daemon of the bundle runs the plan the HAL makes for a 1 GB Raspberry Pi 4 (the board whose budget is
 * tight), with the model and settings the x86-64 daemon runs in the same workload, idle and while every
 * sequence evaluates a long prompt; both are set against the daemon's own estimate.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { estimateMemoryBytes, type KvCacheType } from "../../hal/plan/estimateMemoryBytes.js";
import { planMemoryProfile } from "../../hal/plan/planMemoryProfile.js";
import { prepareAarch64Emulation } from "../../harness/aarch64Emulation.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { type ProcessMemory, peakMemoryDuring, processMemory } from "../../harness/processMemory.js";
import { buildBundle, unpackBundle } from "../../harness/releaseBundle.js";
import { startBundle } from "../../harness/startBundle.js";
import { terminateChild } from "../../harness/terminateChild.js";
import { DaemonLeg } from "../legs/daemonLeg.js";
import { uniquePrompt } from "../uniquePrompt.js";
import type { BenchContext } from "./benchContext.js";
import { edgeBoards } from "./memoryFootprint.js";

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

export async function arm64Footprint(ctx: BenchContext, modelPath: string, modelLabel: string) {
  const skipped = prepareAarch64Emulation();
  if (skipped) return { skipped };
  const board = "Raspberry Pi 4, 1 GB";
  const memory = edgeBoards[board];
  const fileBytes = statSync(modelPath).size;
  const plan = planMemoryProfile({
    contextSize: 2048,
    parallelSequences: 4,
    kvCacheType: "auto",
    batchSize: 0,
    modelFileBytes: fileBytes,
    ...memory,
  });
  if (!plan.fits) return { skipped: `${modelLabel} does not fit the ${board} plan`, plan };
  // Both daemons get the same settings; DaemonLeg sets the sequences itself.
  const settings = [
    "--model.contextSize",
    String(plan.contextSize),
    "--backend.kvCacheType",
    plan.kvCacheType,
    "--backend.batchSize",
    String(plan.batchSize),
  ];
  const estimate = estimateMemoryBytes({
    modelFileBytes: fileBytes,
    contextSize: plan.contextSize,
    parallelSequences: plan.parallelSequences,
    kvCacheType: plan.kvCacheType as KvCacheType,
    batchSize: plan.batchSize,
  });
  // Long enough to fill a batch on every sequence at once (compute buffers and KV touched as in use); few
  // tokens out, since each costs seconds under emulation and adds no memory.
  const prompts = () => Array.from({ length: plan.parallelSequences }, () => uniquePrompt(ctx.nextPromptIndex(), 180));
  const tokens = 8;

  ctx.log("arm64Footprint: building the linux-arm64 bundle (cross-compile.sh; cached after the first run) …");
  const bundle = buildBundle("linux-arm64");
  const root = unpackBundle(bundle);
  const stateDirectory = mkdtempSync(join(tmpdir(), "tinyllamad-bench-arm64-"));
  try {
    const nodeIdle = {
      x64Native: await idleNode(process.execPath),
      arm64UnderQemu: await idleNode(join(root, "runtime", "bin", "node")),
    };

    const x64 = new DaemonLeg({
      modelPath,
      threads: ctx.threads,
      parallelSequences: plan.parallelSequences,
      extraArgs: settings,
    });
    await x64.start();
    let x64Result: { idle: ProcessMemory; peak: ProcessMemory };
    try {
      await x64.viaWebSocket(uniquePrompt(ctx.nextPromptIndex(), 12), tokens);
      const idle = x64.memory();
      const { peak } = await peakMemoryDuring(
        x64.pid,
        Promise.all(prompts().map((prompt) => x64.viaWebSocket(prompt, tokens))),
      );
      x64Result = { idle, peak };
    } finally {
      await x64.stop();
    }

    ctx.log(`arm64Footprint: the bundle's daemon under qemu-aarch64 (${qemuCpu}), ${modelLabel} …`);
    const { child, url } = await startBundle(
      root,
      [
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
        stateDirectory,
        "--scheduler.parallelSequences",
        String(plan.parallelSequences),
        ...settings,
      ],
      {},
      900_000,
    );
    let arm64Result: { idle: ProcessMemory; peak: ProcessMemory; promptTokens: number[] };
    try {
      await generateAll(url, [uniquePrompt(ctx.nextPromptIndex(), 12)], tokens);
      const idle = processMemory(child.pid!);
      const { result, peak } = await peakMemoryDuring(child.pid!, generateAll(url, prompts(), tokens));
      arm64Result = { idle, peak, promptTokens: result };
    } finally {
      await terminateChild(child);
    }

    const qemuShareMiB = Math.round((nodeIdle.arm64UnderQemu.rssMiB - nodeIdle.x64Native.rssMiB) * 10) / 10;
    return {
      board,
      model: { label: modelLabel, fileBytes },
      qemuCpu,
      bundle: bundle.name,
      plan: {
        parallelSequences: plan.parallelSequences,
        contextSize: plan.contextSize,
        kvCacheType: plan.kvCacheType,
        batchSize: plan.batchSize,
      },
      estimateMiB: mib(estimate.totalBytes),
      nodeIdle,
      x64: x64Result,
      arm64: arm64Result,
      /** What the aarch64 Node under qemu holds beyond this machine's Node at idle: qemu plus any difference of the runtimes. */
      qemuAndRuntimeDifferenceMiB: qemuShareMiB,
      estimateOverArm64Peak: Math.round((estimate.totalBytes / 1048576 / arm64Result.peak.rssMiB) * 1000) / 1000,
      leftForTheOsMiB: {
        arm64Peak: Math.round((mib(memory.totalBytes) - arm64Result.peak.rssMiB) * 10) / 10,
        arm64PeakLessQemu: Math.round((mib(memory.totalBytes) - arm64Result.peak.rssMiB + qemuShareMiB) * 10) / 10,
      },
    };
  } finally {
    rmSync(stateDirectory, { recursive: true, force: true });
    rmSync(dirname(root), { recursive: true, force: true });
  }
}
