import type { Backend } from "../../hal/backends/Backend.js";
import { ProtocolError } from "../protocol/errorCodes.js";
import type { GenerateRequest } from "../protocol/messages.js";
import { promptTooLong } from "./promptTooLong.js";

/** What the admission checks read of the scheduler at the moment a request arrives. */
export interface AdmissionState {
  accepting: boolean;
  /** Set while the model is being pulled (minutes): requests are refused rather than left waiting. */
  notReadyReason: string | undefined;
  backend: Backend | undefined;
  maxQueue: number;
  hasRoom(client?: string): boolean;
  heldBy(client: string): number;
  perClientLimit(): number;
}

/**
 * Why a new request is refused before it is queued, or undefined when it is admitted. The checks
 * run in this order, cheapest and most general first, so a request gets the refusal that tells its
 * sender most: stopping, not ready, a prompt its context cannot hold, the shared queue full, its
 * client's share of the queue full.
 */
export function admissionRefusal(
  request: GenerateRequest,
  client: string,
  state: AdmissionState,
): ProtocolError | undefined {
  if (!state.accepting) return new ProtocolError("E_SHUTTING_DOWN");
  if (state.notReadyReason !== undefined) return new ProtocolError("E_NOT_READY", state.notReadyReason);
  const tooLong = promptTooLong(state.backend, request);
  if (tooLong !== undefined) return tooLong;
  if (!state.hasRoom()) return new ProtocolError("E_QUEUE_FULL", `the queue is full (${state.maxQueue} waiting)`);
  if (!state.hasRoom(client)) {
    const held = `${state.heldBy(client)} requests waiting or running`;
    const message = `this client's share of the queue is full: it has ${held}, the most one client may (${state.perClientLimit()}, scheduler.maxQueueSharePerClient); retry when one ends`;
    return new ProtocolError("E_QUEUE_FULL", message);
  }
  return undefined;
}
