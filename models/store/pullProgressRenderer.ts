/**
 * Shows pull progress: a redrawn bar on a terminal, plain lines
 * ("pulled 40 % (255/637 MB, 5.1 MB/s, 1 min 15 s left)") elsewhere (logs, journald) at most every 10 %
 * or every `lineIntervalMs`. The time left is the rest of the file at this session's rate.
 */
import type { PullProgress } from "./pullModel.js";

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressRenderer {
  update(progress: PullProgress): void;
  /** Ends a terminal bar's line. */
  finish(): void;
}

export function createProgressRenderer(
  output: ProgressOutput,
  options: { lineIntervalMs?: number; now?: () => number } = {},
): ProgressRenderer {
  const now = options.now ?? Date.now;
  const lineIntervalMs = options.lineIntervalMs ?? 15_000;
  let lastDraw = 0;
  let lastPercentStep = -1;
  let lastLine = 0;
  let drewBar = false;
  return {
    update(progress) {
      if (output.isTTY) {
        if (now() - lastDraw < 100 && progress.bytes !== progress.totalBytes) return;
        lastDraw = now();
        output.write(`\r${formatBar(progress, output.columns ?? 80)}`);
        drewBar = true;
        return;
      }
      if (progress.phase !== "downloading") return;
      const percent = progress.totalBytes ? Math.floor((progress.bytes / progress.totalBytes) * 100) : null;
      const step = percent === null ? -1 : Math.floor(percent / 10);
      if (step !== lastPercentStep || now() - lastLine >= lineIntervalMs) {
        lastPercentStep = step;
        lastLine = now();
        output.write(`${formatProgressLine(progress)}\n`);
      }
    },
    finish() {
      if (drewBar) output.write("\n");
      drewBar = false;
    },
  };
}

/** "pulled 40 % (255/637 MB, 5.1 MB/s, 1 min 15 s left)" */
export function formatProgressLine(progress: PullProgress): string {
  const done = megabytes(progress.bytes);
  const rate = `${megabytes(progress.bytesPerSecond, 1)} MB/s`;
  if (!progress.totalBytes) return `pulled ${done} MB (${rate})`;
  const percent = Math.floor((progress.bytes / progress.totalBytes) * 100);
  return `pulled ${percent} % (${done}/${megabytes(progress.totalBytes)} MB, ${rate}, ${formatEta(progress)})`;
}

/** "1 min 15 s left", "2 h 05 min left", "done"; "time left unknown" until bytes flow. */
export function formatEta(progress: Pick<PullProgress, "bytes" | "totalBytes" | "bytesPerSecond">): string {
  if (progress.totalBytes === null) return "time left unknown";
  const remaining = Math.max(progress.totalBytes - progress.bytes, 0);
  if (remaining === 0) return "done";
  if (!(progress.bytesPerSecond > 0)) return "time left unknown";
  const seconds = Math.ceil(remaining / progress.bytesPerSecond);
  if (seconds < 60) return `${seconds} s left`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s left`;
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min left`;
}

function formatBar(progress: PullProgress, columns: number): string {
  const label = progress.phase === "downloading" ? "" : `${progress.phase} `;
  const fraction = progress.totalBytes ? Math.min(progress.bytes / progress.totalBytes, 1) : 0;
  const text = ` ${label}${formatProgressLine(progress).replace(/^pulled /, "")}`;
  const width = Math.max(10, Math.min(40, columns - text.length - 3));
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]${text}`;
}

function megabytes(bytes: number, digits = 0): string {
  return (bytes / 1e6).toFixed(digits);
}
