/** This machine's memory as the fit check wants it: total and what is available to a new process. */
import { readFileSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import type { BoardMemory } from "./estimateFit.js";

/** From /proc/meminfo (MemTotal, MemAvailable); `os.freemem()` where that is missing. */
export function readBoardMemory(meminfoPath = "/proc/meminfo"): BoardMemory {
  try {
    const text = readFileSync(meminfoPath, "utf8");
    const field = (name: string) => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
      return match ? Number(match[1]) * 1024 : null;
    };
    const totalBytes = field("MemTotal");
    const availableBytes = field("MemAvailable");
    if (totalBytes !== null && availableBytes !== null) return { totalBytes, availableBytes };
  } catch {
    // not Linux: fall through
  }
  return { totalBytes: totalmem(), availableBytes: freemem() };
}
