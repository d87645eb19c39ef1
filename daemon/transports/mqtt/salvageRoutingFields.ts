/**
 * The id and reply_to of a payload that failed validation (or made it throw), so that its refusal
 * can still reach the client. Reads only own properties of the parsed object, never throws.
 */
const maxIdLength = 128;

export interface RoutingFields {
  /** The id, when it is a string of 1..128 characters; else null. */
  id: string | null;
  /** reply_to, when it is a string (whether it is an allowed topic is decided later). */
  replyTo: string | undefined;
}

export function salvageRoutingFields(payload: Buffer): RoutingFields {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString("utf8"));
  } catch {
    return { id: null, replyTo: undefined };
  }
  return routingFieldsOf(body);
}

/** The routing fields of an already parsed JSON value (anything JSON.parse can return). */
function routingFieldsOf(body: unknown): RoutingFields {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { id: null, replyTo: undefined };
  const id = ownString(body, "id");
  return {
    id: id !== undefined && id.length > 0 && id.length <= maxIdLength ? id : null,
    replyTo: ownString(body, "reply_to"),
  };
}

function ownString(body: object, key: string): string | undefined {
  if (!Object.hasOwn(body, key)) return undefined;
  const value: unknown = (body as Record<string, unknown>)[key];
  return typeof value === "string" ? value : undefined;
}
