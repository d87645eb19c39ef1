/**
 * What the MQTT transport lends to other plugins (Home Assistant discovery): the node's own broker
 * connection, so their messages share its login, its session and its last will (the status topic
 * turns "offline" for them too), without a second client id on the broker.
 */
import type { NodeTopics } from "./mqttTopics.js";

export interface NodeMqttLink {
  readonly nodeId: string;
  readonly topics: NodeTopics;
  readonly connected: boolean;
  /** Runs now when connected, and after every (re)connect once the node's own topics are set up. */
  onConnect(listener: () => void): void;
  /**
   * Subscribes at QoS 0 on every (re)connect: a message sent while the node is away is not queued
   * for it (a button pressed an hour ago must not fire at the next start). The handler must not
   * throw; what it throws is logged and dropped.
   */
  subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): void;
  /** Publishes when connected; otherwise drops it (callers publish again in onConnect). */
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): void;
}

/** Whether an MQTT topic filter (with + and # wildcards) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split("/");
  const topicLevels = topic.split("/");
  for (let index = 0; index < filterLevels.length; index += 1) {
    const level = filterLevels[index];
    if (level === "#") return true;
    if (index >= topicLevels.length) return false;
    if (level !== "+" && level !== topicLevels[index]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
