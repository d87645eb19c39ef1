/**
 * `tinyllamad/client` in Node: the typed client of the daemon's WebSocket API, over the `ws` package
 * (the token goes in an Authorization header). Browsers get client/browser.ts through the package's
 * "browser" export condition; the MQTT helper is `tinyllamad/client/mqtt`. Nothing here loads the daemon.
 *
 *   const client = new TinyllamadClient({ url: "ws://127.0.0.1:8765/" });
 *   for await (const piece of client.generate({ messages: [{ role: "user", content: "Hi!" }] })) process.stdout.write(piece);
 *   client.close();
 */
import { nodeSocket } from "./nodeSocket.js";
import { type TinyllamadClientOptions, WebSocketClient } from "./WebSocketClient.js";

export class TinyllamadClient extends WebSocketClient {
  constructor(options: TinyllamadClientOptions) {
    super({ ...options, socket: options.socket ?? nodeSocket });
  }
}

export * from "./clientExports.js";
