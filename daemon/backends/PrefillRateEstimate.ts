import { existsSync, statSync } from "node:fs";
import type { BackendInfo } from "../../hal/backends/Backend.js";
import { expectedPrefillRate } from "../../hal/plan/expectedPrefillRate.js";
import type { BoardId } from "../../hal/probes/probeBoard.js";

/**
 * The conservative prefill rate the liveness check allows for, for the backend serving now. It is
 * worked out once per backend kind and model (it stats the model file), then kept: the liveness
 * check asks on every watchdog ping and health request.
 */
export class PrefillRateEstimate {
  private cached: { key: string; tokensPerSecond: number | null } | undefined;

  tokensPerSecond(info: BackendInfo, boardId: BoardId): number | null {
    const key = `${info.kind}:${info.modelPath}`;
    if (this.cached?.key !== key) {
      const modelBytes = existsSync(info.modelPath) ? statSync(info.modelPath).size : 0;
      this.cached = { key, tokensPerSecond: expectedPrefillRate(boardId, info.kind, modelBytes).tokensPerSecond };
    }
    return this.cached.tokensPerSecond;
  }
}
