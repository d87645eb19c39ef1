/** Ends a child process the harness started: SIGTERM, then wait for it to exit. */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

export async function terminateChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await once(child, "exit");
}
