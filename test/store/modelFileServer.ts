/**
 * A real HTTP server on 127.0.0.1 that serves one model file for the pull tests, and can misbehave
 * the way site networks do: destroy the socket after a given offset, ignore Range, answer slowly.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ModelFileServerOptions {
  fileName: string;
  body: Buffer;
  /** Answer Range requests with 206 (default) or ignore them and send 200 with the whole file. */
  supportsRange?: boolean;
  /** Absolute offsets at which to destroy the socket mid-body, used up one per request in order. */
  cutAtOffsets?: number[];
  /** Send the body in chunks of this size with a pause between them. */
  throttle?: { chunkBytes: number; delayMs: number };
  /** Send no Content-Length (chunked), as some mirrors and proxies do: the size is known only at the end. */
  omitContentLength?: boolean;
}

export interface ServedRequest {
  url: string;
  range: string | undefined;
  status: number;
}

export interface ModelFileServer {
  baseUrl: string;
  fileUrl: string;
  requests: ServedRequest[];
  close(): Promise<void>;
}

export async function startModelFileServer(options: ModelFileServerOptions): Promise<ModelFileServer> {
  const cuts = [...(options.cutAtOffsets ?? [])];
  const requests: ServedRequest[] = [];
  const server: Server = createServer((request, response) => {
    void serve(request, response);
  });
  async function serve(request: IncomingMessage, response: import("node:http").ServerResponse): Promise<void> {
    const range = request.headers.range;
    if (request.url !== `/${options.fileName}`) {
      requests.push({ url: request.url ?? "", range, status: 404 });
      response.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const total = options.body.length;
    let start = 0;
    const match = /^bytes=(\d+)-$/.exec(range ?? "");
    const useRange = (options.supportsRange ?? true) && match !== null;
    if (useRange) start = Number(match?.[1]);
    const status = useRange ? 206 : 200;
    requests.push({ url: request.url, range, status });
    if (useRange && start >= total) {
      response.writeHead(416, { "content-range": `bytes */${total}` }).end();
      return;
    }
    response.writeHead(status, {
      ...(options.omitContentLength ? {} : { "content-length": String(total - start) }),
      etag: '"test-model-v1"',
      "accept-ranges": (options.supportsRange ?? true) ? "bytes" : "none",
      ...(useRange ? { "content-range": `bytes ${start}-${total - 1}/${total}` } : {}),
    });
    const cut = cuts.length > 0 && (cuts[0] as number) > start ? cuts.shift() : undefined;
    const end = cut ?? total;
    const chunkBytes = options.throttle?.chunkBytes ?? 256 * 1024;
    for (let offset = start; offset < end; offset += chunkBytes) {
      const slice = options.body.subarray(offset, Math.min(offset + chunkBytes, end));
      if (!response.write(slice)) await new Promise((resolve) => response.once("drain", resolve));
      if (options.throttle) await new Promise((resolve) => setTimeout(resolve, options.throttle?.delayMs));
      if (response.destroyed) return;
    }
    if (cut !== undefined) {
      // let the bytes before the cut reach the client, then break the connection mid-body
      await new Promise((resolve) => setTimeout(resolve, 20));
      response.socket?.destroy();
      return;
    }
    response.end();
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    fileUrl: `${baseUrl}/${options.fileName}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
