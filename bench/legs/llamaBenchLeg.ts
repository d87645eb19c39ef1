/** llama.cpp's llama-bench: prompt processing (pp) and text generation (tg) rates. */
import { execFileSync } from "node:child_process";

export interface LlamaBenchResult {
  test: string;
  tokensPerSecond: number;
  stddev: number;
}

export function runLlamaBench(
  binary: string,
  modelPath: string,
  threads: number,
  generate: number,
  reps: number,
): LlamaBenchResult[] {
  const output = execFileSync(
    binary,
    ["-m", modelPath, "-t", String(threads), "-p", "128,512", "-n", String(generate), "-r", String(reps), "-o", "json"],
    { encoding: "utf8", maxBuffer: 16 << 20, stdio: ["ignore", "pipe", "ignore"] },
  );
  const rows = JSON.parse(output) as Array<{ n_prompt: number; n_gen: number; avg_ts: number; stddev_ts: number }>;
  return rows.map((row) => ({
    test: row.n_prompt > 0 ? `pp${row.n_prompt}` : `tg${row.n_gen}`,
    tokensPerSecond: row.avg_ts,
    stddev: row.stddev_ts,
  }));
}
