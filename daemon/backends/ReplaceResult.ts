import type { BackendInfo } from "../../hal/backends/Backend.js";

/**
 * How the one load → swap → unload path ended: the new backend serves, its load ran past the swap's
 * time limit, the daemon began stopping meanwhile, or the load failed (the old backend, if any, still
 * serves or was loaded again).
 */
export type ReplaceResult =
  | { kind: "replaced"; info: BackendInfo }
  | { kind: "timeout" }
  | { kind: "stopping" }
  | { kind: "failed"; error: unknown };
