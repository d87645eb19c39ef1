/**
 * The WebSocket transport: game NPCs and local apps connect to ws://host:port/ and speak the JSON
 * protocol of daemon/protocol. The upgrade is refused while stopping (503), without the token (401)
 * and beyond ws.maxConnections (503); each accepted client is a WebSocketConnection. The same HTTP
 * server answers /healthz, /readyz and /metrics, and checks Host and Origin before any of this.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../../logging/createLogger.js";
import type { AdminRequest, ServerMessage } from "../../protocol/messages.js";
import type { ProtocolLimits } from "../../protocol/parseClientMessage.js";
import type { Scheduler } from "../../scheduler/Scheduler.js";
import type { HttpServer } from "../http/HttpServer.js";
import { refuseUpgrade } from "../http/refuseUpgrade.js";
import { assertTokenWhenExposed, bearerTokenMatches, webSocketSubprotocol } from "../transportSecurity.js";
import { WebSocketConnection } from "./WebSocketConnection.js";

export interface WebSocketTransportOptions {
  http: HttpServer;
  host: string;
  /** Bearer token; required (non-empty) when host is not a loopback address. */
  token: string;
  /** Largest frame (and message) accepted; ws refuses a larger one before buffering it and closes with 1009. */
  maxMessageBytes: number;
  /** Most connections open at once; further upgrades get 503 E_TOO_MANY_CONNECTIONS. */
  maxConnections: number;
  /** A connection silent for this long with nothing in flight is closed (1000); 0 never. */
  idleTimeoutMs: number;
  limits: ProtocolLimits;
  scheduler: Scheduler;
  log: Logger;
  /** Answers operator requests (model swap, status); checks the admin token itself. */
  admin?: (request: AdminRequest) => Promise<ServerMessage>;
}

export class WebSocketTransport {
  private sockets: WebSocketServer | undefined;
  private readonly clients = new Set<WebSocket>();
  private accepting = false;
  /** Numbers connections: each is its own client for the scheduler's per-client share. */
  private connectionsOpened = 0;

  constructor(private readonly options: WebSocketTransportOptions) {
    assertTokenWhenExposed("http.host", options.host, "http.token", options.token);
  }

  start(): void {
    // maxPayload: ws checks the length in a frame's header and closes with 1009 before reading the
    // payload, so an oversized frame never costs its size in memory. A message split into fragments
    // counts as a whole against the same limit.
    // A browser that names subprotocols fails the connection unless one is chosen: choose "tinyllamad",
    // never the entry carrying the token (it would be echoed back in the response headers).
    const sockets = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxMessageBytes,
      handleProtocols: (offered) => (offered.has(webSocketSubprotocol) ? webSocketSubprotocol : false),
    });
    this.options.http.onUpgrade((request, socket, head) => this.onUpgrade(sockets, request, socket, head));
    this.sockets = sockets;
    this.accepting = true;
    this.options.log.info(
      { address: this.address(), maxConnections: this.options.maxConnections },
      "WebSocket transport listening",
    );
  }

  /** Where clients connect, e.g. ws://127.0.0.1:8765/ (port resolved when 0 was configured). */
  address(): string {
    const address = this.options.http.address();
    return address ? `ws://${address.host}:${address.port}/` : "";
  }

  /** Refuses new connections; open ones keep their in-flight requests until stop(). */
  stopAccepting(): void {
    this.accepting = false;
  }

  async stop(): Promise<void> {
    this.accepting = false;
    for (const client of this.clients) client.close(1001, "server shutting down");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        for (const client of this.clients) client.terminate();
        resolve();
      }, 1000);
      timer.unref();
      const check = () => {
        if (this.clients.size === 0) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 10).unref();
      };
      check();
    });
    this.sockets?.close();
  }

  /** Runs inside HttpServer's guard: an exception here answers 500, never escapes. */
  private onUpgrade(sockets: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const remote = request.socket.remoteAddress;
    if (!this.accepting) {
      refuseUpgrade(socket, 503, "E_SHUTTING_DOWN", "the daemon is stopping");
      return;
    }
    if (this.options.token.length > 0 && !bearerTokenMatches(request, this.options.token)) {
      this.options.log.warn({ remote }, "WebSocket client refused: bad or missing token");
      refuseUpgrade(socket, 401, "E_UNAUTHORIZED", "a valid bearer token is required", {
        "WWW-Authenticate": "Bearer",
      });
      return;
    }
    if (this.clients.size >= this.options.maxConnections) {
      this.options.log.warn({ remote, open: this.clients.size }, "WebSocket client refused: too many connections");
      refuseUpgrade(
        socket,
        503,
        "E_TOO_MANY_CONNECTIONS",
        `${this.options.maxConnections} connections are open (ws.maxConnections); retry later`,
        { "Retry-After": "5" },
      );
      return;
    }
    // With noServer and no verifyClient, ws completes the handshake synchronously, so the count
    // above already includes every connection accepted before this one.
    sockets.handleUpgrade(request, socket, head, (client) => this.onConnection(client));
  }

  private onConnection(client: WebSocket): void {
    this.clients.add(client);
    client.on("close", () => this.clients.delete(client));
    new WebSocketConnection(client, {
      limits: this.options.limits,
      scheduler: this.options.scheduler,
      log: this.options.log,
      idleTimeoutMs: this.options.idleTimeoutMs,
      schedulerClient: `ws#${++this.connectionsOpened}`,
      admin: this.options.admin,
    });
  }
}
