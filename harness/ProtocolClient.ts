/**
 * A real WebSocket client that speaks tinyllamad's protocol and collects the answers per request id.
 */
import { WebSocket } from "ws";
import type { FinalMessage, ServerMessage, TokenMessage } from "../daemon/protocol/messages.js";
import { waitUntil } from "./waitUntil.js";

export interface Answer {
  tokens: TokenMessage[];
  final: FinalMessage;
  /** Every message received for this id, in order (to check nothing follows the final one). */
  all: ServerMessage[];
}

export class ProtocolClient {
  readonly received: ServerMessage[] = [];
  private readonly waiters = new Map<string | null, Array<(answer: Answer) => void>>();

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString()) as ServerMessage;
      this.received.push(message);
      if (message.type === "done" || message.type === "error") {
        const key = message.id;
        const waiting = this.waiters.get(key);
        const next = waiting?.shift();
        if (next) next(this.answerFor(key));
      }
    });
  }

  static async connect(url: string, options?: ConstructorParameters<typeof WebSocket>[2]): Promise<ProtocolClient> {
    const socket = new WebSocket(url, options);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return new ProtocolClient(socket);
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Resolves with the answer once the final (done/error) message for `id` arrives. */
  answer(id: string | null, timeoutMs = 60_000): Promise<Answer> {
    const finalSeen = this.received.some((m) => m.id === id && (m.type === "done" || m.type === "error"));
    if (finalSeen) return Promise.resolve(this.answerFor(id));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final answer for ${id} in ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(id) ?? [];
      list.push((answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.waiters.set(id, list);
    });
  }

  /** Sends a request and waits for its final answer. */
  async request(message: { id: string } & Record<string, unknown>, timeoutMs?: number): Promise<Answer> {
    const answer = this.answer(message.id, timeoutMs);
    this.send({ type: "generate", ...message });
    return answer;
  }

  /** Resolves when `count` token messages for `id` have arrived. */
  tokensReceived(id: string, count: number, timeoutMs = 30_000): Promise<void> {
    return waitUntil({
      source: this.socket,
      event: "message",
      condition: () => this.received.filter((m) => m.id === id && m.type === "token").length >= count,
      timeoutMs,
      describe: () => `${count} tokens for ${id}`,
    });
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.close();
    });
  }

  /** Resolves with the first message, already received or still to come, that `matches`. */
  async firstMessage(matches: (message: ServerMessage) => boolean, timeoutMs = 60_000): Promise<ServerMessage> {
    let found: ServerMessage | undefined;
    await waitUntil({
      source: this.socket,
      event: "message",
      condition: () => {
        found = this.received.find(matches);
        return found !== undefined;
      },
      timeoutMs,
      describe: () => "a matching message",
    });
    return found as ServerMessage;
  }

  private answerFor(id: string | null): Answer {
    const all = this.received.filter((m) => m.id === id);
    const final = all.find((m) => m.type === "done" || m.type === "error") as FinalMessage;
    return { tokens: all.filter((m): m is TokenMessage => m.type === "token"), final, all };
  }
}
