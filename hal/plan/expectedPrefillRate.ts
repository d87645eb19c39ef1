/**
 * A conservative prefill rate (prompt tokens per second) for a backend on a board: what the liveness
 * check allows a prompt chunk before it calls the generation hung (daemon/scheduler/stallLimitMs.ts).
 * It errs slow on purpose — too slow only delays noticing a real hang; too fast would have systemd kill
 * a daemon that is working through a long prompt.
 *
 * Prefill evaluates many tokens per read of the weights, so it is compute-bound and runs faster than
 * decode: Qwen3-0.6B on an Orange Pi 5's CPU, 35.9 prompt vs 25.7 decode tok/s (llama.cpp#22682);
 * TinyLlama w8a8 on the RK3588 NPU, a 128-token prompt in 244 ms (≈525 tok/s) vs 24.4 decode
 * (Rockchip's benchmark, ../shared/HARDWARE.md). So the CPU's decode bound (expectedDecodeRate) stands
 * in for its prefill floor; a board without a bandwidth figure gets the slowest board's (the Pi 4's).
 * Integrated GPUs through Vulkan measured ~10× slower prompt processing than the CPU beside them
 * (Mali-G610: 3.3 vs 35.9 tok/s, llama.cpp#22682), so Vulkan gets a tenth. The NPU gets half of
 * Rockchip's figure.
 */
import type { BoardId } from "../probes/probeBoard.js";
import { type ExpectedRate, expectedDecodeRate } from "./expectedDecodeRate.js";

/** The board whose figure stands in for a board without one: the slowest the project supports. */
const slowestBoard: BoardId = "rpi4";
const npuPrefillTokensPerSecond = (128 / 0.244) * 0.5;
const integratedGpuSlowdown = 10;

export function expectedPrefillRate(board: BoardId, backend: string, modelBytes: number): ExpectedRate {
  if (backend === "npu")
    return {
      tokensPerSecond: npuPrefillTokensPerSecond,
      basis: "half of Rockchip's RKLLM figure for TinyLlama w8a8 on RK3588 (128 prompt tokens in 244 ms)",
    };
  let decode = expectedDecodeRate(board, "cpu", modelBytes);
  let basis = "the CPU's decode bound, a floor for prefill";
  if (decode.tokensPerSecond === null) {
    decode = expectedDecodeRate(slowestBoard, "cpu", modelBytes);
    basis = "no figure for this board: the Raspberry Pi 4's CPU decode bound, a floor for prefill";
  }
  if (decode.tokensPerSecond === null) return { tokensPerSecond: null, basis: "the model's size is unknown" };
  if (backend === "vulkan")
    return {
      tokensPerSecond: decode.tokensPerSecond / integratedGpuSlowdown,
      basis: `${basis}, ÷${integratedGpuSlowdown} for a GPU through Vulkan (integrated ones measured that much slower)`,
    };
  return { tokensPerSecond: decode.tokensPerSecond, basis };
}
