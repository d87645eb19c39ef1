/**
 * The daemon's HTTP listener (http.host:http.port): health (/healthz liveness, /readyz readiness),
 * Prometheus metrics (/metrics), the upgrade to the WebSocket API, and the routes plugins add (the
 * OpenAI- and Ollama-compatible APIs). Every request and upgrade
 * passes the Host/Origin policy first; a route or upgrade handler that throws answers 500
 * E_INTERNAL (logged with its stack) and the server keeps serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../../logging/createLogger.js";
import type { RequestOriginPolicy } from "./RequestOriginPolicy.js";
import { refuseUpgrade } from "./refuseUpgrade.js";

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
  /** Host and Origin checks; without one every request passes (tests of other parts). */
  policy?: RequestOriginPolicy;
  /**
   * Most TCP connections open at once (WebSockets included); further ones are closed as they come,
   * so a flood of sockets cannot use up the process's file descriptors. Unlimited when undefined.
   */
  maxSockets?: number;
}

/**
 * Time a client gets to send its request headers, and the whole request. The upgrade is headers only
 * and a POST body is at most limits.maxMessageBytes, so seconds are plenty (an answer may take longer:
 * the limit ends once the request has arrived); Node's defaults (60 s, 300 s) let a
 * slow sender hold a socket for minutes. An upgraded WebSocket leaves the HTTP parser and these limits.
 */
const headersTimeoutMs = 10_000;
const requestTimeoutMs = 15_000;

export class HttpServer {
  private server: Server | undefined;
  private readonly routes = new Map<string, RouteHandler>();
  private upgradeHandler: UpgradeHandler | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: HttpServerOptions) {}

  /** Registers `GET path` (HEAD too). */
  get(path: string, handler: RouteHandler): void {
    this.routes.set(`GET ${path}`, handler);
  }

  /** Registers `POST path`. */
  post(path: string, handler: RouteHandler): void {
    this.routes.set(`POST ${path}`, handler);
  }

  /** Registers `OPTIONS path` (CORS preflights). */
  preflight(path: string, handler: RouteHandler): void {
    this.routes.set(`OPTIONS ${path}`, handler);
  }

  onUpgrade(handler: UpgradeHandler): void {
    this.upgradeHandler = handler;
  }

  async start(): Promise<void> {
    const server = createServer(
      { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs },
      (request, response) => void this.handle(request, response),
    );
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(request, socket, head),
    );
    if (this.options.maxSockets !== undefined) server.maxConnections = this.options.maxSockets;
    server.on("drop", () =>
      this.options.log.debug({ maxSockets: server.maxConnections }, "TCP connection dropped: too many open"),
    );
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off("error", reject);
        // Once listening, an error (EMFILE on accept under a flood) is the server's to survive, not a crash.
        server.on("error", (error) => this.options.log.error({ err: error }, "HTTP server error; serving on"));
        resolve();
      });
    });
    this.server = server;
  }

  /** host:port actually bound (the port is resolved when 0 was configured). */
  address(): { host: string; port: number } | undefined {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) return undefined;
    return { host: address.family === "IPv6" ? `[${address.address}]` : address.address, port: address.port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // An upgraded socket has no 'error' listener of Node's any more; a reset must not become uncaught.
    socket.on("error", (error) => this.options.log.debug({ err: error }, "upgrade socket error"));
    try {
      const refusal = this.options.policy?.check(request);
      if (refusal) {
        this.logRefusal(request, refusal.status, refusal.message);
        refuseUpgrade(socket, refusal.status, refusal.code, refusal.message);
      } else if (this.upgradeHandler) this.upgradeHandler(request, socket, head);
      else refuseUpgrade(socket, 404, "E_NOT_FOUND", "no WebSocket API here (ws.enabled is false)");
    } catch (error) {
      this.options.log.error({ err: error }, "unexpected error while upgrading; answered 500 and serving on");
      refuseUpgrade(socket, 500, "E_INTERNAL", "an unexpected internal error; the daemon logged it and keeps serving");
    }
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const refusal = this.options.policy?.check(request);
      if (refusal) {
        this.logRefusal(request, refusal.status, refusal.message);
        sendJson(response, refusal.status, { error: { code: refusal.code, message: refusal.message } });
        return;
      }
      const target = request.url ?? "/";
      if (!URL.canParse(target, "http://localhost")) {
        sendJson(response, 400, { error: { code: "E_BAD_REQUEST", message: "the request target is not a URL" } });
        return;
      }
      const path = new URL(target, "http://localhost").pathname;
      const method = request.method === "HEAD" ? "GET" : request.method;
      const route = this.routes.get(`${method} ${path}`);
      if (!route) {
        sendJson(response, 404, { error: { code: "E_NOT_FOUND", message: `no route ${request.method} ${path}` } });
        return;
      }
      await route(request, response);
    } catch (error) {
      // The path only: a query may carry ?token=.
      const path = (request.url ?? "").split("?")[0];
      this.options.log.error({ err: error, path }, "unexpected error in an HTTP route; answered 500");
      if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          error: {
            code: "E_INTERNAL",
            message: "an unexpected internal error; the daemon logged it and keeps serving",
          },
        }),
      );
    }
  }

  private logRefusal(request: IncomingMessage, status: number, reason: string): void {
    this.options.log.warn({ remote: request.socket.remoteAddress, status, reason }, "HTTP request refused");
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}
