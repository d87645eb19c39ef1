/**
 * On first start, when no model.path is set and the default model is not in the store, the daemon
 * pulls it (from model.mirrorUrl when set, else the catalog's URLs). When that fails it stops with a
 * message that says exactly what to do.
 */
import { basename, dirname } from "node:path";
import { loadModelCatalog, requireCatalogEntry } from "../models/catalog/modelCatalog.js";
import { ModelMissingError } from "../models/store/defaultModelLocation.js";
import { ModelStore } from "../models/store/ModelStore.js";
import { type PullProgress, pullModel } from "../models/store/pullModel.js";

export interface DefaultModelPullOptions {
  path: string;
  mirrorUrl: string;
  allowUnverified: boolean;
  log: { info(object: object, message: string): void; warn(object: object, message: string): void };
  /** Every progress report of the pull (checking, downloading, verifying); callers throttle. */
  onProgress(progress: PullProgress): void;
  /** Abandons the pull (the daemon is stopping); the part file stays for the next start to resume. */
  signal?: AbortSignal | undefined;
}

export async function pullDefaultModel(options: DefaultModelPullOptions): Promise<void> {
  const catalog = loadModelCatalog();
  const entry = requireCatalogEntry(catalog, catalog.defaultModel);
  const store = new ModelStore(dirname(options.path));
  if (entry.fileName !== basename(options.path)) throw new ModelMissingError(options.path);
  options.log.info(
    { model: entry.name, store: store.directory, mirror: options.mirrorUrl || null },
    "pulling the default model",
  );
  let lastPercent = -1;
  try {
    const result = await pullModel({
      entry,
      store,
      allowUnverified: options.allowUnverified,
      ...(options.mirrorUrl ? { mirrorUrl: options.mirrorUrl } : {}),
      retry: { attempts: 3 },
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (progress) => {
        options.onProgress(progress);
        if (progress.totalBytes === null || progress.phase !== "downloading") return;
        const percent = Math.floor((progress.bytes / progress.totalBytes) * 10) * 10;
        if (percent === lastPercent) return;
        lastPercent = percent;
        options.log.info({ model: entry.name, percent, bytes: progress.bytes }, "pulling the default model");
      },
      onRetry: ({ attempt, reason }) => options.log.warn({ attempt, reason }, "download failed; retrying"),
    });
    options.log.info({ model: entry.name, path: result.path, verified: result.verified }, "default model pulled");
  } catch (error) {
    const reason = (error as Error).message;
    const code = (error as { code?: string }).code ?? "E_DOWNLOAD_FAILED";
    throw new ModelMissingError(
      options.path,
      `the default model ${entry.name} could not be pulled (${code}: ${reason}).\n` +
        `  - from a site mirror: tinyllamad models pull ${entry.name} --mirror http://mirror.site/models` +
        `${entry.sha256 === null ? " --allow-unverified" : ""} (or set model.mirrorUrl), or\n` +
        `  - copy a file onto the board and point model.path (TINYLLAMAD_MODEL_PATH) at it`,
    );
  }
}
