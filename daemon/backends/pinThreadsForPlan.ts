import type { BackendPlan } from "../../hal/plan/planBackend.js";
import { pinThreadsToCpus } from "../../hal/threads/pinThreadsToCpus.js";
import type { Logger } from "../logging/createLogger.js";

/** Before a load: the threads it starts inherit the plan's cores (hal/threads/pinThreadsToCpus). */
export function pinThreadsForPlan(plan: BackendPlan, log: Logger): void {
  const pinned = pinThreadsToCpus(plan.cpuList);
  if (pinned.kind === "pinned")
    log.info({ cpus: pinned.cpus, threads: pinned.threads }, "threads pinned to the planned cores");
  // A plan for cores this process may not use (another board's tree, a cpuset) is not a fault.
  else
    log[pinned.kind === "failed" ? "warn" : "info"](
      { planned: plan.cpuList, reason: pinned.reason },
      "threads not pinned",
    );
}
