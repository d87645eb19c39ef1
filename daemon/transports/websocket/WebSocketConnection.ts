/**
 * One WebSocket client: its requests in flight (by id, cancelled when it goes away), its answers
 * (with back-pressure), its idle timer, and the guard that turns any exception from handling one of
 * its messages into an E_INTERNAL answer for that message, so no client input can throw out of the
 * transport.
 */
import { type RawData, WebSocket } from "ws";
import type { Logger } from "../../logging/createLogger.js";
import { ProtocolError } from "../../protocol/errorCodes.js";
import type { AdminRequest, ServerMessage } from "../../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../../protocol/parseClientMessage.js";
import type { RequestHandle, Scheduler } from "../../scheduler/Scheduler.js";
import { internalErrorAnswer } from "../internalErrorAnswer.js";
import { readMessageId } from "../readMessageId.js";

export interface WebSocketConnectionOptions {
  limits: ProtocolLimits;
  scheduler: Scheduler;
  log: Logger;
  /** Close the connection after this long with no message and nothing in flight; 0 never. */
  idleTimeoutMs: number;
  /** This connection's name for the scheduler's per-client share (one client per connection). */
  schedulerClient: string;
  admin?: (request: AdminRequest) => Promise<ServerMessage>;
}

/** Outgoing bytes buffered for one slow client before it is disconnected. */
const maxBufferedBytes = 8 << 20;

export class WebSocketConnection {
  private readonly inFlight = new Map<string, RequestHandle>();
  private adminRequestsPending = 0;
  /**
   * Idleness is silence from a live client, so it is measured by a timer per socket, refreshed on
   * each message and each finished request (Timeout.refresh re-arms it without a new allocation).
   * ws ping/pong would measure something else, whether the peer is alive, and would keep a silent
   * but alive client connected for ever.
   */
  private readonly idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: WebSocket,
    private readonly options: WebSocketConnectionOptions,
  ) {
    if (options.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.onIdle(), options.idleTimeoutMs);
      this.idleTimer.unref();
    }
    client.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    client.on("error", (error) => options.log.debug({ err: error }, "WebSocket client error"));
    client.on("close", () => this.onClose());
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.idleTimer?.refresh();
    const known: { id: string | null } = { id: null };
    try {
      this.handle(data, isBinary, known);
    } catch (error) {
      const id = known.id ?? (isBinary ? null : readMessageId(rawBytes(data)));
      this.send(internalErrorAnswer(this.options.log, id, error, "handling a WebSocket message"));
    }
  }

  /** Sends one answer; never throws (a failure to send is logged: the client is gone or broken). */
  private send(message: ServerMessage): void {
    const { client } = this;
    try {
      if (client.readyState !== WebSocket.OPEN) return;
      if (client.bufferedAmount > maxBufferedBytes) {
        this.options.log.warn({ id: message.id }, "WebSocket client too slow to read its answers; disconnecting");
        client.terminate();
        return;
      }
      client.send(JSON.stringify(message));
    } catch (error) {
      this.options.log.error({ err: error, id: message.id }, "could not send an answer; disconnecting the client");
      client.terminate();
    }
  }

  private refuse(id: string | null, error: ProtocolError): void {
    this.send({ type: "error", id, error: { code: error.code, message: error.message } });
  }

  /**
   * One message. Frames over limits.maxMessageBytes never get here: ws refuses them (maxPayload)
   * before buffering, and closes the connection with 1009.
   */
  private handle(data: RawData, isBinary: boolean, known: { id: string | null }): void {
    if (isBinary) {
      this.refuse(null, new ProtocolError("E_BAD_JSON", "binary frames are not accepted; send JSON text"));
      return;
    }
    const parsed = parseClientMessage(rawBytes(data), this.options.limits);
    if (!parsed.ok) {
      this.refuse(parsed.id, parsed.error);
      return;
    }
    const message = parsed.message;
    known.id = message.id;
    if (message.type === "cancel") {
      const handle = this.inFlight.get(message.id);
      if (handle === undefined)
        this.refuse(message.id, new ProtocolError("E_NOT_FOUND", `no request '${message.id}' in flight`));
      else handle.cancel();
      return;
    }
    if (message.type === "admin") {
      this.handleAdmin(message);
      return;
    }
    if (this.inFlight.has(message.id)) {
      this.refuse(message.id, new ProtocolError("E_DUPLICATE_ID", `request '${message.id}' is still in flight`));
      return;
    }
    const handle = this.options.scheduler.submit(message, {
      client: this.options.schedulerClient,
      send: (answer) => {
        if (answer.type === "done" || answer.type === "error") this.finished(message.id);
        this.send(answer);
      },
    });
    // A request refused at once has already been answered; the check below removes it again.
    this.inFlight.set(message.id, handle);
    handle.finished.then(
      () => {
        if (this.inFlight.get(message.id) === handle) this.finished(message.id);
      },
      (error: unknown) => this.send(internalErrorAnswer(this.options.log, message.id, error, "finishing a request")),
    );
  }

  private handleAdmin(message: AdminRequest): void {
    const admin = this.options.admin;
    if (!admin) {
      this.refuse(message.id, new ProtocolError("E_UNAUTHORIZED", "admin requests are not served here"));
      return;
    }
    this.adminRequestsPending += 1;
    admin(message)
      .then(
        (answer) => this.send(answer),
        (error: unknown) =>
          this.send(internalErrorAnswer(this.options.log, message.id, error, "answering an admin request")),
      )
      .finally(() => {
        this.adminRequestsPending -= 1;
        this.idleTimer?.refresh();
      });
  }

  private finished(id: string): void {
    this.inFlight.delete(id);
    this.idleTimer?.refresh();
  }

  private onIdle(): void {
    if (this.inFlight.size > 0 || this.adminRequestsPending > 0) {
      this.idleTimer?.refresh(); // busy, not idle: look again a full period later
      return;
    }
    this.options.log.debug({ idleTimeoutMs: this.options.idleTimeoutMs }, "closing an idle WebSocket connection");
    this.client.close(1000, `idle for ${this.options.idleTimeoutMs} ms (ws.idleTimeoutMs)`);
  }

  private onClose(): void {
    clearTimeout(this.idleTimer);
    for (const [id, handle] of this.inFlight) {
      this.options.log.debug({ id }, "client disconnected; cancelling its request");
      try {
        handle.cancel();
      } catch (error) {
        internalErrorAnswer(this.options.log, id, error, "cancelling a disconnected client's request");
      }
    }
    this.inFlight.clear();
  }
}

function rawBytes(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
