/**
 * The little a client needs from a WebSocket, so that one client works over Node's `ws` (which can send an
 * Authorization header and report why an upgrade was refused) and over a browser's global WebSocket.
 */
import type { ErrorCode } from "../protocol/errorCodes.js";

export interface SocketClosed {
  /** Whether the socket had opened: a refused or unreachable daemon closes it before. */
  wasOpen: boolean;
  /** The HTTP status of a refused upgrade (401, 403, 503 …), when the platform reveals it (Node). */
  status?: number | undefined;
  /** The daemon's error code from a refused upgrade's body, when the platform reveals it (Node). */
  code?: ErrorCode | undefined;
  message: string;
}

export interface SocketEvents {
  open(): void;
  message(text: string): void;
  /** Called exactly once, whether the socket never opened, the daemon went away or close() was called. */
  closed(info: SocketClosed): void;
}

export interface ClientSocket {
  send(text: string): void;
  close(): void;
}

/** Opens a socket to `url`, presenting `token` (when given) the way the platform allows. */
export type SocketFactory = (url: string, token: string | undefined, events: SocketEvents) => ClientSocket;
