/**
 * Plain HTTP requests with any headers (Host and Origin included, which fetch will not set), and
 * WebSocket upgrade attempts that report the HTTP answer instead of a socket.
 */
import { request } from "node:http";

export interface ProbeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** `GET url` with exactly these extra headers. */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { headers }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** A WebSocket upgrade request: 101 (the socket is closed again at once) or the refusal with its body. */
export function upgradeAttempt(url: string, headers: Record<string, string> = {}): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url.replace(/^ws/, "http"), {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        ...headers,
      },
    });
    outgoing.on("upgrade", (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 101, headers: response.headers, body: "" });
    });
    outgoing.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** The protocol error code in a JSON error body, or undefined. */
export function errorCodeOf(answer: ProbeAnswer): string | undefined {
  try {
    return (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}
