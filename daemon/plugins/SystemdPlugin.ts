/**
 * Tells systemd what NodeStatus says: loading lines (with more start-up time) while the model is
 * pulled, calibrated or loaded, READY=1 when the node starts serving (again, after a reload),
 * RELOADING=1, STOPPING=1, and a throttled STATUS= line while serving. Watchdog pings only while the
 * liveness check passes.
 */

import type { DaemonState } from "../NodeStatus.js";
import type { ModelProgress } from "../protocol/messages.js";
import { ServiceNotifier } from "../systemd/ServiceNotifier.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

const pullPhases = new Set<ModelProgress["phase"]>(["checking", "downloading", "verifying"]);

export class SystemdPlugin implements DaemonPlugin {
  readonly name = "systemd";
  readonly phase = "before-model";
  private notifier: ServiceNotifier | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private lastState: DaemonState = "idle";
  private lastPullLine = "";

  async start(context: DaemonContext): Promise<void> {
    const { status } = context;
    const notifier = new ServiceNotifier({
      environment: context.environment,
      isAlive: () => status.liveness(),
      log: context.logFor("systemd"),
    });
    this.notifier = notifier;
    notifier.start();
    status.on("activity", (text, extendMs) => {
      if (status.state !== "stopping" && status.state !== "stopped") notifier.loading(text, extendMs);
    });
    status.on("change", () => {
      const state = status.state;
      const previous = this.lastState;
      this.lastState = state;
      const progress = status.modelProgress;
      if (state === "pulling" && progress && pullPhases.has(progress.phase)) {
        const line = `pulling ${progress.model}: ${progress.phase}${progress.percent === null ? "" : ` ${progress.percent} %`}`;
        if (line !== this.lastPullLine) notifier.loading(line, 120_000);
        this.lastPullLine = line;
      }
      if (state === previous) {
        if (state === "serving") this.scheduleStatus(context);
        return;
      }
      if (state === "serving") notifier.ready(status.statusLine());
      else if (state === "reloading") notifier.reloading();
      else if (state === "stopping") {
        clearTimeout(this.statusTimer);
        notifier.stopping();
      }
    });
    status.on("figures", () => this.scheduleStatus(context));
  }

  /** At most one STATUS= line a second while serving. */
  private scheduleStatus(context: DaemonContext): void {
    if (this.statusTimer || context.status.state !== "serving") return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      if (context.status.state === "serving") this.notifier?.status(context.status.statusLine());
    }, 1000);
    this.statusTimer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.statusTimer);
    this.notifier?.stop();
  }
}
