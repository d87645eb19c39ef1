import { inspectModel } from "../../models/store/inspectModel.js";

/**
 * The serving model's quantization as its GGUF header names it. The header is read in the
 * background after a load, so serving never waits for it; the status shows it once known.
 */
export class ServingQuantization {
  private known: { path: string; value: string | null } | undefined;

  /** Starts reading the header of a model just loaded (an .rkllm file has none to read). */
  read(path: string): void {
    if (path.endsWith(".rkllm")) return;
    inspectModel(path).then(
      (inspection) => {
        this.known = { path, value: inspection.quantization };
      },
      () => {
        this.known = { path, value: null };
      },
    );
  }

  /** The quantization of the model at `path` (null: unknown, not read yet, or another model's). */
  of(path: string | undefined): string | null {
    return this.known?.path === path ? (this.known?.value ?? null) : null;
  }
}
