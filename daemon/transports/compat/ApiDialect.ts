/**
 * What differs between the HTTP APIs in how they answer: the shape of an error body and of a streamed
 * or whole answer. Everything else (reading, auth, scheduling, statuses, disconnects) is shared.
 */
import type { DoneMessage } from "../../protocol/messages.js";
import type { ApiRefusal } from "./ApiRefusal.js";

export interface ApiDialect {
  /** The body of an error answered before any byte of an answer (with its HTTP status). */
  errorBody(error: ApiRefusal, status: number): unknown;
}

/** How one generation's answer is written, made per request (it knows the request's id and model). */
export interface AnswerWire {
  /** Content type of a streamed answer: SSE for OpenAI, NDJSON for Ollama. */
  readonly streamContentType: string;
  /** The bytes of one streamed piece of text. */
  piece(text: string): string;
  /** The bytes that end a stream, from the final answer. `elapsedMs`: since the request arrived. */
  streamEnd(done: DoneMessage, elapsedMs: number): string;
  /** The bytes that end a stream an error cut after it began (the status was already sent). */
  streamError(error: ApiRefusal): string;
  /** The whole answer of a request that did not stream. */
  body(done: DoneMessage, elapsedMs: number): unknown;
}
