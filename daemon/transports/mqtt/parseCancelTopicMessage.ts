/**
 * Validates a payload of `<base>/<node>/cancel`: `{"id":"…"}`, optionally with `"reply_to"` (the
 * reply topic the request named: it is what proves the cancel comes from the same client) and
 * `"type":"cancel"`. Any other field is refused. Never throws for client input.
 */
import { ProtocolError } from "../../protocol/errorCodes.js";
import { type RoutingFields, routingFieldsOf } from "./salvageRoutingFields.js";

const allowedFields = new Set(["id", "reply_to", "type"]);

export type CancelTopicParse =
  | { ok: true; id: string; replyTo: string | undefined }
  | ({ ok: false; error: ProtocolError } & RoutingFields);

export function parseCancelTopicMessage(payload: Buffer): CancelTopicParse {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString("utf8"));
  } catch (error) {
    return refuse({ id: null, replyTo: undefined }, "E_BAD_JSON", `not valid JSON: ${(error as Error).message}`);
  }
  const fields = routingFieldsOf(body);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return refuse(fields, "E_BAD_REQUEST", 'a cancel must be a JSON object like {"id":"…"}');
  const unknown = Object.keys(body).find((key) => !allowedFields.has(key));
  if (unknown !== undefined)
    return refuse(fields, "E_BAD_REQUEST", `unknown field '${unknown.slice(0, 40)}' (a cancel has id and reply_to)`);
  const record = body as Record<string, unknown>;
  if (Object.hasOwn(record, "type") && record.type !== "cancel")
    return refuse(fields, "E_BAD_REQUEST", "'type' must be \"cancel\" on the cancel topic");
  if (fields.id === null) return refuse(fields, "E_BAD_REQUEST", "'id' must be a string of 1..128 characters");
  if (Object.hasOwn(record, "reply_to") && fields.replyTo === undefined)
    return refuse(fields, "E_BAD_REQUEST", "'reply_to' must be a string");
  return { ok: true, id: fields.id, replyTo: fields.replyTo };
}

function refuse(fields: RoutingFields, code: "E_BAD_JSON" | "E_BAD_REQUEST", message: string): CancelTopicParse {
  return { ok: false, error: new ProtocolError(code, message), ...fields };
}
