/** What a client's promise rejects with when the daemon (or the way to it) fails a request: a stable code. */
import { type ErrorCode, errorCatalogue } from "../protocol/errorCodes.js";

export class TinyllamadError extends Error {
  override readonly name = "TinyllamadError";
  constructor(
    /** From the one catalogue (docs/protocol.md, "Error codes"). */
    readonly code: ErrorCode,
    message: string = errorCatalogue[code],
    /** The request's id, when the error belongs to one. */
    readonly requestId?: string,
  ) {
    super(message);
  }
}
