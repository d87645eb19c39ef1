/**
 * Runs `tinyllamad serve` as a separate process, as systemd would, and reads its JSON log lines.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { projectRoot } from "../models/projectCacheDirectory.js";

/**
 * The state directory of daemons whose test names none: one per test process, removed when it exits,
 * so no test reads what another left in the machine's own state directory (MQTT ledgers, saved
 * sequence states) and nothing is left there. A daemon restarted within one test file finds its state.
 */
let scratchStateDirectory: string | undefined;
function defaultStateDirectory(): string {
  if (scratchStateDirectory === undefined) {
    const directory = mkdtempSync(join(tmpdir(), "tinyllamad-test-state-"));
    scratchStateDirectory = directory;
    process.once("exit", () => rmSync(directory, { recursive: true, force: true }));
  }
  return scratchStateDirectory;
}

export const cliPath = join(projectRoot(), "dist", "daemon", "cli.js");

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export class DaemonProcess {
  readonly logLines: LogLine[] = [];
  stderr = "";
  /** The broker the daemon uses (its embedded one when mqtt.url is empty), once started. */
  mqttUrl: string | undefined;
  private child: ChildProcess | undefined;
  private exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private lineWaiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];

  constructor(
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv = {},
    /** Options for node itself (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
    private readonly nodeArguments: string[] = [],
  ) {}

  /** Starts the daemon and resolves with its WebSocket URL once it serves. */
  async start(timeoutMs = 60_000): Promise<string> {
    const child = spawn(process.execPath, [...this.nodeArguments, cliPath, "serve", ...this.args], {
      // A flag or the caller's environment names another directory where a test needs one.
      env: { ...process.env, TINYLLAMAD_STATE_DIRECTORY: defaultStateDirectory(), ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.exit = once(child, "exit").then(([code, signal]) => ({ code, signal })) as Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
    }>;
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    createInterface({ input: child.stdout! }).on("line", (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: "raw", msg: text };
      }
      this.logLines.push(line);
      this.lineWaiters = this.lineWaiters.filter((waiter) => {
        if (!waiter.match(line)) return true;
        waiter.resolve(line);
        return false;
      });
    });
    const exited = this.exit.then(({ code }) => {
      throw new Error(`daemon exited (${code}) before serving:\n${this.stderr}\n${JSON.stringify(this.logLines)}`);
    });
    const serving = this.waitForLog((l) => l.msg === "serving", timeoutMs);
    const line = await Promise.race([serving, exited]);
    this.mqttUrl = typeof line.mqtt === "string" ? line.mqtt : undefined;
    return String(line.websocket ?? "");
  }

  waitForLog(match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const seen = this.logLines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out waiting for a log line")), timeoutMs);
      this.lineWaiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exit) throw new Error("not started");
    return this.exit;
  }

  /** SIGTERM, then the exit status. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.child || this.child.exitCode !== null) return this.exited();
    this.signal("SIGTERM");
    return this.exited();
  }
}
