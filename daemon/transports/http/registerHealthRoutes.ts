/**
 * GET /healthz, /readyz and /metrics. On a loopback address they are open, as only local programs
 * can reach them. Beyond loopback their detail (model, backend, queue, temperatures, fallback
 * reasons, every metric) is for holders of http.token only: without it /healthz and /readyz say only
 * their status (enough for a load balancer's or systemd's liveness probe) and /metrics is 401.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { bearerTokenMatches, isLoopbackHost } from "../transportSecurity.js";
import { type HttpServer, sendJson } from "./HttpServer.js";

export interface HealthRoutesOptions {
  /** The address the server is bound to (http.host). */
  host: string;
  /** http.token: the bearer token that unlocks the detail beyond loopback (empty: detail stays local). */
  token: string;
  /** The daemon's health: `ready`, `alive` and `state` decide the status; the rest is detail. */
  health: () => { ready: boolean } & Record<string, unknown>;
  metrics: { render(): Promise<string>; contentType: string };
}

export function registerHealthRoutes(http: HttpServer, options: HealthRoutesOptions): void {
  const open = isLoopbackHost(options.host);
  const mayReadDetail = (request: IncomingMessage) => open || bearerTokenMatches(request, options.token);

  http.get("/healthz", (request, response) => {
    const health = options.health();
    const alive = health.alive === true;
    const status = alive ? "ok" : "stalled";
    sendJson(response, alive ? 200 : 503, mayReadDetail(request) ? { status, ...health } : { status });
  });
  http.get("/readyz", (request, response) => {
    const health = options.health();
    const status = health.ready ? "ready" : String(health.state);
    sendJson(response, health.ready ? 200 : 503, mayReadDetail(request) ? { status, ...health } : { status });
  });
  http.get("/metrics", async (request, response) => {
    if (!mayReadDetail(request)) {
      refuseWithoutToken(response, options.token);
      return;
    }
    const body = await options.metrics.render();
    response.writeHead(200, { "content-type": options.metrics.contentType });
    response.end(body);
  });
}

function refuseWithoutToken(response: ServerResponse, token: string): void {
  response.setHeader("www-authenticate", "Bearer");
  sendJson(response, 401, {
    error: {
      code: "E_UNAUTHORIZED",
      message:
        token.length > 0
          ? "a valid bearer token (http.token) is required for /metrics beyond loopback"
          : "http.token is not set, so /metrics is served on loopback addresses only",
    },
  });
}
