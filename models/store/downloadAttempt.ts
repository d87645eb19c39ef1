/**
 * One attempt at fetching a model file into its `.part` file, continuing at `state.bytes` with an HTTP
 * `Range` request (validated: `206` with a matching `Content-Range`; a `200` means the server ignored
 * the range, so the part is truncated and the download starts again from byte 0). `file:` URLs are
 * read from the local disk the same way. The sha256 is updated with exactly the bytes written, so a
 * retry can continue the same hash. A host that does not resolve or refuses the connection is not worth
 * retrying: that ends as E_SOURCE_UNREACHABLE at once (unreachableSource.ts).
 */
import type { Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { ModelStoreError } from "./ModelStoreError.js";
import { assertHostResolves, unreachableCode, unreachableError } from "./unreachableSource.js";

export interface DownloadState {
  /** Bytes in the part file, all of them fed to `hash`. */
  bytes: number;
  hash: Hash;
}

export interface AttemptOptions {
  url: string;
  partialPath: string;
  state: DownloadState;
  /** Resets `state` to an empty hash at byte 0 (used when the server ignores the range). */
  restart: () => void;
  etag: string | null;
  /** Called once the response is known: the file's total size (if the server said) and its ETag. */
  onResponse: (response: { totalBytes: number | null; etag: string | null; restarted: boolean }) => Promise<void>;
  onBytes: () => void;
  signal?: AbortSignal;
  /** Abort when no byte arrives for this long. */
  idleTimeoutMs: number;
}

/** Marks errors that another attempt can cure (network, 5xx, short bodies). */
export class RetryableDownloadError extends Error {
  override readonly name = "RetryableDownloadError";
}

export async function downloadAttempt(options: AttemptOptions): Promise<void> {
  const url = new URL(options.url);
  if (url.protocol === "file:") return copyLocalFile(options, fileURLToPath(url));
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ModelStoreError("E_DOWNLOAD_FAILED", `unsupported URL ${options.url} (use http, https or file)`);
  }
  const idle = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
  let idleTimer = setTimeout(() => idle.abort(new Error("idle timeout")), options.idleTimeoutMs);
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(
      () => idle.abort(new Error(`no data for ${options.idleTimeoutMs} ms`)),
      options.idleTimeoutMs,
    );
  };
  try {
    const headers: Record<string, string> = { "user-agent": "tinyllamad" };
    const from = options.state.bytes;
    if (from > 0) {
      headers.range = `bytes=${from}-`;
      if (options.etag) headers["if-range"] = options.etag;
    }
    await assertHostResolves(options.url);
    let response: Response;
    try {
      response = await fetch(options.url, { headers, signal, redirect: "follow" });
    } catch (error) {
      options.signal?.throwIfAborted();
      const unreachable = unreachableCode(error);
      if (unreachable) throw unreachableError(options.url, unreachable, describe(error));
      if (/bad port/.test(describe(error)))
        throw new ModelStoreError(
          "E_DOWNLOAD_FAILED",
          `${options.url}: fetch never connects to port ${url.port} (on the Fetch standard's list of blocked ports); serve the mirror on another port`,
          { url: options.url },
        );
      throw new RetryableDownloadError(`cannot reach ${options.url}: ${describe(error)}`);
    }
    const etag = response.headers.get("etag");
    let totalBytes: number | null;
    let restarted = false;
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      throw new ModelStoreError(
        "E_MODEL_NOT_FOUND_UPSTREAM",
        `${options.url} answered ${response.status}: the file is not there`,
        {
          url: options.url,
          status: response.status,
        },
      );
    }
    if (response.status === 416 && from > 0) {
      await response.body?.cancel();
      options.restart();
      throw new RetryableDownloadError(`${options.url} refused the range bytes=${from}- (416); starting again from 0`);
    }
    if (response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
      if (!range || Number(range[1]) !== from) {
        await response.body?.cancel();
        options.restart();
        throw new RetryableDownloadError(
          `${options.url} answered 206 with Content-Range "${response.headers.get("content-range")}" for bytes=${from}-; starting again from 0`,
        );
      }
      totalBytes = range[3] === "*" ? null : Number(range[3]);
    } else if (response.status === 200) {
      if (from > 0) {
        options.restart(); // the server ignored the range (or the file changed, If-Range): start clean
        restarted = true;
      }
      const length = response.headers.get("content-length");
      totalBytes = length !== null ? Number(length) : null;
    } else {
      await response.body?.cancel();
      const message = `${options.url} answered ${response.status} ${response.statusText}`;
      if (response.status >= 500 || response.status === 408 || response.status === 429)
        throw new RetryableDownloadError(message);
      throw new ModelStoreError("E_DOWNLOAD_FAILED", message, { url: options.url, status: response.status });
    }
    await options.onResponse({ totalBytes, etag, restarted });
    if (!response.body) throw new RetryableDownloadError(`${options.url} sent no body`);
    try {
      await appendChunks(options, response.body as unknown as AsyncIterable<Uint8Array>, touch);
    } catch (error) {
      if (error instanceof ModelStoreError) throw error;
      options.signal?.throwIfAborted();
      throw new RetryableDownloadError(
        `download from ${options.url} broke off at byte ${options.state.bytes}: ${describe(error)}`,
      );
    }
    if (totalBytes !== null && options.state.bytes < totalBytes) {
      throw new RetryableDownloadError(`${options.url} closed at byte ${options.state.bytes} of ${totalBytes}`);
    }
  } finally {
    clearTimeout(idleTimer);
  }
}

async function copyLocalFile(options: AttemptOptions, path: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    throw new ModelStoreError("E_MODEL_NOT_FOUND_UPSTREAM", `no such file: ${path}`, { url: options.url });
  }
  if (options.state.bytes > size) options.restart();
  await options.onResponse({ totalBytes: size, etag: null, restarted: false });
  const stream = createReadStream(path, {
    start: options.state.bytes,
    highWaterMark: 1 << 20,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  await appendChunks(options, stream as AsyncIterable<Buffer>, () => undefined);
}

/** Appends each chunk to the part file, then feeds it to the hash: file and hash never disagree. */
async function appendChunks(
  options: AttemptOptions,
  chunks: AsyncIterable<Uint8Array>,
  touch: () => void,
): Promise<void> {
  const handle = await open(options.partialPath, options.state.bytes === 0 ? "w" : "a");
  try {
    for await (const chunk of chunks) {
      touch();
      try {
        await handle.write(chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOSPC") {
          throw new ModelStoreError("E_DISK_FULL", `the disk filled up while writing ${options.partialPath}`);
        }
        throw error;
      }
      options.state.hash.update(chunk);
      options.state.bytes += chunk.length;
      options.onBytes();
    }
  } finally {
    await handle.close();
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  const message = error instanceof Error ? error.message : String(error);
  return cause?.message ? `${message} (${cause.code ?? cause.message})` : message;
}
