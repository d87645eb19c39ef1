/**
 * A real Mosquitto broker (Debian's `mosquitto`) started by the test on a free loopback port, with
 * its own config and (optionally) persistence directory, so it can be stopped and restarted.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./freePort.js";
import { terminateChild } from "./terminateChild.js";

export function mosquittoPath(): string | undefined {
  for (const candidate of ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]) {
    try {
      execFileSync(candidate, ["-h"], { stdio: "ignore" });
      return candidate;
    } catch (error) {
      // `mosquitto -h` exits 3 after printing help: that still proves it runs.
      if ((error as { status?: number }).status === 3) return candidate;
    }
  }
  return undefined;
}

export class MosquittoBroker {
  private process: ChildProcess | undefined;
  private readonly directory = mkdtempSync(join(tmpdir(), "tinyllamad-mosquitto-"));
  port = 0;
  log = "";

  constructor(
    private readonly options: {
      persistence?: boolean;
      /** Extra mosquitto.conf lines for the listener (TLS files, password_file, …). */
      listenerLines?: string[];
      scheme?: "mqtt" | "mqtts";
    } = {},
  ) {}

  /** A scratch directory that lives as long as the broker (for certificates, password files). */
  get workDirectory(): string {
    return this.directory;
  }

  get url(): string {
    return `${this.options.scheme ?? "mqtt"}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const binary = mosquittoPath();
    if (!binary) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
    if (this.port === 0) this.port = await freePort();
    const config = join(this.directory, "mosquitto.conf");
    writeFileSync(
      config,
      [
        `listener ${this.port} 127.0.0.1`,
        ...(this.options.listenerLines ?? ["allow_anonymous true"]),
        `persistence ${this.options.persistence ? "true" : "false"}`,
        `persistence_location ${this.directory}/`,
        "user root",
        "max_queued_messages 10000",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "",
      ].join("\n"),
    );
    const child = spawn(binary, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.log += chunk.toString();
    });
    this.process = child;
    const deadline = Date.now() + 10_000;
    while (!(await this.accepts())) {
      if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}): ${this.log}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not start: ${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    await terminateChild(child);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
  }
}
