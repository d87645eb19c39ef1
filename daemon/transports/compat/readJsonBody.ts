/**
 * Reads a POST body as one JSON object, within limits.maxMessageBytes (the same bound as a WebSocket
 * frame or an MQTT payload): a larger body is refused with 413 as soon as its Content-Length, or its
 * bytes so far, pass the bound, without buffering the rest. Nesting is bounded before JSON.parse, as
 * parseClientMessage does.
 */
import type { IncomingMessage } from "node:http";
import { maxJsonDepth } from "../../protocol/clientMessageSchema.js";
import { jsonNestingDepth } from "../../protocol/jsonNestingDepth.js";
import { ApiRefusal } from "./ApiRefusal.js";

export type JsonBody = { readonly [field: string]: unknown };

export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<JsonBody> {
  const tooLarge = () =>
    new ApiRefusal("E_MESSAGE_TOO_LARGE", `the request body is larger than ${maxBytes} bytes (limits.maxMessageBytes)`);
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (jsonNestingDepth(text, maxJsonDepth) > maxJsonDepth)
    throw new ApiRefusal("E_BAD_REQUEST", `the body nests arrays and objects deeper than ${maxJsonDepth} levels`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiRefusal("E_BAD_JSON", `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ApiRefusal("E_BAD_REQUEST", "the body must be a JSON object");
  return body as JsonBody;
}
