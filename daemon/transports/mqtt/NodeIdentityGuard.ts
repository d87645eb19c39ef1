/**
 * Watches the node's own MQTT client for another instance with the same node id that got past the
 * start-up check (both started at once, or this one was cut off from the broker when the other
 * started). Such instances take the one client id's session from each other on every reconnect;
 * each, on (re)connecting, subscribes to its own status topic and gets the other's retained status.
 * Both compare the same two (started_at, instance) pairs, so they agree: the later-started one stops
 * with NodeIdConflictError (exit 78), the earlier one keeps serving. A v5 DISCONNECT with reason 0x8E
 * (session taken over; EMQX, HiveMQ and newer Mosquitto send it, Mosquitto 2.0.11 only closes the
 * socket) is logged as such rather than as "broker unreachable".
 */
import type { IDisconnectPacket, MqttClient } from "mqtt";
import type { Logger } from "../../logging/createLogger.js";
import { NodeIdConflictError } from "./NodeIdConflictError.js";
import { statusTopicInstance } from "./statusTopicInstance.js";

const sessionTakenOver = 0x8e;

export interface NodeIdentityGuardOptions {
  nodeId: string;
  statusTopic: string;
  instanceId: string;
  /** ISO time this instance started (its status's started_at). */
  startedAt: string;
  /** An instance the start-up check found gone: its leftover retained status is no conflict. */
  staleInstance: string | undefined;
  log: Logger;
  onConflict(error: NodeIdConflictError): void;
}

export class NodeIdentityGuard {
  private stopped = false;

  constructor(private readonly options: NodeIdentityGuardOptions) {}

  watch(client: MqttClient): void {
    const { log, statusTopic } = this.options;
    client.on("connect", () => {
      client.subscribe(statusTopic, { qos: 1 }, (error) => {
        if (error) log.warn({ err: error.message }, "could not watch the status topic for another instance");
      });
    });
    client.on("disconnect", (packet: IDisconnectPacket) => {
      if (packet.reasonCode === sessionTakenOver)
        log.error(
          { nodeId: this.options.nodeId },
          "the broker handed this node's session to another client with the same client id (session taken over)",
        );
    });
    client.on("message", (topic, payload) => {
      if (topic === statusTopic) this.onStatus(client, payload);
    });
  }

  private onStatus(client: MqttClient, payload: Buffer): void {
    const { instanceId, startedAt, staleInstance, nodeId, log } = this.options;
    const publisher = statusTopicInstance(payload);
    if (this.stopped || publisher?.state !== "live") return;
    if (publisher.instance === instanceId || (staleInstance !== undefined && publisher.instance === staleInstance))
      return;
    const other = { instance: publisher.instance ?? "", startedAt: publisher.startedAt ?? "" };
    if (startedEarlier(other, { instance: instanceId, startedAt })) {
      this.stopped = true;
      client.options.reconnectPeriod = 0; // stop taking the session back from the instance that stays
      this.options.onConflict(
        new NodeIdConflictError(
          nodeId,
          `instance ${other.instance || "of an older version"}, started ${other.startedAt || "earlier"}, holds it; this one started ${startedAt}`,
        ),
      );
      return;
    }
    log.warn(
      { otherInstance: publisher.instance ?? null, otherStartedAt: publisher.startedAt ?? null },
      "another instance that started later uses this node id; it stops when it sees this status",
    );
  }
}

/** Whether `a` started before `b`: earlier started_at, then the smaller instance id (a total order both sides share). */
function startedEarlier(
  a: { instance: string; startedAt: string },
  b: { instance: string; startedAt: string },
): boolean {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt;
  return a.instance < b.instance;
}
