/**
 * The WebSocket transport: game NPCs and local apps connect to ws://host:port/ and speak the JSON
 * protocol of daemon/protocol. Each client's requests are tracked by id and cancelled when it
 * disconnects. The same HTTP server answers GET /healthz.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { Logger } from "../../logging/createLogger.js";
import { ProtocolError } from "../../protocol/errorCodes.js";
import type { AdminRequest, ServerMessage } from "../../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../../protocol/parseClientMessage.js";
import type { RequestHandle, Scheduler } from "../../scheduler/Scheduler.js";
import type { HttpServer } from "../http/HttpServer.js";
import { assertTokenWhenExposed, bearerTokenMatches } from "../transportSecurity.js";

export interface WebSocketTransportOptions {
  http: HttpServer;
  host: string;
  /** Bearer token; required (non-empty) when host is not a loopback address. */
  token: string;
  /** Largest message answered with E_MESSAGE_TOO_LARGE; 4× this closes the connection (1009). */
  maxMessageBytes: number;
  limits: ProtocolLimits;
  scheduler: Scheduler;
  log: Logger;
  /** Answers operator requests (model swap, status); checks the admin token itself. */
  admin?: (request: AdminRequest) => Promise<ServerMessage>;
}

/** Outgoing bytes buffered for one slow client before it is disconnected. */
const maxBufferedBytes = 8 << 20;

export class WebSocketTransport {
  private sockets: WebSocketServer | undefined;
  private readonly clients = new Set<WebSocket>();
  private accepting = false;
  /** Numbers connections: each is its own client for the scheduler's per-client share. */
  private connectionsOpened = 0;

  constructor(private readonly options: WebSocketTransportOptions) {
    assertTokenWhenExposed("ws.host", options.host, "ws.token", options.token);
  }

  start(): void {
    const sockets = new WebSocketServer({ noServer: true, maxPayload: this.options.maxMessageBytes * 4 });
    sockets.on("connection", (socket) => this.onConnection(socket));
    this.options.http.onUpgrade((request, socket, head) => this.onUpgrade(sockets, request, socket, head));
    this.sockets = sockets;
    this.accepting = true;
    this.options.log.info({ address: this.address() }, "WebSocket transport listening");
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

  private onUpgrade(sockets: WebSocketServer, request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.accepting) {
      socket.end(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" +
          JSON.stringify({ error: { code: "E_SHUTTING_DOWN", message: "the daemon is stopping" } }),
      );
      return;
    }
    if (this.options.token.length > 0 && !bearerTokenMatches(request, this.options.token)) {
      this.options.log.warn({ remote: request.socket.remoteAddress }, "WebSocket client refused: bad or missing token");
      socket.end(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" +
          JSON.stringify({ error: { code: "E_UNAUTHORIZED", message: "a valid bearer token is required" } }),
      );
      return;
    }
    sockets.handleUpgrade(request, socket, head, (client) => sockets.emit("connection", client, request));
  }

  private onConnection(client: WebSocket): void {
    this.clients.add(client);
    const inFlight = new Map<string, RequestHandle>();
    const send = (message: ServerMessage) => {
      if (client.readyState !== WebSocket.OPEN) return;
      if (client.bufferedAmount > maxBufferedBytes) {
        this.options.log.warn({ id: message.id }, "WebSocket client too slow to read its answers; disconnecting");
        client.terminate();
        return;
      }
      client.send(JSON.stringify(message));
    };
    const connection = `ws#${++this.connectionsOpened}`;
    client.on("message", (data, isBinary) => this.onMessage(data, isBinary, inFlight, send, connection));
    client.on("error", (error) => this.options.log.debug({ err: error }, "WebSocket client error"));
    client.on("close", () => {
      this.clients.delete(client);
      for (const [id, handle] of inFlight) {
        this.options.log.debug({ id }, "client disconnected; cancelling its request");
        handle.cancel();
      }
      inFlight.clear();
    });
  }

  private onMessage(
    data: RawData,
    isBinary: boolean,
    inFlight: Map<string, RequestHandle>,
    send: (message: ServerMessage) => void,
    connection: string,
  ): void {
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const refuse = (id: string | null, error: ProtocolError) =>
      send({ type: "error", id, error: { code: error.code, message: error.message } });
    if (raw.length > this.options.maxMessageBytes) {
      refuse(
        null,
        new ProtocolError(
          "E_MESSAGE_TOO_LARGE",
          `the message is ${raw.length} bytes; the limit is ${this.options.maxMessageBytes}`,
        ),
      );
      return;
    }
    if (isBinary) {
      refuse(null, new ProtocolError("E_BAD_JSON", "binary frames are not accepted; send JSON text"));
      return;
    }
    const parsed = parseClientMessage(raw, this.options.limits);
    if (!parsed.ok) {
      refuse(parsed.id, parsed.error);
      return;
    }
    const message = parsed.message;
    if (message.type === "cancel") {
      const handle = inFlight.get(message.id);
      if (handle === undefined)
        refuse(message.id, new ProtocolError("E_NOT_FOUND", `no request '${message.id}' in flight`));
      else handle.cancel();
      return;
    }
    if (message.type === "admin") {
      const admin = this.options.admin;
      if (!admin) refuse(message.id, new ProtocolError("E_UNAUTHORIZED", "admin requests are not served here"));
      else void admin(message).then(send);
      return;
    }
    if (inFlight.has(message.id)) {
      refuse(message.id, new ProtocolError("E_DUPLICATE_ID", `request '${message.id}' is still in flight`));
      return;
    }
    const handle = this.options.scheduler.submit(message, {
      client: connection,
      send: (answer) => {
        if (answer.type === "done" || answer.type === "error") inFlight.delete(message.id);
        send(answer);
      },
    });
    // A request refused at once has already been answered; the check below removes it again.
    inFlight.set(message.id, handle);
    void handle.finished.then(() => {
      if (inFlight.get(message.id) === handle) inFlight.delete(message.id);
    });
  }
}
