/**
 * Structured JSON log lines on stdout (journald captures them). One root logger; each part takes a
 * child with its `component` name, and every line about a request carries its `id`.
 */
import { pino } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type Logger = pino.Logger;

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout by default (tests pass a stream). */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
