/** The error catalogue, for the daemon's parts: it lives in protocol/errorCodes.ts (below engine and daemon). */
export { type ErrorCode, errorCatalogue, isProtocolError, ProtocolError } from "../../protocol/errorCodes.js";
