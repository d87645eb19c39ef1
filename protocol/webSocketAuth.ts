/**
 * How a WebSocket client that cannot set headers (a browser) presents the token: the subprotocols
 * `tinyllamad` and `tinyllamad.bearer.<base64url token, no padding>` (as Kubernetes does). The server
 * picks `tinyllamad`, so the token is never echoed back, and it stays out of URLs and access logs.
 * Shared by the daemon (which reads it) and the client (which sends it). The built-in page's browser
 * code (daemon/ui/browser/tokenStore.ts) writes the same form; it is compiled apart from this tree.
 */

/** The subprotocol browsers name; the server always picks it. */
export const webSocketSubprotocol = "tinyllamad";
/** The prefix of the subprotocol entry that carries the token. */
export const bearerSubprotocolPrefix = "tinyllamad.bearer.";

/** The subprotocol list for `new WebSocket(url, protocols)`, carrying `token` when there is one. */
export function webSocketProtocols(token: string | undefined): string[] {
  return token ? [webSocketSubprotocol, `${bearerSubprotocolPrefix}${base64url(token)}`] : [webSocketSubprotocol];
}

function base64url(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
