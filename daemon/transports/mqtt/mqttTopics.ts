/**
 * The MQTT topic layout of one node, and the checks on topics that come from clients: tinyllamad
 * never publishes to a topic with a wildcard, a `$` topic, or anything a payload could abuse.
 */
import { ProtocolError } from "../../protocol/errorCodes.js";

export interface NodeTopics {
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
    request: `${node}/request`,
    cancel: `${node}/cancel`,
    status: `${node}/status`,
    responseFor: (id) => `${node}/response/${id}`,
    fleetRequest: `${baseTopic}/fleet/request`,
    fleetSubscription: (group) => `$share/${group}/${baseTopic}/fleet/request`,
  };
}

const maxTopicBytes = 512;

/** Throws E_BAD_TOPIC unless `topic` is a plain topic a client may ask answers to be sent to. */
export function assertPublishableTopic(topic: string, field: string): void {
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
              : undefined;
  if (problem) throw new ProtocolError("E_BAD_TOPIC", `${field} ${JSON.stringify(topic.slice(0, 80))} ${problem}`);
}

/** Whether a request id can be used as the last level of the default response topic. */
export function isTopicSafeId(id: string): boolean {
  return id.length > 0 && !/[+#/]/.test(id) && !id.includes("\u0000");
}
