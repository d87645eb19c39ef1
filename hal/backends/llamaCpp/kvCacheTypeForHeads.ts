/** Elements per q8_0 block: llama.cpp stores a q8_0 K/V cache only for heads a multiple of this wide. */
export const q8BlockSize = 32;

/**
 * The KV type a model can hold: q8_0 only where every head's width divides into q8_0 blocks
 * (TinyLlama's 64-wide heads do; the 16-wide heads of the test models do not), else f16 — the
 * memory plan may choose q8_0 without reading the model, and a failed context must not stop a board.
 */
export function kvCacheTypeForHeads(
  requested: "f16" | "q8_0" | undefined,
  metadata: {
    embedding_length?: number;
    attention?: { head_count?: number; key_length?: number; value_length?: number };
  },
): "f16" | "q8_0" | undefined {
  if (requested !== "q8_0") return requested;
  const heads = metadata.attention?.head_count;
  const derived = heads && metadata.embedding_length ? metadata.embedding_length / heads : undefined;
  const widths = [metadata.attention?.key_length ?? derived, metadata.attention?.value_length ?? derived];
  return widths.every((width) => width !== undefined && width % q8BlockSize === 0) ? "q8_0" : "f16";
}
