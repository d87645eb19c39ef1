/** A SocketFactory over the `ws` package: Node (20 has no global WebSocket), token as a Bearer header. */
import WebSocket from "ws";
import { type ErrorCode, errorCatalogue } from "../protocol/errorCodes.js";
import type { ClientSocket, SocketEvents } from "./ClientSocket.js";

export function nodeSocket(url: string, token: string | undefined, events: SocketEvents): ClientSocket {
  const socket = new WebSocket(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  let opened = false;
  let reported = false;
  const closed = (info: { status?: number; code?: ErrorCode; message: string }) => {
    if (reported) return;
    reported = true;
    events.closed({ wasOpen: opened, ...info });
  };
  socket.on("open", () => {
    opened = true;
    events.open();
  });
  socket.on("message", (data, isBinary) => {
    if (!isBinary) events.message(String(data));
  });
  // A refused upgrade (401 without the token, 503 while stopping or full) carries the protocol's error body.
  socket.on("unexpected-response", (request, response) => {
    let body = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      if (body.length < 4096) body += chunk;
    });
    response.on("end", () => {
      const error = refusalBody(body);
      closed({
        status: response.statusCode,
        code: error.code,
        message: error.message ?? `${url} answered HTTP ${response.statusCode}`,
      });
      request.destroy();
    });
  });
  socket.on("error", (error) => closed({ message: error.message }));
  socket.on("close", (code, reason) =>
    closed({ message: reason.length > 0 ? String(reason) : `the connection closed (${code})` }),
  );
  return {
    send: (text) => socket.send(text),
    close: () => socket.close(),
  };
}

function refusalBody(body: string): { code?: ErrorCode; message?: string } {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    const code = parsed.error?.code;
    const message = parsed.error?.message;
    return {
      ...(typeof code === "string" && code in errorCatalogue ? { code: code as ErrorCode } : {}),
      ...(typeof message === "string" ? { message } : {}),
    };
  } catch {
    return {};
  }
}
