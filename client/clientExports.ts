/** What both entry points of `tinyllamad/client` (Node and browser) export besides the client itself. */
export type {
  ChatMessage,
  ChatRole,
  DoneMessage,
  ErrorMessage,
  FinishReason,
  GenerateRequest,
  Priority,
  ServerMessage,
  Timings,
  TokenMessage,
  Usage,
} from "../daemon/protocol/messages.js";
export { type ErrorCode, errorCatalogue } from "../protocol/errorCodes.js";
export type { ClientSocket, SocketClosed, SocketEvents, SocketFactory } from "./ClientSocket.js";
export { Generation } from "./Generation.js";
export type { CallOptions, GenerateOptions } from "./generateOptions.js";
export { TinyllamadError } from "./TinyllamadError.js";
export type { TinyllamadClientOptions } from "./WebSocketClient.js";
