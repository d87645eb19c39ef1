/**
 * What a generation is made of, as both the engine (hal/ backends) and the daemon's wire protocol
 * (daemon/protocol/messages.ts, which re-exports these) see it: chat messages, sampling settings and
 * why a generation finished. Lives below both so that the engine never imports the daemon.
 */

export type ChatRole = "system" | "user" | "assistant";
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** Sampling settings. Temperature 0 means greedy. */
export interface SamplingOptions {
  temperature: number;
  topP?: number | undefined;
  topK?: number | undefined;
  minP?: number | undefined;
  repeatPenalty?: number | undefined;
  seed?: number | undefined;
}

export type FinishReason = "stop" | "length" | "cancelled";
