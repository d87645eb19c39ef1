/**
 * A SocketFactory over the platform's global WebSocket (browsers, Deno, Node 22+). A browser cannot set
 * an Authorization header on a WebSocket, so the token goes as a subprotocol entry (protocol/webSocketAuth.ts),
 * never in the URL, where proxies and logs would keep it; nor does a browser reveal why an upgrade was
 * refused, so a refusal reads as "unreachable".
 */
import { webSocketProtocols } from "../protocol/webSocketAuth.js";
import type { ClientSocket, SocketEvents } from "./ClientSocket.js";

/** The part of the WHATWG WebSocket used here (declared, so the client needs no DOM type library). */
interface PlatformWebSocket {
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  send(text: string): void;
  close(): void;
}
type PlatformWebSocketConstructor = new (url: string, protocols: string[]) => PlatformWebSocket;

export function browserSocket(url: string, token: string | undefined, events: SocketEvents): ClientSocket {
  const Socket = (globalThis as { WebSocket?: PlatformWebSocketConstructor }).WebSocket;
  if (Socket === undefined)
    throw new Error("this platform has no global WebSocket: in Node, import TinyllamadClient from 'tinyllamad/client'");
  const socket = new Socket(url, webSocketProtocols(token));
  let opened = false;
  let reported = false;
  socket.addEventListener("open", () => {
    opened = true;
    events.open();
  });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") events.message(event.data);
  });
  socket.addEventListener("close", (event) => {
    if (reported) return;
    reported = true;
    events.closed({
      wasOpen: opened,
      message: event.reason || (opened ? `the connection closed (${event.code})` : `cannot connect to ${url}`),
    });
  });
  return {
    send: (text) => socket.send(text),
    close: () => socket.close(),
  };
}
