/**
 * What an HTTP API request asks for, as the one protocol's generate request: built from the fields the
 * API's translator mapped, plus the tinyllamad headers every HTTP API shares, then checked by the same
 * parser (schemas, limits.maxMaxTokens, limits.maxPromptChars) as a WebSocket or MQTT message, so a
 * request means the same and is bounded the same whatever door it came in by.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { GenerateRequest } from "../../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../../protocol/parseClientMessage.js";
import { ApiRefusal, badField } from "./ApiRefusal.js";

/** The generation fields an API translator fills (protocol names; undefined = the protocol's default). */
export type GenerationFields = Partial<
  Pick<
    GenerateRequest,
    | "prompt"
    | "messages"
    | "max_tokens"
    | "temperature"
    | "top_p"
    | "top_k"
    | "min_p"
    | "repeat_penalty"
    | "seed"
    | "stop"
    | "json_schema"
  >
>;

/** Headers of every HTTP API: the scheduling a JSON body of another API has no field for. */
export const priorityHeader = "x-tinyllamad-priority";
export const deadlineHeader = "x-tinyllamad-deadline-ms";

export function toGenerateRequest(
  fields: GenerationFields,
  options: { idPrefix: string; stream: boolean; headers: IncomingHttpHeaders; limits: ProtocolLimits },
): GenerateRequest {
  const message = {
    type: "generate",
    id: `${options.idPrefix}-${randomUUID()}`,
    ...withoutUndefined(fields),
    stream: options.stream,
    ...schedulingFromHeaders(options.headers),
  };
  const parsed = parseClientMessage(JSON.stringify(message), options.limits);
  if (!parsed.ok) throw ApiRefusal.from(parsed.error);
  if (parsed.message.type !== "generate") throw new ApiRefusal("E_INTERNAL", "not a generate request");
  return parsed.message;
}

function schedulingFromHeaders(headers: IncomingHttpHeaders): { priority?: string; deadline_ms?: number } {
  const result: { priority?: string; deadline_ms?: number } = {};
  const priority = headers[priorityHeader];
  if (typeof priority === "string") {
    if (priority !== "interactive" && priority !== "batch")
      throw badField(priorityHeader, `the ${priorityHeader} header must be "interactive" or "batch"`);
    result.priority = priority;
  }
  const deadline = headers[deadlineHeader];
  if (typeof deadline === "string") {
    if (!/^[1-9][0-9]{0,7}$/.test(deadline.trim()))
      throw badField(deadlineHeader, `the ${deadlineHeader} header must be a whole number of milliseconds`);
    result.deadline_ms = Number(deadline.trim());
  }
  return result;
}

function withoutUndefined(fields: GenerationFields): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}
