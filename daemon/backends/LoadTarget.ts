import type { BackendKind } from "../../hal/backends/Backend.js";
import type { BackendPlan } from "../../hal/plan/planBackend.js";

/** What a model and its plan would be loaded as. */
export interface LoadTarget {
  kind: BackendKind;
  plan: BackendPlan;
  path: string;
}
