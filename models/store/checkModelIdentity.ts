/**
 * Is this file the catalog entry's model? Besides size and sha256 (checked while it streams), a GGUF
 * entry's file must have the entry's shape (layers, width, heads, KV heads, vocabulary) and, where the
 * header says, its quantization. That is what stands between a board and a wrong file when the catalog
 * knows no digest (`--allow-unverified`, a self-made file given with `--from`).
 */
import type { CatalogEntry, ModelShapeSummary } from "../catalog/modelCatalog.js";
import { inspectModel } from "./inspectModel.js";
import { ModelStoreError } from "./ModelStoreError.js";

const shapeKeys: Array<keyof ModelShapeSummary> = [
  "layers",
  "embeddingLength",
  "attentionHeads",
  "kvHeads",
  "vocabularySize",
];

/** Throws E_MODEL_MISMATCH naming each difference; `.rkllm` entries have no readable header to check. */
export async function checkModelIdentity(entry: CatalogEntry, path: string, source: string): Promise<void> {
  if (entry.format !== "gguf") return;
  let inspection: Awaited<ReturnType<typeof inspectModel>>;
  try {
    inspection = await inspectModel(path);
  } catch (error) {
    throw new ModelStoreError(
      "E_MODEL_MISMATCH",
      `${source} is not ${entry.name}: ${(error as Error).message.replace(path, "the file")}`,
    );
  }
  const differences: string[] = [];
  if (inspection.format !== "gguf") differences.push("it is not a GGUF file");
  else if (inspection.shape === null) differences.push("its GGUF header has no complete transformer shape");
  else {
    const shape = inspection.shape;
    for (const key of shapeKeys)
      if (shape[key] !== entry.shape[key]) differences.push(`${key} ${shape[key]}, expected ${entry.shape[key]}`);
  }
  if (inspection.quantization !== null && normalize(inspection.quantization) !== normalize(entry.quantization))
    differences.push(`quantization ${inspection.quantization}, expected ${entry.quantization}`);
  if (differences.length > 0)
    throw new ModelStoreError("E_MODEL_MISMATCH", `${source} is not ${entry.name}: ${differences.join("; ")}`, {
      differences,
    });
}

function normalize(quantization: string): string {
  return quantization.toUpperCase().replace(/^(MOSTLY|ALL)_/, "");
}
