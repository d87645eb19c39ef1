import type { ServerResponse } from "node:http";

/** A 200 JSON answer of an HTTP API, with the call's headers (CORS). */
export function sendApiJson(response: ServerResponse, headers: Record<string, string>, body: unknown): void {
  response.writeHead(200, { ...headers, "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}
