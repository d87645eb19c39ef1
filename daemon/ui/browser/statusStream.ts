/**
 * Reads /api/status/stream (Server-Sent Events) with fetch, so the token travels in a header rather
 * than the URL (EventSource cannot send headers). Reconnects after a drop; asks for the token on 401.
 */
import { askForToken, authorizationHeaders, forgetToken, storedToken } from "./tokenStore.js";

export interface StatusStreamHandlers {
  event(name: string, data: unknown): void;
  connection(text: string, connected: boolean): void;
}

export async function followStatusStream(handlers: StatusStreamHandlers): Promise<never> {
  let delayMs = 1000;
  for (;;) {
    try {
      const response = await fetch("/api/status/stream", { headers: authorizationHeaders(), cache: "no-store" });
      if (response.status === 401) {
        if (storedToken() !== null) forgetToken();
        handlers.connection("this node needs its token", false);
        await askForToken();
        continue;
      }
      if (!response.ok || !response.body) throw new Error(`status stream answered ${response.status}`);
      handlers.connection("live", true);
      delayMs = 1000;
      await readEvents(response.body, handlers.event);
      handlers.connection("the node closed the status stream; reconnecting…", false);
    } catch {
      handlers.connection("node unreachable; retrying…", false);
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}

async function readEvents(body: ReadableStream<Uint8Array>, onEvent: StatusStreamHandlers["event"]): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let end = buffered.indexOf("\n\n");
    while (end !== -1) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data.length > 0) onEvent(name, JSON.parse(data));
      end = buffered.indexOf("\n\n");
    }
  }
}
