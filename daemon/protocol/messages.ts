/**
 * The one protocol every transport speaks (WebSocket, MQTT, HTTP). Transports only move these
 * messages; they never invent their own shapes.
 */
import type { ChatMessage, FinishReason } from "../../protocol/generation.js";
import type { ErrorCode } from "./errorCodes.js";

/** Chat messages, sampling and finish reasons are shared with the engine (protocol/generation.ts). */
export type { ChatMessage, ChatRole, FinishReason, SamplingOptions } from "../../protocol/generation.js";

export type Priority = "interactive" | "batch";

export interface GenerateRequest {
  type: "generate";
  id: string;
  prompt?: string | undefined;
  messages?: ChatMessage[] | undefined;
  max_tokens: number;
  temperature?: number | undefined;
  top_p?: number | undefined;
  top_k?: number | undefined;
  min_p?: number | undefined;
  repeat_penalty?: number | undefined;
  seed?: number | undefined;
  stop?: string[] | undefined;
  json_schema?: Record<string, unknown> | undefined;
  session?: string | undefined;
  priority: Priority;
  deadline_ms?: number | undefined;
  stream: boolean;
  /** MQTT only: where to send answers when the request has no MQTT v5 response topic. */
  reply_to?: string | undefined;
}

export interface CancelRequest {
  type: "cancel";
  id: string;
  /** MQTT only: the reply topic the request named; a cancel reaches only requests of the same reply topic. */
  reply_to?: string | undefined;
}

/** Operator requests; they need the admin token (config admin.token). */
export interface AdminRequest {
  type: "admin";
  id: string;
  token: string;
  action: "swap_model" | "status";
  /** For swap_model: the GGUF file to serve from now on. */
  model_path?: string | undefined;
}

export type ClientMessage = GenerateRequest | CancelRequest | AdminRequest;

export interface TokenMessage {
  type: "token";
  id: string;
  seq: number;
  text: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  /** Prompt tokens served from a cached prefix (same `session`, or a shared prefix) instead of evaluated. */
  cached_prompt_tokens: number;
  /**
   * Prompt tokens evaluated for this request: prompt_tokens − cached_prompt_tokens when the prefill
   * ran to its end; fewer when it was cancelled during the prefill (which stops between chunks).
   */
  evaluated_prompt_tokens: number;
}

export interface Timings {
  queue_ms: number;
  ttft_ms: number | null;
  tokens_per_s: number | null;
}

export interface DoneMessage {
  type: "done";
  id: string;
  text: string;
  finish_reason: FinishReason;
  usage: Usage;
  timings: Timings;
}

export interface ErrorMessage {
  type: "error";
  id: string | null;
  error: { code: ErrorCode; message: string };
}

export interface AdminResultMessage {
  type: "admin_result";
  id: string;
  action: AdminRequest["action"];
  result: Record<string, unknown>;
}

export type ServerMessage = TokenMessage | DoneMessage | ErrorMessage | AdminResultMessage;
export type FinalMessage = DoneMessage | ErrorMessage;

/**
 * How far a node has got with its latest model: pulling it into the store, then loading it into
 * memory. It stays in the status after it ends (`ready` or `failed`) until the next pull or load.
 */
export interface ModelProgress {
  /**
   * `checking`: re-hashing a partial download before resuming it; `downloading`; `verifying`:
   * hashing a complete file against the catalog; `loading`: into memory; `ready`: serving it;
   * `failed`: see `error`.
   */
  phase: "checking" | "downloading" | "verifying" | "loading" | "ready" | "failed";
  /** The model's file name. */
  model: string;
  /** Bytes downloaded (or hashed) so far; null while loading. */
  bytes: number | null;
  /** The file's size; null when the server did not say, and while loading. */
  total_bytes: number | null;
  /** Whole percent of this phase (0–100); null when the size is unknown. */
  percent: number | null;
  /** Download rate of this session in bytes/s while downloading; null otherwise. */
  bytes_per_s: number | null;
  error?: { code: string; message: string } | undefined;
}

/**
 * `pulling`: fetching the model (requests are refused with E_NOT_READY); `loading`: loading it
 * (requests wait); `online`: serving; `offline`: gone (the last will, or a clean stop).
 */
export type NodeState = "pulling" | "loading" | "online" | "offline";

/** The retained message on an MQTT node's status topic while it is connected. */
/**
 * A model swap in progress. "side-by-side": the new model loads while the old one serves;
 * "unload-first": the two do not fit the board's memory together (need_bytes > have_bytes), so the
 * old one is drained and freed first, and requests wait in the queue until the new one is loaded.
 */
export interface SwapProgress {
  mode: "side-by-side" | "unload-first";
  from: string;
  to: string;
  /** Estimated memory for both models at once. */
  need_bytes: number;
  /** Memory the board had for models (available at start-up, before the first load); null: unknown. */
  have_bytes: number | null;
}

export interface NodeStatusMessage {
  type: "status";
  /** "degraded": the MQTT delivery ledger cannot be written; new MQTT requests wait at the broker. */
  state: Exclude<NodeState, "offline"> | "degraded";
  node: string;
  version: string;
  /** The model being served (file name); null until one is loaded. */
  model: string | null;
  backend: string | null;
  threads: number | null;
  tokens_per_s: number | null;
  temperature_celsius: number | null;
  thermal_pause: boolean;
  throttled: boolean;
  fallbacks: number;
  model_progress: ModelProgress | null;
  /** Present while a model swap runs: how (see SwapProgress). */
  swap?: SwapProgress;
  queue: { queued: number; running: number };
  requests: { completed: number; failed: number; cancelled: number };
  fleet: boolean;
  /** The MQTT delivery ledger: "degraded" with the disk's error code while it cannot be written. */
  ledger: { state: "ok" } | { state: "degraded"; reason: string };
  uptime_s: number;
  updated_at: string;
  /** This run of the daemon (random per start) and when it started: how two instances of one node id tell each other apart. */
  instance?: string;
  started_at?: string;
}

/** The status topic's message once the node is gone: its last will, or what a clean stop publishes. */
export interface NodeOfflineMessage {
  type: "status";
  state: "offline";
  node: string;
}

export type StatusTopicMessage = NodeStatusMessage | NodeOfflineMessage;
