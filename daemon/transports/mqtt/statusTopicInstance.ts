/**
 * Reads who published a message on a node's status topic: the instance id (random per start) and
 * start time a live tinyllamad puts in its retained status, or "offline" for its last will and clean
 * stop. Anything else (not JSON, another node's, an older version's status without an instance) is
 * a live status of an unknown instance.
 */
export type StatusPublisher =
  | { state: "offline" }
  | { state: "live"; instance: string | undefined; startedAt: string | undefined };

export function statusTopicInstance(payload: Buffer): StatusPublisher | undefined {
  let message: unknown;
  try {
    message = JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof message !== "object" || message === null) return undefined;
  const fields = message as Record<string, unknown>;
  if (fields.type !== "status") return undefined;
  if (fields.state === "offline") return { state: "offline" };
  return {
    state: "live",
    instance: typeof fields.instance === "string" ? fields.instance : undefined,
    startedAt: typeof fields.started_at === "string" ? fields.started_at : undefined,
  };
}
