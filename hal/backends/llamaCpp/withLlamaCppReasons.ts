/**
 * The load error with the reason llama.cpp logged ("tensor 'output.weight' data is not within the
 * file bounds, model is corrupted or incomplete"), without the C function-name prefixes:
 * node-llama-cpp's own error says only "Failed to load model".
 */
export function withLlamaCppReasons(error: unknown, lines: string[] | undefined): unknown {
  const reasons = (lines ?? [])
    .map((line) => line.replace(/^\w+: (error loading model: )?/, ""))
    .filter((line) => line !== "failed to load model");
  if (!(error instanceof Error) || reasons.length === 0) return error;
  return new Error(`${error.message}: ${reasons.join("; ")}`, { cause: error });
}
