/**
 * One generation over HTTP, the same for every HTTP API: the request goes to the one scheduler (its
 * queue, priorities, per-client share, deadline), and its answers come back through the API's wire.
 *
 * The status line waits for the scheduler's first answer, so a refusal (queue full, not ready, a
 * deadline that passed in the queue, a prompt that does not fit) gets its own HTTP status even on a
 * streamed request; once a piece of text has been sent, an error can only end the stream in the API's
 * way. A client that goes away cancels its request, queued or running, as a WebSocket disconnect does.
 */
import type { ServerResponse } from "node:http";
import type { Logger } from "../../logging/createLogger.js";
import type { DoneMessage, GenerateRequest, ServerMessage } from "../../protocol/messages.js";
import type { Scheduler } from "../../scheduler/Scheduler.js";
import type { AnswerWire, ApiDialect } from "./ApiDialect.js";
import { ApiRefusal } from "./ApiRefusal.js";
import { sendApiError } from "./sendApiError.js";
import { sendApiJson } from "./sendApiJson.js";

export interface GenerationExchange {
  /** The request, with `stream` as the client asked. */
  request: GenerateRequest;
  wire: AnswerWire;
  dialect: ApiDialect;
  scheduler: Scheduler;
  /** The scheduler's client (per-client share and turns): the OpenAI `user`, else the remote address. */
  client: string;
  response: ServerResponse;
  /** Headers every answer carries (CORS). */
  headers: Record<string, string>;
  log: Logger;
}

export function answerGeneration(exchange: GenerationExchange): Promise<void> {
  const { request, wire, response } = exchange;
  const arrivedAt = performance.now();
  const startStream = () => {
    if (response.headersSent) return;
    response.writeHead(200, {
      ...exchange.headers,
      "content-type": wire.streamContentType,
      "cache-control": "no-store",
      // Proxies (nginx) buffer a response unless told not to; a stream must come as it is made.
      "x-accel-buffering": "no",
    });
    response.flushHeaders();
  };
  const write = (bytes: string) => {
    if (!response.writableEnded && !response.destroyed) response.write(bytes);
  };
  const finishDone = (done: DoneMessage) => {
    const elapsedMs = performance.now() - arrivedAt;
    if (request.stream) {
      startStream();
      write(wire.streamEnd(done, elapsedMs));
      response.end();
      return;
    }
    sendApiJson(response, exchange.headers, wire.body(done, elapsedMs));
  };
  const send = (message: ServerMessage) => {
    if (response.writableEnded || response.destroyed) return;
    if (message.type === "token") {
      startStream();
      write(wire.piece(message.text));
    } else if (message.type === "done") finishDone(message);
    else if (message.type === "error") {
      const error = new ApiRefusal(message.error.code, message.error.message);
      if (response.headersSent) {
        write(wire.streamError(error));
        response.end();
      } else sendApiError(response, exchange.dialect, error, exchange.headers);
    }
  };
  const handle = exchange.scheduler.submit(request, { client: exchange.client, send });
  response.once("close", () => {
    if (response.writableFinished) return;
    exchange.log.debug({ id: request.id }, "HTTP client went away; cancelling its request");
    handle.cancel();
  });
  return handle.finished.then(() => undefined);
}
