/**
 * GET /api/status/stream: the node's status pushed as Server-Sent Events, for the web page. On
 * connect: `history` (the last 15 minutes of chart samples) and `status` (NodeStatus.health(), the
 * same object /healthz answers); then `status` again when the state, the model progress or a swap
 * changes (at once) or a figure moves (at most once a second), and `sample` with each new chart
 * sample. The page reads it with fetch() rather than EventSource, because EventSource cannot send
 * the Authorization header and the token must never go in the URL.
 *
 * Who may read it: with http.token set, holders of the token only (the WebSocket API's rule, so the
 * page asks once for the one token it needs); without one, loopback only (the daemon refuses to
 * serve the WebSocket API beyond loopback without a token).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NodeStatus } from "../NodeStatus.js";
import { sendJson } from "../transports/http/HttpServer.js";
import { bearerTokenMatches, isLoopbackHost } from "../transports/transportSecurity.js";
import type { StatusHistory } from "./StatusHistory.js";
import { pageSecurityHeaders } from "./securityHeaders.js";

export interface StatusStreamOptions {
  /** http.host: the address the server is bound to. */
  host: string;
  /** http.token (empty: none). */
  token: string;
  status: NodeStatus;
  history: StatusHistory;
}

/** The least time between two `status` events caused by moving figures (queue, rates, temperature). */
const figuresThrottleMs = 1000;

export function mayReadPageData(request: IncomingMessage, options: { host: string; token: string }): boolean {
  return options.token.length > 0 ? bearerTokenMatches(request, options.token) : isLoopbackHost(options.host);
}

export function serveStatusStream(request: IncomingMessage, response: ServerResponse, options: StatusStreamOptions) {
  if (!mayReadPageData(request, options)) {
    response.setHeader("www-authenticate", "Bearer");
    for (const [name, value] of Object.entries(pageSecurityHeaders)) response.setHeader(name, value);
    sendJson(response, 401, {
      error: {
        code: "E_UNAUTHORIZED",
        message:
          options.token.length > 0
            ? "a valid bearer token (http.token) is required"
            : "http.token is not set, so the status stream is served on loopback addresses only",
      },
    });
    return;
  }
  response.writeHead(200, {
    ...pageSecurityHeaders,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
  });
  if (request.method === "HEAD") {
    response.end();
    return;
  }
  const send = (event: string, data: unknown) => response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const sendStatus = () => send("status", options.status.health());
  let throttle: NodeJS.Timeout | undefined;
  let lastStatusAt = 0;
  const onChange = () => {
    lastStatusAt = Date.now();
    sendStatus();
  };
  const onFigures = () => {
    if (throttle) return;
    const wait = Math.max(0, lastStatusAt + figuresThrottleMs - Date.now());
    throttle = setTimeout(() => {
      throttle = undefined;
      onChange();
    }, wait);
  };
  const onSample = (sample: unknown) => {
    send("sample", sample);
    onChange(); // uptime and the like move too: a status at least with every sample
  };
  options.status.on("change", onChange);
  options.status.on("figures", onFigures);
  options.history.on("sample", onSample);
  response.once("close", () => {
    clearTimeout(throttle);
    options.status.off("change", onChange);
    options.status.off("figures", onFigures);
    options.history.off("sample", onSample);
  });
  send("history", options.history.recent());
  onChange();
}
