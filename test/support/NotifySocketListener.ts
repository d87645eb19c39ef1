/**
 * A unix datagram socket that receives sd_notify messages, as systemd would. Node cannot bind unix
 * datagram sockets, so a few lines of Python (test/fixtures/systemd/notify_listener.py) hold it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { waitUntil } from "../../harness/waitUntil.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

export interface Notification {
  /** Seconds (monotonic) when it arrived. */
  t: number;
  fields: Record<string, string>;
  raw: string;
}

export class NotifySocketListener {
  readonly received: Notification[] = [];
  private readonly directory = mkdtempSync(join(tmpdir(), "tinyllamad-notify-"));
  readonly path = join(this.directory, "notify.sock");
  private child: ChildProcess | undefined;
  /** Emits "notification" after each one is recorded in `received`. */
  private readonly arrivals = new EventEmitter();

  async start(): Promise<void> {
    const script = join(projectRoot(), "test", "fixtures", "systemd", "notify_listener.py");
    const child = spawn("python3", [script, this.path], { stdio: ["ignore", "pipe", "inherit"] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const { t, message } = JSON.parse(line) as { t: number; message: string };
        if (message === "LISTENING") {
          resolve();
          return;
        }
        const fields: Record<string, string> = {};
        for (const part of message.split("\n")) {
          const at = part.indexOf("=");
          if (at > 0) fields[part.slice(0, at)] = part.slice(at + 1);
        }
        this.received.push({ t, fields, raw: message });
        this.arrivals.emit("notification");
      });
    });
  }

  with(field: string): Notification[] {
    return this.received.filter((n) => field in n.fields);
  }

  /** Resolves once `predicate` holds, checked now and after each notification that arrives. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitUntil({
      source: this.arrivals,
      event: "notification",
      condition: predicate,
      timeoutMs,
      describe: () => `${what}; got ${JSON.stringify(this.received.map((n) => n.raw))}`,
    });
  }

  stop(): void {
    this.child?.kill();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
