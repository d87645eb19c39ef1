/**
 * `models pull`: fetch a catalog model into the store safely over a flaky network.
 *
 * Under the file's lock: a complete file that still matches is reused; otherwise the download resumes
 * from `.partial/<file>.part` (its sha256 recomputed over what is already there), retries with
 * exponential backoff, checks free disk space first, hashes while streaming, and only after the
 * sha256 (and size) match is the file renamed into place. A file that fails is moved to
 * `.partial/<file>.corrupt` and an `E_CHECKSUM_MISMATCH` naming both digests is thrown: it never looks
 * complete, so nothing ever loads it. A GGUF must also have the entry's shape (checkModelIdentity).
 * A source that cannot be reached at all (DNS, refused) is not retried: E_SOURCE_UNREACHABLE with the
 * next steps (pullNextSteps).
 */
import { createHash } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { type CatalogEntry, type DownloadSourceOptions, resolveDownloadUrls } from "../catalog/modelCatalog.js";
import { checkModelIdentity } from "./checkModelIdentity.js";
import { type DownloadState, downloadAttempt, RetryableDownloadError } from "./downloadAttempt.js";
import { hashFileInto } from "./hashFile.js";
import type { ModelStore, StoredModelFile } from "./ModelStore.js";
import { ModelStoreError } from "./ModelStoreError.js";
import { pullNextSteps } from "./pullNextSteps.js";

export interface RetryPolicy {
  /** Attempts per URL. Defaults to 6. */
  attempts: number;
  /** Delay before the 2nd attempt; doubles (× factor) each time. Defaults to 1000 ms. */
  initialDelayMs: number;
  /** Defaults to 30 000 ms. */
  maxDelayMs: number;
  /** Defaults to 2. */
  factor: number;
}

export interface PullProgress {
  phase: "checking" | "downloading" | "verifying";
  fileName: string;
  bytes: number;
  totalBytes: number | null;
  /** Download rate of this session (bytes/s), 0 while checking. */
  bytesPerSecond: number;
}

export interface PullOptions extends DownloadSourceOptions {
  entry: CatalogEntry;
  store: ModelStore;
  /** Accept a file whose sha256 the catalog does not know (recorded as unverified). Defaults to false. */
  allowUnverified?: boolean;
  retry?: Partial<RetryPolicy>;
  onProgress?: (progress: PullProgress) => void;
  /** Called when another pull holds the file: "already being pulled by pid N". */
  onWaiting?: (holderPid: number | null) => void;
  /** Called before each retry, with why the last attempt failed. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** How long to wait for another pull of the same file. Defaults to 30 minutes. */
  lockWaitMs?: number;
  lockPollMs?: number;
  /** Abort an attempt after this long without data. Defaults to 60 s. */
  idleTimeoutMs?: number;
  /** Free bytes in the store (defaults to `statfs`); injectable to test the disk-full path. */
  freeBytes?: () => Promise<number>;
  /** Space to leave free on top of the file. Defaults to 16 MiB. */
  reserveBytes?: number;
  signal?: AbortSignal;
}

export interface PullResult {
  fileName: string;
  path: string;
  sha256: string;
  sizeBytes: number;
  /** true when the sha256 matched the catalog's; false for an --allow-unverified file. */
  verified: boolean;
  /** true when the file was already complete and nothing was downloaded. */
  alreadyPresent: boolean;
  /** Bytes that were already in the part file when this pull started. */
  resumedFromBytes: number;
  url: string | null;
  attempts: number;
}

const defaultRetry: RetryPolicy = { attempts: 6, initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2 };

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const { entry, store } = options;
  if (entry.sha256 === null && !options.allowUnverified) {
    throw new ModelStoreError(
      "E_CHECKSUM_UNKNOWN",
      `the catalog has no sha256 for ${entry.name} (${entry.fileName}), so the download cannot be verified; ` +
        "to accept it anyway (it is then recorded as unverified) pass --allow-unverified to `tinyllamad models pull`, " +
        "or set model.allowUnverified (--model.allowUnverified true) for the daemon's first-start pull",
    );
  }
  const lock = await store.lock(entry.fileName, {
    ...(options.lockWaitMs !== undefined ? { waitMs: options.lockWaitMs } : {}),
    ...(options.lockPollMs !== undefined ? { pollMs: options.lockPollMs } : {}),
    ...(options.onWaiting ? { onWaiting: options.onWaiting } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    const present = await reuseCompleteFile(options);
    if (present) return present;
    const urls = resolveDownloadUrls(entry, options);
    if (urls.length === 0) {
      throw new ModelStoreError(
        "E_NO_SOURCE",
        `${entry.name} has no download URL${entry.notes ? ` (${entry.notes})` : ""}; give --from FILE or --mirror URL`,
      );
    }
    const failures: ModelStoreError[] = [];
    for (const url of urls) {
      try {
        return await downloadFrom(url, options);
      } catch (error) {
        if (
          error instanceof ModelStoreError &&
          (error.code === "E_MODEL_NOT_FOUND_UPSTREAM" || error.code === "E_SOURCE_UNREACHABLE")
        ) {
          failures.push(error);
          continue;
        }
        if (error instanceof ModelStoreError && error.code === "E_DOWNLOAD_FAILED") throw withNextSteps(error, options);
        throw error;
      }
    }
    // Unreachable wins over not-found: it is the one the next steps (mirror, file, copy) are for.
    const last =
      failures.find((failure) => failure.code === "E_SOURCE_UNREACHABLE") ??
      failures.at(-1) ??
      new ModelStoreError("E_DOWNLOAD_FAILED", `no URL worked for ${entry.name}`);
    throw withNextSteps(last, options);
  } finally {
    await lock.release();
  }
}

/** A complete file that matches the catalog (or, unverifiable, its own record) is kept as it is. */
async function reuseCompleteFile(options: PullOptions): Promise<PullResult | null> {
  const { entry, store } = options;
  const file = await store.storedFile(entry.fileName);
  if (!file) return null;
  const matchesCatalog = (sha: string | undefined) => entry.sha256 === null || sha === entry.sha256;
  if ((file.status === "verified" || file.status === "unverified") && matchesCatalog(file.record?.sha256)) {
    return presentResult(file, file.record?.sha256 ?? "", file.status === "verified");
  }
  options.onProgress?.({
    phase: "verifying",
    fileName: entry.fileName,
    bytes: 0,
    totalBytes: file.sizeBytes,
    bytesPerSecond: 0,
  });
  const hash = createHash("sha256");
  await hashFileInto(hash, file.path, options.signal ? { signal: options.signal } : {});
  const sha256 = hash.digest("hex");
  const expected = entry.sha256 ?? (file.status === "changed" ? (file.record?.sha256 ?? null) : null);
  if (expected !== null && sha256 !== expected) {
    await store.moveAsideCorrupt(entry.fileName, file.path);
    return null;
  }
  await store.recordVerified(entry.fileName, {
    sha256,
    expectedSha256: entry.sha256,
    trusted: entry.sha256 !== null,
  });
  return presentResult(file, sha256, entry.sha256 !== null);
}

function presentResult(file: StoredModelFile, sha256: string, verified: boolean): PullResult {
  return {
    fileName: file.fileName,
    path: file.path,
    sha256,
    sizeBytes: file.sizeBytes,
    verified,
    alreadyPresent: true,
    resumedFromBytes: 0,
    url: null,
    attempts: 0,
  };
}

/** The same error, its message ending with what to do instead (mirror, a local file, a copy). */
function withNextSteps(error: ModelStoreError, options: PullOptions): ModelStoreError {
  return new ModelStoreError(error.code, `${error.message}\n${pullNextSteps(options.entry, options.store)}`, {
    ...error.details,
  });
}

async function downloadFrom(url: string, options: PullOptions): Promise<PullResult> {
  const { entry, store } = options;
  const retry = { ...defaultRetry, ...options.retry };
  const partialPath = store.partialPath(entry.fileName);
  let info = await store.readPartialInfo(entry.fileName);
  const sameSource =
    info !== null &&
    info.sha256 === entry.sha256 &&
    (entry.sizeBytes === null || info.expectedSizeBytes === null || info.expectedSizeBytes === entry.sizeBytes) &&
    (entry.sha256 !== null || info.url === url);
  if (!sameSource) {
    await rm(partialPath, { force: true });
    info = { url, expectedSizeBytes: entry.sizeBytes, sha256: entry.sha256, etag: null };
  } else if (info) {
    info = { ...info, url };
  }
  let partInfo = info as NonNullable<typeof info>;
  await store.writePartialInfo(entry.fileName, partInfo);

  const state: DownloadState = { bytes: 0, hash: createHash("sha256") };
  await resyncState(state, partialPath, options);
  const resumedFromBytes = state.bytes;
  await checkDiskSpace(options, (partInfo.expectedSizeBytes ?? entry.approximateSizeBytes) - state.bytes);

  const started = Date.now();
  let sessionStartBytes = state.bytes;
  const progress = () =>
    options.onProgress?.({
      phase: "downloading",
      fileName: entry.fileName,
      bytes: state.bytes,
      totalBytes: partInfo.expectedSizeBytes,
      bytesPerSecond: (state.bytes - sessionStartBytes) / Math.max((Date.now() - started) / 1000, 0.001),
    });

  let attempt = 0;
  for (;;) {
    attempt += 1;
    try {
      await resyncState(state, partialPath, options);
      if (partInfo.expectedSizeBytes === null || state.bytes < partInfo.expectedSizeBytes) {
        await downloadAttempt({
          url,
          partialPath,
          state,
          etag: partInfo.etag,
          restart: () => {
            state.bytes = 0;
            state.hash = createHash("sha256");
            sessionStartBytes = 0;
          },
          onResponse: async ({ totalBytes, etag }) => {
            if (entry.sizeBytes !== null && totalBytes !== null && totalBytes !== entry.sizeBytes) {
              // Refused before a byte is stored: the size alone proves it is another file.
              throw new ModelStoreError(
                "E_CHECKSUM_MISMATCH",
                `${url} serves ${totalBytes} bytes but ${entry.name} (${entry.fileName}) is ${entry.sizeBytes} bytes` +
                  `${entry.sha256 === null ? "" : ` with sha256 ${entry.sha256}`}: a different file, refused before download (nothing was stored)`,
                { url, expectedSizeBytes: entry.sizeBytes, servedSizeBytes: totalBytes, expectedSha256: entry.sha256 },
              );
            }
            partInfo = { ...partInfo, expectedSizeBytes: entry.sizeBytes ?? totalBytes, etag };
            await store.writePartialInfo(entry.fileName, partInfo);
          },
          onBytes: progress,
          idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      }
      break;
    } catch (error) {
      // A source that was there a moment ago (bytes came) and now refuses may be restarting: retry that.
      const unreachableAfterData =
        error instanceof ModelStoreError && error.code === "E_SOURCE_UNREACHABLE" && state.bytes > resumedFromBytes;
      if (error instanceof ModelStoreError) error.details.attempts = attempt;
      if (!(error instanceof RetryableDownloadError) && !unreachableAfterData) throw error;
      if (attempt >= retry.attempts) {
        throw new ModelStoreError(
          "E_DOWNLOAD_FAILED",
          `${(error as Error).message} (gave up after ${attempt} attempts)`,
          { url, attempts: attempt },
        );
      }
      const delayMs = Math.min(retry.initialDelayMs * retry.factor ** (attempt - 1), retry.maxDelayMs);
      options.onRetry?.({ attempt, delayMs, reason: (error as Error).message });
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : {});
    }
  }
  return finish(url, options, state, partInfo.expectedSizeBytes, resumedFromBytes, attempt);
}

async function finish(
  url: string,
  options: PullOptions,
  state: DownloadState,
  expectedSizeBytes: number | null,
  resumedFromBytes: number,
  attempts: number,
): Promise<PullResult> {
  const { entry, store } = options;
  const partialPath = store.partialPath(entry.fileName);
  const sha256 = state.hash.digest("hex");
  const sizeWrong = expectedSizeBytes !== null && state.bytes !== expectedSizeBytes;
  if (sizeWrong || (entry.sha256 !== null && sha256 !== entry.sha256)) {
    const movedTo = await store.moveAsideCorrupt(entry.fileName, partialPath);
    await rm(store.partialInfoPath(entry.fileName), { force: true });
    const size = sizeWrong ? ` and ${state.bytes} bytes instead of ${expectedSizeBytes}` : "";
    throw new ModelStoreError(
      "E_CHECKSUM_MISMATCH",
      `${entry.fileName} from ${url} is not ${entry.name}: expected sha256 ${entry.sha256 ?? "(unknown)"}, ` +
        `computed sha256 ${sha256}${size}. It was kept aside at ${movedTo} (never loaded; ` +
        `\`tinyllamad models rm ${entry.name}\` deletes it)`,
      { url, sha256, expectedSha256: entry.sha256, sizeBytes: state.bytes, expectedSizeBytes, movedTo },
    );
  }
  try {
    await checkModelIdentity(entry, partialPath, `${entry.fileName} from ${url}`);
  } catch (error) {
    const movedTo = await store.moveAsideCorrupt(entry.fileName, partialPath);
    await rm(store.partialInfoPath(entry.fileName), { force: true });
    if (error instanceof ModelStoreError)
      throw new ModelStoreError(error.code, `${error.message}. It was kept aside at ${movedTo} (never loaded)`, {
        ...error.details,
        movedTo,
      });
    throw error;
  }
  const installed = await store.installVerified(entry.fileName, partialPath, {
    sha256,
    expectedSha256: entry.sha256,
    trusted: entry.sha256 !== null,
    source: url,
  });
  return {
    fileName: entry.fileName,
    path: installed.path,
    sha256,
    sizeBytes: installed.sizeBytes,
    verified: entry.sha256 !== null,
    alreadyPresent: false,
    resumedFromBytes,
    url,
    attempts,
  };
}

/** Makes `state` describe the part file exactly, re-hashing it when they disagree (e.g. on resume). */
async function resyncState(state: DownloadState, partialPath: string, options: PullOptions): Promise<void> {
  const size = await stat(partialPath).then(
    (s) => s.size,
    () => 0,
  );
  if (size === state.bytes) return;
  state.hash = createHash("sha256");
  options.onProgress?.({
    phase: "checking",
    fileName: options.entry.fileName,
    bytes: 0,
    totalBytes: size,
    bytesPerSecond: 0,
  });
  state.bytes = await hashFileInto(state.hash, partialPath, {
    length: size,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

async function checkDiskSpace(options: PullOptions, bytesStillNeeded: number): Promise<void> {
  const reserve = options.reserveBytes ?? 16 * 1024 * 1024;
  const free = options.freeBytes ? await options.freeBytes() : await options.store.freeBytes();
  const needed = Math.max(bytesStillNeeded, 0) + reserve;
  if (free < needed) {
    throw new ModelStoreError(
      "E_DISK_FULL",
      `not enough disk space in ${options.store.directory} for ${options.entry.fileName}: ` +
        `${formatMegabytes(needed)} needed (file + ${formatMegabytes(reserve)} reserve), ${formatMegabytes(free)} free`,
      { neededBytes: needed, freeBytes: free },
    );
  }
}

function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
