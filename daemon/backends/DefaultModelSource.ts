import { basename } from "node:path";
import { probeHardware } from "../../hal/probes/probeHardware.js";
import { ModelMissingError, resolveModelPath } from "../../models/store/defaultModelLocation.js";
import { type BoardDefaultModel, boardDefaultModel } from "../boardDefaultModel.js";
import { pullDefaultModel } from "../pullDefaultModel.js";
import type { BackendManagerOptions } from "./BackendManagerOptions.js";

/**
 * Which model file serves: `model.path`, or when it is empty this board's default model, chosen
 * once (the choice probes the hardware and reads the catalog) and pulled into the store on the
 * first start that lacks it.
 */
export class DefaultModelSource {
  private defaultModel: BoardDefaultModel | undefined;

  constructor(private readonly options: BackendManagerOptions) {}

  /** `model.path`, or when it is empty this board's default model (chosen once, reasons logged). */
  async resolve(configured: string): Promise<string> {
    if (configured.length > 0) return configured;
    if (!this.defaultModel) {
      const hardware = await probeHardware(this.options.config().hal.root);
      // The configuration as it is once probed: a SIGHUP during the probe is not lost.
      this.defaultModel = boardDefaultModel(hardware, this.options.config());
      const { entry, path, reasons } = this.defaultModel;
      this.options.logFor("models").info({ model: entry.name, path, reasons }, "default model for this board");
    }
    return this.defaultModel.path;
  }

  /** The same, synchronously, once `resolve` has chosen (before that: the catalog's default file). */
  pathNow(configured: string): string {
    return configured.length > 0 ? configured : (this.defaultModel?.path ?? resolveModelPath(""));
  }

  /** First start without the default model: pull it into the store, with progress. */
  async pull(modelPath: string): Promise<void> {
    if (!this.defaultModel) throw new ModelMissingError(modelPath);
    const config = this.options.config();
    const model = basename(modelPath);
    await pullDefaultModel({
      entry: this.defaultModel.entry,
      path: modelPath,
      mirrorUrl: config.model.mirrorUrl,
      allowUnverified: config.model.allowUnverified,
      log: this.options.logFor("models"),
      onProgress: (progress) => this.options.status.progress.pulling(model, progress),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    // The load comes next: say so before the state changes, so no status pairs "loading" with a download.
    this.options.status.progress.loading(model, 0);
  }
}
