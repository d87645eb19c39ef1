/**
 * Shows pull progress: a redrawn bar on a terminal, plain lines ("pulled 40 % (255/637 MB, 5.1 MB/s)")
 * elsewhere (logs, journald) at most every 10 % or every `lineIntervalMs`.
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

/** "pulled 40 % (255/637 MB, 5.1 MB/s)" */
export function formatProgressLine(progress: PullProgress): string {
  const done = megabytes(progress.bytes);
  const rate = `${megabytes(progress.bytesPerSecond, 1)} MB/s`;
  if (!progress.totalBytes) return `pulled ${done} MB (${rate})`;
  const percent = Math.floor((progress.bytes / progress.totalBytes) * 100);
  return `pulled ${percent} % (${done}/${megabytes(progress.totalBytes)} MB, ${rate})`;
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
