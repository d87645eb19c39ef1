/**
 * The MQTT topic layout of one node, and the checks on topics that come from clients: tinyllamad
 * never publishes to a topic with a wildcard, a `$` topic, or anything a payload could abuse, and
 * never answers into its own tree (`<base>/…`): there a reply would land on its own request, cancel,
 * status or fleet topics, or on another node's, and be taken for a message from a device.
 */
import { ProtocolError } from "../../protocol/errorCodes.js";

export interface NodeTopics {
  /** `<base>`: everything under it belongs to the tinyllamad fleet. */
  base: string;
  request: string;
  cancel: string;
  status: string;
  /** Where answers go when a request names no reply topic. */
  responseFor(id: string): string;
  fleetRequest: string;
  fleetSubscription(group: string): string;
}

export function nodeTopics(baseTopic: string, nodeId: string): NodeTopics {
  const node = `${baseTopic}/${nodeId}`;
  return {
    base: baseTopic,
    request: `${node}/request`,
    cancel: `${node}/cancel`,
    status: `${node}/status`,
    responseFor: (id) => `${node}/response/${id}`,
    fleetRequest: `${baseTopic}/fleet/request`,
    fleetSubscription: (group) => `$share/${group}/${baseTopic}/fleet/request`,
  };
}

/** The node's own MQTT client id (its persistent session; the embedded broker reserves it). */
export function nodeClientId(nodeId: string): string {
  return `tinyllamad_${nodeId}`;
}

const maxTopicBytes = 512;

/**
 * E_BAD_TOPIC unless `topic` is a plain topic a client may ask answers to be sent to: no wildcard,
 * no `$` topic, no NUL, at most 512 bytes, and not under the daemon's base topic. Returns the
 * error rather than throwing: the caller decides where the refusal goes.
 */
export function replyTopicProblem(topic: string, field: string, baseTopic: string): ProtocolError | undefined {
  const problem =
    topic.length === 0
      ? "is empty"
      : /[+#]/.test(topic)
        ? "contains an MQTT wildcard (+ or #)"
        : topic.startsWith("$")
          ? "is a $-topic (broker-reserved, e.g. $SYS)"
          : topic.includes("\u0000")
            ? "contains a NUL character"
            : Buffer.byteLength(topic) > maxTopicBytes
              ? `is longer than ${maxTopicBytes} bytes`
              : isUnder(topic, baseTopic)
                ? `is under '${baseTopic}/', the daemons' own topics (requests, cancels, status, fleet); pick a topic outside it`
                : undefined;
  return problem
    ? new ProtocolError("E_BAD_TOPIC", `${field} ${JSON.stringify(topic.slice(0, 80))} ${problem}`)
    : undefined;
}

/**
 * Whether the node may publish an answer to `topic`: any topic a client was allowed to name, or the
 * node's own default response topics. The last line of defence: nothing in `<base>/` but
 * `<base>/<node>/response/…` ever gets a token or a final answer.
 */
export function isAnswerTopic(topic: string, topics: NodeTopics): boolean {
  if (topic.startsWith(topics.responseFor(""))) return isTopicSafeId(topic.slice(topics.responseFor("").length));
  return replyTopicProblem(topic, "topic", topics.base) === undefined;
}

function isUnder(topic: string, baseTopic: string): boolean {
  return topic === baseTopic || topic.startsWith(`${baseTopic}/`);
}

/** Whether a request id can be used as the last level of the default response topic. */
export function isTopicSafeId(id: string): boolean {
  return id.length > 0 && !/[+#/]/.test(id) && !id.includes("\u0000");
}
