/**
 * `tinyllamad/client` in a browser (the package's "browser" export condition): the same client over the
 * platform's global WebSocket; the token travels as a WebSocket subprotocol entry (a browser cannot set the header; never in the URL).
 * Needs the page's origin in the daemon's `http.allowedOrigins` unless the daemon serves the page.
 */
import { browserSocket } from "./browserSocket.js";
import { type TinyllamadClientOptions, WebSocketClient } from "./WebSocketClient.js";

export class TinyllamadClient extends WebSocketClient {
  constructor(options: TinyllamadClientOptions) {
    super({ ...options, socket: options.socket ?? browserSocket });
  }
}

export * from "./clientExports.js";
