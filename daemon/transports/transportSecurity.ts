/** Authentication shared by the HTTP-based transports. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { ProtocolError } from "../protocol/errorCodes.js";

/** A transport that listens beyond loopback must require a token (config keys named for the message). */
export function assertTokenWhenExposed(hostKey: string, host: string, tokenKey: string, token: string): void {
  if (!isLoopbackHost(host) && token.length === 0) {
    const envName = `TINYLLAMAD_${tokenKey.replace(".", "_").toUpperCase()}`;
    throw new ProtocolError(
      "E_UNAUTHORIZED",
      `${hostKey} is ${host}, beyond loopback: set ${tokenKey} (${envName}) so that clients must authenticate`,
    );
  }
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1" || host === "[::1]") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

import { bearerSubprotocolPrefix } from "../../protocol/webSocketAuth.js";

export { bearerSubprotocolPrefix, webSocketSubprotocol } from "../../protocol/webSocketAuth.js";

/**
 * Accepts `Authorization: Bearer TOKEN`, a WebSocket subprotocol `tinyllamad.bearer.<base64url TOKEN>`
 * (what a browser page can send: it keeps the token out of the URL), or `?token=TOKEN`; compares in
 * constant time. An empty expected token matches nothing (an unset token is not a password everyone knows).
 */
export function bearerTokenMatches(request: IncomingMessage, expected: string): boolean {
  if (expected.length === 0) return false;
  const header = request.headers.authorization;
  const target = request.url ?? "/";
  let presented: string | null = null;
  if (header?.startsWith("Bearer ")) presented = header.slice("Bearer ".length).trim();
  else presented = subprotocolToken(request.headers["sec-websocket-protocol"]);
  if (presented === null && URL.canParse(target, "http://localhost"))
    presented = new URL(target, "http://localhost").searchParams.get("token");
  if (presented === null) return false;
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function subprotocolToken(header: string | undefined): string | null {
  const entry = header
    ?.split(",")
    .map((protocol) => protocol.trim())
    .find((protocol) => protocol.startsWith(bearerSubprotocolPrefix));
  return entry === undefined ? null : Buffer.from(entry.slice(bearerSubprotocolPrefix.length), "base64url").toString();
}
