/**
 * The MQTT requests this node is serving now, by request key (reply route + id). A cancel names an
 * id; it reaches only a request whose reply topic is the cancel's own reply topic, so a client can
 * cancel its own requests and never another client's (the reply route is the client's identity:
 * MQTT does not tell the node who published a message).
 */
import type { RequestHandle } from "../../scheduler/Scheduler.js";
import type { ReplyTarget } from "./DeliveryLedger.js";

export interface InFlightRequest {
  id: string;
  route: ReplyTarget;
  /** The request as received, to tell a redelivery (same bytes) from a reused id. */
  payload: string;
  handle: RequestHandle;
  /** Taken back from the queue at shutdown: its final message (cancelled) is not an answer. */
  withdrawn: boolean;
}

export class InFlightRequests {
  private readonly byKey = new Map<string, InFlightRequest>();

  get(key: string): InFlightRequest | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  add(key: string, request: InFlightRequest): void {
    this.byKey.set(key, request);
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }

  /** Takes back every request still waiting in the scheduler's queue (shutdown); returns how many. */
  withdrawQueued(): number {
    let count = 0;
    for (const request of [...this.byKey.values()]) {
      if (request.handle.started) continue;
      request.withdrawn = true;
      request.handle.cancel();
      count += 1;
    }
    return count;
  }

  /** Cancels the request `id` that answers on `replyTopic`; false when there is none. */
  cancel(id: string, replyTopic: string): boolean {
    let found = false;
    for (const request of this.byKey.values()) {
      if (request.id !== id || request.route.topic !== replyTopic) continue;
      request.handle.cancel();
      found = true;
    }
    return found;
  }
}
