/**
 * On first start, when no model.path is set and the board's default model (daemon/boardDefaultModel.ts)
 * is not in the store, the daemon pulls it (from model.mirrorUrl when set, else the catalog's URLs).
 * When that fails it stops with a message that says exactly what to do. An unreachable source (offline,
 * no DNS, refused) fails at once: a board that cannot reach the file should say so, not retry.
 */
import { dirname } from "node:path";
import type { CatalogEntry } from "../models/catalog/modelCatalog.js";
import { ModelMissingError } from "../models/store/defaultModelLocation.js";
import { ModelStore } from "../models/store/ModelStore.js";
import { type PullProgress, pullModel } from "../models/store/pullModel.js";
import { pullNextSteps } from "../models/store/pullNextSteps.js";

export interface DefaultModelPullOptions {
  /** The board's default model and where it goes (its store path). */
  entry: CatalogEntry;
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
  const { entry } = options;
  const store = new ModelStore(dirname(options.path));
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
        options.log.info(
          { model: entry.name, percent, bytes: progress.bytes, bytes_per_s: Math.round(progress.bytesPerSecond) },
          "pulling the default model",
        );
      },
      onRetry: ({ attempt, reason }) => options.log.warn({ attempt, reason }, "download failed; retrying"),
    });
    options.log.info({ model: entry.name, path: result.path, verified: result.verified }, "default model pulled");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "E_DOWNLOAD_FAILED";
    // pullModel's own messages already end with the next steps; others get them here.
    const reason = (error as Error).message.split("\nnext steps:")[0];
    throw new ModelMissingError(
      options.path,
      `the default model ${entry.name} could not be pulled (${code}: ${reason}).\n${pullNextSteps(entry, store)}`,
    );
  }
}
