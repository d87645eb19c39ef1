import type { Backend, BackendInfo, BackendKind } from "../../hal/backends/Backend.js";
import type { SequenceStateEvent } from "../../hal/backends/llamaCpp/SequenceStateStore.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";
import type { NodeStatus } from "../NodeStatus.js";

/** What the daemon gives the backend manager: configuration, logs, status and the metrics' hooks. */
export interface BackendManagerOptions {
  /** The configuration now (a SIGHUP may change it). */
  config: () => TinyllamadConfig;
  /** A logger for a component ("models", "backend", "hal"), with that component's level. */
  logFor: (component: string) => Logger;
  status: NodeStatus;
  /** Aborted when the daemon stops: a start still pulling or loading gives up. */
  signal?: AbortSignal;
  /** Told whenever a backend starts serving (metrics). */
  onServing?: (info: BackendInfo) => void;
  onDecodeBatch?: (sequences: number) => void;
  onSequenceState?: (event: SequenceStateEvent) => void;
  /** Builds an unloaded backend; defaults to the real ones. */
  createBackend?: (kind: BackendKind) => Backend;
}
