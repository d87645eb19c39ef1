/**
 * Structured JSON log lines on stdout. One root logger; each part takes a child with its
 * `component` name (with its own level if `log.componentLevels` names one), and every line about a
 * request carries its `id`. Under systemd (JOURNAL_STREAM set) each line starts with its syslog
 * priority (`<4>{…}`), which journald strips and records, so `journalctl -p warning` works.
 */
import { pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type Logger = pino.Logger;

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: pino.DestinationStream;
  /** Prefix lines with syslog priorities for journald; default: when JOURNAL_STREAM is set. */
  journald?: boolean;
}

/** syslog priorities (sd-daemon(3) prefixes) of pino's levels. */
const syslogPriority: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ fd: 1, sync: true });
  const journald = options.journald ?? Boolean(process.env.JOURNAL_STREAM);
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    journald ? withSyslogPriority(destination) : destination,
  );
}

function withSyslogPriority(destination: pino.DestinationStream): pino.DestinationStream {
  return {
    write(line: string) {
      const level = /"level":"(\w+)"/.exec(line)?.[1] ?? "info";
      destination.write(`<${syslogPriority[level] ?? 6}>${line}`);
    },
  };
}

/** Parses `log.componentLevels` ("mqtt=debug,backend=warn") into a map; throws on a bad entry. */
export function parseComponentLevels(text: string): Map<string, LogLevel> {
  const levels = new Map<string, LogLevel>();
  const allowed = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
  for (const entry of text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [component, level] = entry.split("=").map((part) => part.trim());
    if (!component || !level || !allowed.has(level))
      throw new Error(
        `log.componentLevels: "${entry}" must look like component=level (levels: ${[...allowed].join(", ")})`,
      );
    levels.set(component, level as LogLevel);
  }
  return levels;
}

/** A child logger for one part of the daemon, at that part's own level when one is configured. */
export function componentLogger(root: Logger, component: string, levels: Map<string, LogLevel>): Logger {
  const child = root.child({ component });
  const level = levels.get(component);
  if (level) child.level = level;
  return child;
}
