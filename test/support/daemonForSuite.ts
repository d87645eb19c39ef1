/**
 * One daemon for a whole suite: started before its tests, stopped after them, and the stop must
 * end with exit code 0 — a daemon that crashed or hung during the suite fails it, with its stderr.
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";

export interface SuiteDaemon {
  daemon: DaemonProcess;
  /** The WebSocket URL the daemon serves on (known once the suite's `before` has run). */
  url(): string;
}

export function daemonForSuite(args: string[], environment?: NodeJS.ProcessEnv): SuiteDaemon {
  const daemon = new DaemonProcess(args, environment);
  let url = "";
  before(async () => {
    url = await daemon.start();
  });
  after(async () => {
    const { code } = await daemon.stop();
    assert.equal(code, 0, `daemon exit code; stderr: ${daemon.stderr}`);
  });
  return { daemon, url: () => url };
}
