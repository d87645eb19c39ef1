/** sha256 of a file (or of its first `length` bytes), streamed, with optional progress. */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";

export async function hashFileInto(
  hash: Hash,
  path: string,
  options: { length?: number; onBytes?: (bytesDone: number) => void; signal?: AbortSignal } = {},
): Promise<number> {
  if (options.length === 0) return 0;
  const stream = createReadStream(path, {
    highWaterMark: 1 << 20,
    ...(options.length !== undefined ? { end: options.length - 1 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let done = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    done += chunk.length;
    options.onBytes?.(done);
  }
  return done;
}

export async function sha256OfFile(
  path: string,
  options: { onBytes?: (bytesDone: number) => void; signal?: AbortSignal } = {},
): Promise<string> {
  const hash = createHash("sha256");
  await hashFileInto(hash, path, options);
  return hash.digest("hex");
}
