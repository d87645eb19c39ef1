/**
 * The start-up check that makes the second instance of a node id the one that stops: before the
 * node connects its own session (which would take the first instance's over), a short-lived probe
 * client with its own client id reads the node's retained status. A live status from another
 * instance is not proof (a board that lost power leaves one until the broker's keepalive runs out),
 * so the probe waits for that instance to publish again: live instances refresh their status every
 * mqtt.statusIntervalMs. A fresh status → NodeIdConflictError (exit 78); the instance's last will
 * ("offline") or silence for 1.5 intervals → it is gone and start-up goes on. A broker the probe
 * cannot reach or read does not block start-up: the running guard (NodeIdentityGuard) still watches.
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "../../logging/createLogger.js";
import { NodeIdConflictError } from "./NodeIdConflictError.js";
import { statusTopicInstance } from "./statusTopicInstance.js";

export interface NodeIdCheckOptions {
  url: string;
  clientOptions: Pick<IClientOptions, "protocolVersion" | "username" | "password" | "ca" | "cert" | "key">;
  probeClientId: string;
  nodeId: string;
  statusTopic: string;
  /** How often a live instance refreshes its status (this node's mqtt.statusIntervalMs). */
  statusIntervalMs: number;
  log: Logger;
}

/** The instance whose retained status turned out stale (the guard ignores it), if any. */
export interface NodeIdCheckResult {
  staleInstance: string | undefined;
}

const connectWaitMs = 10_000;
/** Retained messages follow the SUBACK at once; this is slack for a slow link. */
const retainedWaitMs = 1_000;

export async function checkNodeIdFree(options: NodeIdCheckOptions): Promise<NodeIdCheckResult> {
  const { log } = options;
  const client = mqtt.connect(options.url, {
    ...options.clientOptions,
    clientId: options.probeClientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: connectWaitMs,
    ...(options.clientOptions.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
  });
  client.on("error", () => undefined); // reported through the failed connect below
  try {
    const connected = await new Promise<boolean>((resolve) => {
      client.once("connect", () => resolve(true));
      client.once("close", () => resolve(false));
    });
    if (!connected) {
      log.warn(
        "could not check whether another instance uses this node id: the broker refused or did not answer the probe",
      );
      return { staleInstance: undefined };
    }
    return await watchStatus(client, options);
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

async function watchStatus(client: MqttClient, options: NodeIdCheckOptions): Promise<NodeIdCheckResult> {
  const { log, nodeId } = options;
  let retained: ReturnType<typeof statusTopicInstance>;
  let fresh: "live" | "offline" | undefined;
  let onFresh: (() => void) | undefined;
  client.on("message", (_topic, payload, packet) => {
    const publisher = statusTopicInstance(payload);
    if (publisher === undefined) return;
    if (packet.retain) retained = publisher;
    else {
      fresh = publisher.state;
      onFresh?.();
    }
  });
  await client.subscribeAsync(options.statusTopic, { qos: 1 });
  await sleepUnless(retainedWaitMs, () => retained !== undefined || fresh !== undefined);
  if (fresh === "live") throw new NodeIdConflictError(nodeId, "its status is being published right now");
  if (retained === undefined || retained.state === "offline" || fresh === "offline")
    return { staleInstance: undefined };
  const waitMs = Math.round(options.statusIntervalMs * 1.5) + retainedWaitMs;
  log.info(
    { instance: retained.instance ?? null, startedAt: retained.startedAt ?? null, waitMs },
    "the retained status names another live instance of this node id; waiting for it to refresh it",
  );
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    onFresh = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  if (fresh === "live")
    throw new NodeIdConflictError(
      nodeId,
      `instance ${retained.instance ?? "of an older version"} refreshed its retained status while this one started`,
    );
  log.info({ instance: retained.instance ?? null }, "that instance is gone (no fresh status); taking over the node id");
  return { staleInstance: retained.instance };
}

async function sleepUnless(ms: number, done: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
}
