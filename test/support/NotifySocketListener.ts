/**
 * A unix datagram socket that receives sd_notify messages, as systemd would. Node cannot bind unix
 * datagram sockets, so a few lines of Python (test/fixtures/systemd/notify_listener.py) hold it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
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
      });
    });
  }

  with(field: string): Notification[] {
    return this.received.filter((n) => field in n.fields);
  }

  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received.map((n) => n.raw))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  stop(): void {
    this.child?.kill();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
