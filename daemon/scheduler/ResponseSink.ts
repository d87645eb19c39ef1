import type { ServerMessage } from "../protocol/messages.js";

/** Where the answers of one request go; implemented by each transport. */
export interface ResponseSink {
  send(message: ServerMessage): void;
  /**
   * Who sent the request (a WebSocket connection, an MQTT reply route): the unit of per-client
   * fairness. Requests without one share a single anonymous client.
   */
  readonly client?: string | undefined;
}
