/**
 * `tinyllamad models catalog` (= `models list --available`): what can be pulled, how big it is, whether
 * the pull is verified by a known sha256, whether it fits this board's memory, and whether it is stored.
 */
import { digestConfidence } from "../catalog/modelCatalog.js";
import { readBoardMemory } from "../store/boardMemory.js";
import { checkCatalogModelFit } from "../store/estimateFit.js";
import type { CommandContext } from "./modelsCommand.js";

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

export async function listCatalog(
  context: CommandContext,
  request: { contextSize: number; sequences: number },
): Promise<number> {
  const memory = context.io.memory ?? readBoardMemory();
  const models = [];
  for (const entry of context.catalog.models) {
    const fit = checkCatalogModelFit(entry, context.catalog, memory, request);
    const stored = await context.store.storedFile(entry.fileName);
    models.push({
      name: entry.name,
      fileName: entry.fileName,
      format: entry.format,
      quantization: entry.quantization,
      sizeBytes: entry.sizeBytes,
      approximateSizeBytes: entry.approximateSizeBytes,
      sha256: entry.sha256,
      verified: entry.sha256 !== null,
      sha256Confidence: digestConfidence(entry),
      pullable: entry.urls.length > 0,
      default: entry.name === context.catalog.defaultModel,
      fits: fit.fits,
      neededBytes: fit.estimate.totalBytes,
      inStore: stored !== null,
    });
  }
  const lines = [
    `catalog models (fit: ${megabytes(memory.availableBytes)} available, context ${request.contextSize}, ` +
      `${request.sequences} sequence${request.sequences === 1 ? "" : "s"}):`,
    `${"NAME".padEnd(34)} ${"SIZE".padStart(9)}  ${"SHA256".padEnd(10)} ${"FITS".padEnd(16)} STORED`,
  ];
  for (const model of models) {
    const size = model.sizeBytes === null ? `≈${megabytes(model.approximateSizeBytes)}` : megabytes(model.sizeBytes);
    const fits = `${model.fits ? "yes" : "no"} (≈${megabytes(model.neededBytes)})`;
    const name = `${model.name}${model.default ? " *" : ""}`;
    lines.push(
      `${name.padEnd(34)} ${size.padStart(9)}  ${(model.sha256Confidence ?? "unknown").padEnd(10)} ${fits.padEnd(16)} ${model.inStore ? "yes" : model.pullable ? "no" : "no (copy by hand)"}`,
    );
  }
  lines.push(
    "* the catalog's default (doctor names this board's). SHA256: how sure the catalog's digest is; " +
      "pull one with tinyllamad models pull NAME (an unknown sha256 needs --allow-unverified)",
  );
  context.io.stdout.write(
    context.json
      ? `${JSON.stringify({ memory, contextSize: request.contextSize, sequences: request.sequences, models })}\n`
      : `${lines.join("\n")}\n`,
  );
  return 0;
}
