/**
 * Calibration: when more than one backend can serve (e.g. the NPU and the A76 cores, or a Mali GPU
 * and the CPU), a short run on each — a few dozen prompt tokens, then generated ones — picks the
 * fastest decode. Results are cached per board + model + runtime, so later starts are instant;
 * `tinyllamad doctor --recalibrate` measures again.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import type { Backend, BackendKind } from "../backends/Backend.js";

export interface CalibrationResult {
  backend: BackendKind;
  decodeTokensPerSecond: number | null;
  timeToFirstTokenMs: number | null;
  error?: string;
}

export interface Calibration {
  chosen: BackendKind;
  results: CalibrationResult[];
  measuredAt: string;
}

const calibrationPrompt = `Calibration run. ${"The quick brown fox jumps over the lazy dog. ".repeat(4)}Then`;
const generatedTokens = 24;

/** Loads, measures and unloads each candidate in turn; the fastest decode wins. */
export async function calibrateBackends(
  candidates: BackendKind[],
  load: (kind: BackendKind) => Promise<Backend>,
): Promise<Calibration> {
  const results: CalibrationResult[] = [];
  for (const kind of candidates) {
    let backend: Backend | undefined;
    try {
      backend = await load(kind);
      const times: number[] = [];
      const started = performance.now();
      await backend.generate(
        {
          id: `calibration-${kind}`,
          input: { kind: "prompt", prompt: calibrationPrompt },
          maxTokens: generatedTokens,
          sampling: { temperature: 0 },
          stop: [],
        },
        { onText: () => undefined, onFirstToken: () => times.push(performance.now()) },
        new AbortController().signal,
      );
      const result = await timedDecode(backend, kind);
      results.push({ ...result, timeToFirstTokenMs: times[0] === undefined ? null : times[0] - started });
    } catch (error) {
      results.push({
        backend: kind,
        decodeTokensPerSecond: null,
        timeToFirstTokenMs: null,
        error: (error as Error).message.split("\n")[0],
      });
    } finally {
      // The calibration prompts are no conversation to keep on disk.
      await backend?.unload({ saveStates: false }).catch(() => undefined);
    }
  }
  const measured = results.filter((r) => r.decodeTokensPerSecond !== null);
  if (measured.length === 0) throw new Error(`calibration failed on every candidate: ${JSON.stringify(results)}`);
  const best = measured.reduce((a, b) => ((b.decodeTokensPerSecond ?? 0) > (a.decodeTokensPerSecond ?? 0) ? b : a));
  return { chosen: best.backend, results, measuredAt: new Date().toISOString() };
}

/** Decode rate of a second run (the first one warmed caches up), from token arrival times. */
async function timedDecode(
  backend: Backend,
  kind: BackendKind,
): Promise<Omit<CalibrationResult, "timeToFirstTokenMs">> {
  const arrivals: number[] = [];
  await backend.generate(
    {
      id: `calibration-${kind}-2`,
      input: { kind: "prompt", prompt: `${calibrationPrompt} again` },
      maxTokens: generatedTokens,
      sampling: { temperature: 0 },
      stop: [],
    },
    { onText: () => arrivals.push(performance.now()) },
    new AbortController().signal,
  );
  const span = (arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0);
  return {
    backend: kind,
    decodeTokensPerSecond: arrivals.length > 1 && span > 0 ? ((arrivals.length - 1) * 1000) / span : null,
  };
}

/** What a cached calibration is valid for: the board, the model files and the runtimes. */
export function calibrationKey(parts: { board: string; cpu: string; files: string[]; runtimes: string[] }): string {
  const fileStamps = parts.files.map((file) =>
    existsSync(file) ? `${file}:${statSync(file).size}:${statSync(file).mtimeMs}` : `${file}:absent`,
  );
  return createHash("sha256")
    .update(JSON.stringify([parts.board, parts.cpu, fileStamps, parts.runtimes]))
    .digest("hex")
    .slice(0, 16);
}

export class CalibrationCache {
  constructor(private readonly path: string) {}

  get(key: string): Calibration | undefined {
    return this.read()[key];
  }

  set(key: string, calibration: Calibration): void {
    const all = { ...this.read(), [key]: calibration };
    writeFileSync(`${this.path}.tmp`, `${JSON.stringify(all, null, 2)}\n`);
    renameSync(`${this.path}.tmp`, this.path);
  }

  private read(): Record<string, Calibration> {
    if (!existsSync(this.path)) return {};
    try {
      return JSON.parse(readFileSync(this.path, "utf8")) as Record<string, Calibration>;
    } catch {
      return {};
    }
  }
}
