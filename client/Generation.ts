/**
 * One request's answer as it arrives: an async iterable of text pieces (`for await (const piece of …)`)
 * and `result`, the final `done` message (text, finish_reason, usage, timings). Transports feed it the
 * protocol's messages; it ends at exactly one final answer, an error, or an abort.
 */
import type { DoneMessage, ServerMessage } from "../daemon/protocol/messages.js";
import { TinyllamadError } from "./TinyllamadError.js";

type Waiter = { resolve: (result: IteratorResult<string>) => void; reject: (error: unknown) => void };

export class Generation implements AsyncIterable<string> {
  /** Resolves with the daemon's `done`; rejects with a TinyllamadError or the abort signal's reason. */
  readonly result: Promise<DoneMessage>;
  private settleResult!: { resolve: (done: DoneMessage) => void; reject: (error: unknown) => void };
  private readonly pieces: string[] = [];
  private streamed = "";
  private waiter: Waiter | undefined;
  private ending: { error: unknown } | "done" | undefined;
  private iterated = false;

  constructor(
    readonly id: string,
    /** Called once when the caller stops iterating before the end: the transport cancels the request. */
    private readonly onAbandon: () => void,
    private readonly onMessage?: ((message: ServerMessage) => void) | undefined,
  ) {
    this.result = new Promise<DoneMessage>((resolve, reject) => {
      this.settleResult = { resolve, reject };
    });
    // A caller that only iterates never looks at `result`: its rejection must not count as unhandled.
    this.result.catch(() => undefined);
  }

  get finished(): boolean {
    return this.ending !== undefined;
  }

  /** Takes one message of this request; true when it was the final one. */
  accept(message: ServerMessage): boolean {
    if (this.ending !== undefined) return true;
    this.onMessage?.(message);
    if (message.type === "token") {
      this.streamed += message.text;
      this.push(message.text);
      return false;
    }
    if (message.type === "done") {
      // Tokens may be lost or not sent (MQTT QoS 0, stream: false): the final text is the whole answer,
      // so what was not streamed yet is handed out as one last piece.
      if (message.text.length > this.streamed.length && message.text.startsWith(this.streamed))
        this.push(message.text.slice(this.streamed.length));
      this.ending = "done";
      this.settleResult.resolve(message);
      this.wake();
      return true;
    }
    if (message.type === "error") {
      this.fail(new TinyllamadError(message.error.code, message.error.message, this.id));
      return true;
    }
    return false;
  }

  /**
   * Ends the generation with an error (connection lost, aborted …); no-op once it has ended. Pieces not
   * read yet are still handed out before the error, unless `discardUnread` (an abort: stop now).
   */
  fail(error: unknown, discardUnread = false): void {
    if (this.ending !== undefined) return;
    if (discardUnread) this.pieces.length = 0;
    this.ending = { error };
    this.settleResult.reject(error);
    this.wake();
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.iterated) throw new Error("a Generation can be iterated only once");
    this.iterated = true;
    return {
      next: () => {
        const piece = this.pieces.shift();
        if (piece !== undefined) return Promise.resolve({ value: piece, done: false });
        if (this.ending === "done") return Promise.resolve({ value: undefined, done: true });
        if (this.ending !== undefined) return Promise.reject(this.ending.error);
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: () => {
        if (this.ending === undefined) {
          this.fail(new DOMException("the caller stopped reading the answer", "AbortError"), true);
          this.onAbandon();
        }
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private push(piece: string): void {
    if (piece.length === 0) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve({ value: piece, done: false });
    } else this.pieces.push(piece);
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.ending === "done") waiter.resolve({ value: undefined, done: true });
    else if (this.ending !== undefined) waiter.reject(this.ending.error);
  }
}
