/**
 * Where a message's answers (or its refusal) go: the one place that decides it.
 *
 * In order: the MQTT 5 Response Topic (with its Correlation Data), else `reply_to` from the payload,
 * else the node's default `<base>/<node>/response/<id>`. A named topic that is not allowed (see
 * replyTopicProblem) refuses the message with E_BAD_TOPIC; that refusal still goes to the next
 * usable route, so the client learns why. The route is also the client's identity for cancels.
 */
import { ProtocolError } from "../../protocol/errorCodes.js";
import type { ReplyTarget } from "./ledgerRecords.js";
import { isTopicSafeId, type NodeTopics, replyTopicProblem } from "./mqttTopics.js";

export interface ReplyRouteSources {
  /** The packet's MQTT 5 Response Topic. */
  responseTopic: string | undefined;
  /** The packet's MQTT 5 Correlation Data, base64. */
  correlationData: string | undefined;
  /** `reply_to` from the payload, when it was a string (validated or salvaged from a bad payload). */
  replyTo: string | undefined;
  /** The message's id, when it had a usable one. */
  id: string | null;
}

export type ReplyRouteDecision =
  | { ok: true; route: ReplyTarget }
  /** The message must be refused with `error`; `fallback` is where that refusal can go, if anywhere. */
  | { ok: false; error: ProtocolError; fallback: ReplyTarget | undefined };

export function decideReplyRoute(sources: ReplyRouteSources, topics: NodeTopics): ReplyRouteDecision {
  const { responseTopic, correlationData, replyTo, id } = sources;
  const named: Array<[field: string, topic: string]> = [];
  if (responseTopic !== undefined) named.push(["response topic", responseTopic]);
  if (replyTo !== undefined) named.push(["reply_to", replyTo]);
  let refusal: ProtocolError | undefined;
  for (const [field, topic] of named) {
    const problem = replyTopicProblem(topic, field, topics.base);
    if (problem === undefined) {
      const route = { topic, correlationData };
      return refusal === undefined ? { ok: true, route } : { ok: false, error: refusal, fallback: route };
    }
    refusal ??= problem;
  }
  const defaultRoute =
    id !== null && isTopicSafeId(id) ? { topic: topics.responseFor(id), correlationData } : undefined;
  if (refusal !== undefined) return { ok: false, error: refusal, fallback: defaultRoute };
  if (defaultRoute !== undefined) return { ok: true, route: defaultRoute };
  return {
    ok: false,
    error: new ProtocolError(
      "E_BAD_REQUEST",
      "this id cannot be part of a topic (it has /, + or #): give reply_to or an MQTT 5 response topic",
    ),
    fallback: undefined,
  };
}
