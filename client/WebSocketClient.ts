/**
 * A client of the daemon's WebSocket API over any platform's socket (see ClientSocket): one connection,
 * opened when first needed and opened again, with growing pauses, after it is lost (the daemon
 * restarted, the network blinked). Requests sent on a connection that is lost fail with
 * E_CONNECTION_LOST (the daemon cancels a disconnected client's requests); later requests wait for the
 * next connection, for at most `connectTimeoutMs`.
 */
import type { DoneMessage, ServerMessage } from "../daemon/protocol/messages.js";
import type { ErrorCode } from "../protocol/errorCodes.js";
import type { ClientSocket, SocketClosed, SocketFactory } from "./ClientSocket.js";
import { Generation } from "./Generation.js";
import { type CallOptions, type GenerateOptions, generateRequest, nextRequestId } from "./generateOptions.js";
import { TinyllamadError } from "./TinyllamadError.js";

export interface TinyllamadClientOptions {
  /** The daemon's WebSocket URL, e.g. ws://127.0.0.1:8765/ (wss:// behind a TLS proxy). */
  url: string;
  /** The daemon's `http.token`, when it has one. */
  token?: string | undefined;
  /** How long a request waits for a connection, trying again and again, before E_UNREACHABLE (default 10 s). */
  connectTimeoutMs?: number | undefined;
  /** The first pause between connection attempts (default 250 ms); it doubles up to `maxRetryDelayMs` (5 s). */
  retryDelayMs?: number | undefined;
  maxRetryDelayMs?: number | undefined;
  /** How sockets are made; the package's entry points choose `ws` in Node and the global WebSocket in browsers. */
  socket?: SocketFactory | undefined;
}

type Attempt = { ok: true; socket: ClientSocket } | { ok: false; closed: SocketClosed };

const noRetryCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["E_UNAUTHORIZED", "E_FORBIDDEN"]);

export class WebSocketClient {
  private readonly url: string;
  private readonly token: string | undefined;
  private readonly connectTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly makeSocket: SocketFactory;
  private socket: ClientSocket | undefined;
  private opening: Promise<ClientSocket> | undefined;
  private readonly inFlight = new Map<string, Generation>();
  private closed = false;

  constructor(options: TinyllamadClientOptions & { socket: SocketFactory }) {
    this.url = options.url;
    this.token = options.token || undefined;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
    this.makeSocket = options.socket;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.socket !== undefined;
  }

  /** Opens the connection now (requests open it themselves); rejects as a request would. */
  async connect(options: CallOptions = {}): Promise<void> {
    await this.connection(options.signal);
  }

  /**
   * Sends a generate request and returns its answer as it streams: `for await (const piece of
   * client.generate(…))`, then `await generation.result` for finish_reason, usage and timings.
   */
  generate(options: GenerateOptions, call: CallOptions = {}): Generation {
    const id = nextRequestId();
    const generation = new Generation(id, () => this.cancel(id), call.onMessage);
    const { signal } = call;
    if (signal?.aborted) {
      generation.fail(signal.reason, true);
      return generation;
    }
    const onAbort = () => {
      this.cancel(id);
      generation.fail(signal?.reason, true);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const forget = () => signal?.removeEventListener("abort", onAbort);
    generation.result.then(forget, forget);
    void this.send(generation, generateOptionsRequest(id, options), signal);
    return generation;
  }

  /** The whole answer at once (the same request as generate's, its pieces not read). */
  complete(options: GenerateOptions, call: CallOptions = {}): Promise<DoneMessage> {
    return this.generate(options, call).result;
  }

  /** Closes the connection; requests still running fail with E_CONNECTION_LOST, later ones too. */
  close(): void {
    this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
    this.failInFlight("the client was closed");
  }

  private async send(generation: Generation, request: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      const socket = await this.connection(signal);
      if (generation.finished) return;
      this.inFlight.set(generation.id, generation);
      socket.send(request);
    } catch (error) {
      generation.fail(signal?.aborted ? signal.reason : error, true);
    }
  }

  private cancel(id: string): void {
    if (!this.inFlight.delete(id)) return;
    this.socket?.send(JSON.stringify({ type: "cancel", id }));
  }

  private connection(signal: AbortSignal | undefined): Promise<ClientSocket> {
    if (this.closed) return Promise.reject(new TinyllamadError("E_CONNECTION_LOST", "the client was closed"));
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.opening ??= this.openWithRetries().finally(() => {
      this.opening = undefined;
    });
    return signal === undefined ? this.opening : untilAborted(this.opening, signal);
  }

  private async openWithRetries(): Promise<ClientSocket> {
    const giveUpAt = Date.now() + this.connectTimeoutMs;
    let delay = this.retryDelayMs;
    for (;;) {
      const attempt = await this.openOnce();
      if (attempt.ok) return attempt.socket;
      const { closed } = attempt;
      const refusal = refusalCode(closed);
      if (refusal !== undefined && noRetryCodes.has(refusal)) throw new TinyllamadError(refusal, closed.message);
      if (this.closed) throw new TinyllamadError("E_CONNECTION_LOST", "the client was closed");
      if (Date.now() + delay > giveUpAt)
        throw new TinyllamadError("E_UNREACHABLE", `cannot reach the daemon at ${this.url}: ${closed.message}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, this.maxRetryDelayMs);
    }
  }

  private openOnce(): Promise<Attempt> {
    return new Promise((resolve) => {
      let socket: ClientSocket | undefined;
      let opened = false;
      try {
        socket = this.makeSocket(this.url, this.token, {
          open: () => {
            opened = true;
            if (this.closed) {
              socket?.close();
              return;
            }
            this.socket = socket;
            resolve({ ok: true, socket: socket as ClientSocket });
          },
          message: (text) => this.dispatch(text),
          closed: (info) => {
            if (!opened) resolve({ ok: false, closed: info });
            else if (this.socket === socket) {
              this.socket = undefined;
              this.failInFlight(`the connection to ${this.url} was lost: ${info.message}`);
            }
          },
        });
      } catch (error) {
        // A malformed URL: no retry makes it right.
        throw new TinyllamadError("E_UNREACHABLE", `cannot connect to ${this.url}: ${(error as Error).message}`);
      }
    });
  }

  private dispatch(text: string): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    if (typeof message?.id !== "string") return;
    const generation = this.inFlight.get(message.id);
    if (generation?.accept(message)) this.inFlight.delete(message.id);
  }

  private failInFlight(reason: string): void {
    const generations = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const generation of generations)
      generation.fail(new TinyllamadError("E_CONNECTION_LOST", reason, generation.id));
  }
}

function generateOptionsRequest(id: string, options: GenerateOptions): string {
  return JSON.stringify(generateRequest(id, options));
}

function refusalCode(closed: SocketClosed): ErrorCode | undefined {
  if (closed.code !== undefined) return closed.code;
  if (closed.status === 401) return "E_UNAUTHORIZED";
  if (closed.status === 403 || closed.status === 421) return "E_FORBIDDEN";
  return undefined;
}

/** `promise`, or the signal's reason as soon as it aborts (the work behind the promise goes on for others). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
