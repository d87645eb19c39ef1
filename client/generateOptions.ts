/**
 * What a caller gives `generate`: a generate request of the protocol (docs/protocol.md) without the
 * fields the client fills in itself (type, id, the MQTT-only reply_to); the daemon's defaults apply to
 * what is left out.
 */
import type { GenerateRequest, ServerMessage } from "../daemon/protocol/messages.js";

export type GenerateOptions = Omit<GenerateRequest, "type" | "id" | "reply_to" | "max_tokens" | "priority" | "stream"> &
  Partial<Pick<GenerateRequest, "max_tokens" | "priority" | "stream">>;

export interface CallOptions {
  /** Aborting it cancels the request at the daemon; the iteration and `result` reject with its reason. */
  signal?: AbortSignal | undefined;
  /** Sees each protocol message of this request as it arrives (tokens, then the final done or error). */
  onMessage?: ((message: ServerMessage) => void) | undefined;
}

let counter = 0;
const instance = Math.random().toString(36).slice(2, 8);

/** A request id unique to this process (ids only have to be unique per connection or reply topic). */
export function nextRequestId(): string {
  counter += 1;
  return `c${instance}-${counter}`;
}

export function generateRequest(id: string, options: GenerateOptions): GenerateRequest {
  return { ...options, type: "generate", id } as GenerateRequest;
}
