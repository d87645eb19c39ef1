/**
 * The default model for this board (used when `model.path` is empty): a quantization chosen from what
 * the HAL knows, then memory fit, every step given as a reason (doctor prints them, the daemon logs them).
 *
 * 1. Preference from the CPU. On ARM CPUs with the dot-product (`asimddp`) or int8 matrix (`i8mm`)
 *    extensions, llama.cpp's CPU backend repacks Q4_0 weights at load into interleaved layouts for its
 *    NEON GEMV/GEMM kernels (`q4_0_4x4_q8_0` with dotprod, `q4_0_4x8_q8_0` with i8mm: the
 *    `ggml_repack_get_optimal_repack_type` function of ggml-cpu/repack.cpp; llama.cpp PRs #9921 and
 *    #10446, which replaced the Q4_0_4_4/Q4_0_4_8 file types by this load-time repacking), and Q4_0 is
 *    the smallest 4-bit file (decode reads every weight once per token, so fewer bytes is faster on
 *    bandwidth-bound boards) → Q4_0 first. Elsewhere (x86, ARM without dot-product such as the
 *    Raspberry Pi 4's Cortex-A72) → Q4_K_M first: better answers per byte (docs/models.md cites why).
 * 2. Only entries a board can pull unattended count: a GGUF chat model with a known sha256 and a URL.
 * 3. Memory: the first preferred model whose weights, KV cache and buffers fit MemAvailable with at least
 *    `minimumDefaultContext` tokens per sequence (or the configured context, when smaller) — the same
 *    estimate and steps as the plan's planMemoryProfile. Q3_K_M and Q2_K come after the 4-bit files for
 *    boards where those do not fit (a 1 GB Raspberry Pi 4).
 * 4. A fitting candidate already in the store is kept rather than pulling another file (an upgrade
 *    never re-downloads because the preference changed).
 * Pure: it reads the HardwareReport, the catalog and the names of the files in the store.
 */
import type { CatalogEntry, ModelCatalog } from "../../models/catalog/modelCatalog.js";
import type { HardwareReport } from "../probes/probeHardware.js";
import { formatBytes } from "./estimateMemoryBytes.js";
import { planMemoryProfile } from "./planMemoryProfile.js";

/** Fewer tokens than this per sequence is not a useful chat default (half TinyLlama's trained 2048). */
export const minimumDefaultContext = 1024;

export const armDotProductPreference = ["Q4_0", "Q4_K_M", "Q3_K_M", "Q2_K"] as const;
export const generalPreference = ["Q4_K_M", "Q4_0", "Q3_K_M", "Q2_K"] as const;

export interface DefaultModelRequest {
  contextSize: number;
  parallelSequences: number;
  /** File names of complete files in the model store. */
  storedFileNames?: ReadonlySet<string>;
}

export interface DefaultModelChoice {
  entry: CatalogEntry;
  /** The context per sequence the plan will fit for it (≤ the configured one). */
  contextSize: number;
  /** True when it fits memory at `contextSize`; false when nothing did (the smallest one is named). */
  fits: boolean;
  reasons: string[];
}

export function chooseDefaultModel(
  hardware: HardwareReport,
  catalog: ModelCatalog,
  request: DefaultModelRequest,
): DefaultModelChoice {
  const reasons: string[] = [];
  const { cpu } = hardware;
  const arm = cpu.arch === "arm64" || cpu.arch === "arm";
  const armExtensions = cpu.features.filter((feature) => feature === "asimddp" || feature === "i8mm");
  const preference = arm && armExtensions.length > 0 ? armDotProductPreference : generalPreference;
  if (arm && armExtensions.length > 0)
    reasons.push(
      `ARM CPU with ${armExtensions.join(" and ")} → Q4_0 first: llama.cpp repacks Q4_0 at load into its interleaved ${armExtensions.includes("i8mm") ? "i8mm" : "dot-product"} NEON layout, and it is the smallest 4-bit file (fewer bytes read per token)`,
    );
  else if (arm)
    reasons.push(
      `ARM CPU without dot-product (features ${cpu.features.join(" ") || "unknown"}) → Q4_K_M first: no Q4_0 repacking here, and Q4_K_M gives better answers per byte`,
    );
  else reasons.push(`${cpu.arch} CPU → Q4_K_M first: the best quality per byte of the 4-bit files`);

  const candidates = preference
    .map((quantization) =>
      catalog.models.find((entry) => pullableChatGguf(entry) && entry.quantization === quantization),
    )
    .filter((entry): entry is CatalogEntry => entry !== undefined);
  if (candidates.length === 0) {
    const fallback = catalog.models.find((entry) => entry.name === catalog.defaultModel) as CatalogEntry;
    reasons.push(
      `the catalog has none of ${preference.join(", ")} with a known sha256 → its defaultModel ${fallback.name}`,
    );
    return { entry: fallback, contextSize: request.contextSize, fits: true, reasons };
  }

  const available = hardware.memory.availableBytes ?? hardware.memory.totalBytes;
  if (available === null) {
    const first = candidates[0] as CatalogEntry;
    reasons.push(`memory unknown → ${first.name} unchecked`);
    return { entry: first, contextSize: request.contextSize, fits: true, reasons };
  }

  const floor = Math.min(minimumDefaultContext, request.contextSize);
  const assessed = candidates.map((entry) => {
    const bytes = entry.sizeBytes ?? entry.approximateSizeBytes;
    // The same memory profile the plan makes (KV type, batch, sequences, context, OS reserve).
    const fit = planMemoryProfile({
      contextSize: request.contextSize,
      parallelSequences: request.parallelSequences,
      modelFileBytes: bytes,
      totalBytes: hardware.memory.totalBytes,
      availableBytes: available,
      kvCacheType: "auto",
      batchSize: 0,
    });
    const fits = fit.fit.kind !== "too-large";
    return { entry, bytes, contextSize: fit.contextSize, fits, good: fits && fit.contextSize >= floor };
  });
  const shape = `${request.parallelSequences} sequence${request.parallelSequences === 1 ? "" : "s"}`;
  const good = assessed.filter((candidate) => candidate.good);
  for (const candidate of assessed) {
    if (candidate === good[0]) break;
    reasons.push(
      `${candidate.entry.name} (${formatBytes(candidate.bytes)}) does not fit ${formatBytes(available)} available with ≥ ${floor} tokens × ${shape}` +
        (candidate.fits ? ` (only ${candidate.contextSize})` : ""),
    );
  }
  const preferred = good[0];
  if (preferred === undefined) {
    const smallest = [...assessed].sort((a, b) => a.bytes - b.bytes)[0] as (typeof assessed)[number];
    reasons.push(
      `warning: no catalog model fits with ≥ ${floor} tokens → ${smallest.entry.name}, the smallest (use fewer parallel sequences or a smaller context)`,
    );
    return { entry: smallest.entry, contextSize: smallest.contextSize, fits: smallest.fits, reasons };
  }
  const stored = good.find((candidate) => request.storedFileNames?.has(candidate.entry.fileName));
  const chosen = stored && !request.storedFileNames?.has(preferred.entry.fileName) ? stored : preferred;
  if (chosen !== preferred)
    reasons.push(
      `${chosen.entry.name} is already in the store and fits → kept instead of pulling ${preferred.entry.name}`,
    );
  reasons.push(
    `default model → ${chosen.entry.name} (${formatBytes(chosen.bytes)}, context ${chosen.contextSize} × ${shape} fits ${formatBytes(available)} available` +
      `${chosen.entry.sha256Confidence === "medium" ? "; its sha256 is of medium confidence" : ""})`,
  );
  return { entry: chosen.entry, contextSize: chosen.contextSize, fits: true, reasons };
}

/** A chat GGUF a board can fetch and verify on its own. */
function pullableChatGguf(entry: CatalogEntry): boolean {
  return entry.format === "gguf" && entry.chatTemplate !== null && entry.sha256 !== null && entry.urls.length > 0;
}
