import type { BackendKind } from "../../hal/backends/Backend.js";
import type { BackendPlan } from "../../hal/plan/planBackend.js";

/** The planned backend first, then the ones below it that can serve: npu → vulkan → cpu. */
export function fallbackChain(plan: BackendPlan): BackendKind[] {
  const order: BackendKind[] = ["npu", "vulkan", "cpu"];
  const start = order.indexOf(plan.backend);
  return order.slice(start).filter((kind) => kind === plan.backend || kind === "cpu" || plan.candidates.includes(kind));
}
