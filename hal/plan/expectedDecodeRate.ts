/**
 * An expected decode rate from the memory-bandwidth bound: decode reads every weight once per
 * token, so tokens/s ≤ effective bandwidth ÷ model bytes. The effective CPU bandwidths below are
 * derived from published TinyLlama/llama.cpp figures (../shared/HARDWARE.md): Pi 4 q8_0 ≈ 3 tok/s,
 * Pi 5 ≈ 9 tok/s; RK3588's NPU measured 24.4 tok/s for TinyLlama w8a8 (Rockchip's benchmark).
 */
import type { BoardId } from "../probes/probeBoard.js";

const effectiveCpuBandwidthGbPerSecond: Partial<Record<BoardId, number>> = {
  rpi4: 3.5,
  rpi5: 10,
  opi5: 14,
  rk3588: 14,
};

export interface ExpectedRate {
  tokensPerSecond: number | null;
  basis: string;
}

export function expectedDecodeRate(board: BoardId, backend: string, modelBytes: number): ExpectedRate {
  if (backend === "npu")
    return { tokensPerSecond: 24.4, basis: "Rockchip's RKLLM benchmark for TinyLlama w8a8 on RK3588" };
  const bandwidth = effectiveCpuBandwidthGbPerSecond[board];
  if (bandwidth === undefined || modelBytes <= 0)
    return { tokensPerSecond: null, basis: "no bandwidth figure for this board: `npm run bench` measures it" };
  return {
    tokensPerSecond: (bandwidth * 1e9) / modelBytes,
    basis: `≈${bandwidth} GB/s effective memory bandwidth ÷ ${(modelBytes / 1e6).toFixed(0)} MB of weights (an upper bound)`,
  };
}
