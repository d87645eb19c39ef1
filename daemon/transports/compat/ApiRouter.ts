/**
 * The routes of one HTTP API on the daemon's HTTP server, with what every route of every HTTP API
 * does first: the bearer token (http.token; Host and Origin were checked by the server's policy before
 * this), CORS headers for the origins of http.allowedOrigins (and their preflights), the body read
 * within limits.maxMessageBytes, and every refusal answered in the API's own error shape with the
 * status of httpStatusForCode. An unexpected exception is logged and answered E_INTERNAL.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../logging/createLogger.js";
import { isProtocolError } from "../../protocol/errorCodes.js";
import type { HttpServer } from "../http/HttpServer.js";
import { bearerTokenMatches } from "../transportSecurity.js";
import type { ApiDialect } from "./ApiDialect.js";
import { ApiRefusal } from "./ApiRefusal.js";
import { type JsonBody, readJsonBody } from "./readJsonBody.js";
import { sendApiError } from "./sendApiError.js";
import { deadlineHeader, priorityHeader } from "./toGenerateRequest.js";

export interface ApiCall {
  request: IncomingMessage;
  response: ServerResponse;
  /** The JSON body of a POST; empty for a GET. */
  body: JsonBody;
  /** Headers every answer to this call carries (CORS). */
  headers: Record<string, string>;
}

export type ApiHandler = (call: ApiCall) => Promise<void> | void;

export interface ApiRouterOptions {
  http: HttpServer;
  dialect: ApiDialect;
  /** Read per request, so a reload's values apply. */
  settings: () => { token: string; allowedOrigins: readonly string[]; maxBodyBytes: number };
  log: Logger;
}

export class ApiRouter {
  constructor(private readonly options: ApiRouterOptions) {}

  get(path: string, handler: ApiHandler): void {
    this.options.http.get(path, (request, response) => this.handle(request, response, handler, false));
    this.options.http.preflight(path, (request, response) => this.preflight(request, response, "GET"));
  }

  post(path: string, handler: ApiHandler): void {
    this.options.http.post(path, (request, response) => this.handle(request, response, handler, true));
    this.options.http.preflight(path, (request, response) => this.preflight(request, response, "POST"));
  }

  private async handle(
    request: IncomingMessage,
    response: ServerResponse,
    handler: ApiHandler,
    hasBody: boolean,
  ): Promise<void> {
    const settings = this.options.settings();
    const headers = corsHeaders(request, settings.allowedOrigins);
    try {
      if (settings.token.length > 0 && !bearerTokenMatches(request, settings.token)) {
        this.options.log.warn(
          { remote: request.socket.remoteAddress },
          "HTTP API request refused: bad or missing token",
        );
        throw new ApiRefusal("E_UNAUTHORIZED", "a valid bearer token is required (Authorization: Bearer …)");
      }
      const body = hasBody ? await readJsonBody(request, settings.maxBodyBytes) : {};
      await handler({ request, response, body, headers });
    } catch (error) {
      if (!isProtocolError(error)) {
        this.options.log.error(
          { err: error, path: request.url?.split("?")[0] },
          "unexpected error in an HTTP API route",
        );
      }
      const refusal = isProtocolError(error)
        ? ApiRefusal.from(error)
        : new ApiRefusal("E_INTERNAL", "an unexpected internal error; the daemon logged it and keeps serving");
      if (!response.headersSent) sendApiError(response, this.options.dialect, refusal, headers);
      else response.end();
    }
  }

  /** A browser's CORS preflight: allowed for the origins of http.allowedOrigins only. */
  private preflight(request: IncomingMessage, response: ServerResponse, method: string): void {
    const headers = corsHeaders(request, this.options.settings().allowedOrigins);
    if (headers["access-control-allow-origin"] === undefined) {
      response.writeHead(403, { "content-type": "text/plain" });
      response.end("CORS is off for this origin (http.allowedOrigins)");
      return;
    }
    response.writeHead(204, {
      ...headers,
      "access-control-allow-methods": `${method}, OPTIONS`,
      "access-control-allow-headers":
        request.headers["access-control-request-headers"] ??
        `authorization, content-type, ${priorityHeader}, ${deadlineHeader}`,
      "access-control-max-age": "600",
    });
    response.end();
  }
}

/** CORS headers for a request whose Origin is one of http.allowedOrigins (or "*"); none otherwise. */
function corsHeaders(request: IncomingMessage, allowedOrigins: readonly string[]): Record<string, string> {
  const origin = request.headers.origin;
  if (origin === undefined || allowedOrigins.length === 0) return {};
  const allowed = allowedOrigins.includes("*") || allowedOrigins.some((entry) => sameOrigin(entry, origin));
  return allowed ? { "access-control-allow-origin": origin, vary: "Origin" } : {};
}

function sameOrigin(a: string, b: string): boolean {
  if (!URL.canParse(a) || !URL.canParse(b)) return a.trim().toLowerCase() === b.trim().toLowerCase();
  return new URL(a).origin === new URL(b).origin;
}
