/**
 * `tinyllamad homeassistant remove`: decommissions a node in Home Assistant. It connects to the
 * configured broker (mqtt.* settings) and publishes an empty retained message on every discovery
 * topic of the node, the ones this version announces and any other of its device the broker still
 * retains, so Home Assistant deletes the device and its entities. A node still running with
 * homeassistant.enabled announces itself again on its next connect: stop it, or set
 * homeassistant.enabled=false (the running node then clears them itself), first.
 */
import { randomUUID } from "node:crypto";
import mqtt from "mqtt";
import { loadConfig } from "../config/loadConfig.js";
import { redactUrlCredentials } from "../config/redactUrlCredentials.js";
import { discoveryFilter, discoveryMessages } from "../homeassistant/homeAssistantDiscovery.js";
import { packageVersion } from "../packageVersion.js";
import { readOptionalFile, readSecretFile } from "../plugins/MqttPlugin.js";
import { nodeClientId, nodeTopics } from "../transports/mqtt/mqttTopics.js";

export interface HomeAssistantCommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const waitMs = 15_000;

export async function runHomeAssistantCommand(args: string[], io: HomeAssistantCommandIo): Promise<number> {
  const [action, ...rest] = args;
  if (action !== "remove") {
    io.stderr.write("usage: tinyllamad homeassistant remove [--config FILE] [--<key> VALUE…]\n");
    return 2;
  }
  const { config } = loadConfig({ argv: rest });
  const { mqtt: settings, homeassistant } = config;
  if (settings.url === "") {
    io.stdout.write(
      "mqtt.url is empty: the node uses its embedded broker, which keeps retained messages only while the node runs; stop the node and nothing remains to remove.\n",
    );
    return 0;
  }
  const prefix = homeassistant.discoveryPrefix;
  const known = discoveryMessages({
    prefix,
    baseTopic: settings.baseTopic,
    nodeId: settings.nodeId,
    version: packageVersion(),
    configurationUrl: undefined,
    ask: true,
    maxPromptChars: config.limits.maxPromptChars,
  }).map((message) => message.topic);
  const client = mqtt.connect(settings.url, {
    clientId: `${nodeClientId(settings.nodeId)}_homeassistant_${randomUUID().slice(0, 8)}`,
    protocolVersion: settings.protocolVersion,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    username: settings.username || undefined,
    password: settings.password || readSecretFile(settings.passwordFile) || undefined,
    ca: readOptionalFile(settings.caFile),
    cert: readOptionalFile(settings.certFile),
    key: readOptionalFile(settings.keyFile),
  });
  try {
    const cleared = await clearDiscovery(client, {
      filter: discoveryFilter(prefix, settings.nodeId),
      known,
      statusTopic: nodeTopics(settings.baseTopic, settings.nodeId).status,
      probeTopic: `${settings.baseTopic}/${settings.nodeId}/homeassistant/remove/${randomUUID()}`,
      onRunningNode: () =>
        io.stderr.write(
          `warning: node ${settings.nodeId} is running; with homeassistant.enabled it announces itself again on its next connect\n`,
        ),
    });
    io.stdout.write(
      `removed node ${settings.nodeId} from Home Assistant: ${cleared} discovery topics cleared under ${prefix}/ on ${redactUrlCredentials(settings.url)}\n`,
    );
    return 0;
  } catch (error) {
    io.stderr.write(`tinyllamad homeassistant remove: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

interface ClearOptions {
  filter: string;
  known: string[];
  statusTopic: string;
  /** A topic only this run uses: once its own message comes back, every retained one has arrived before it. */
  probeTopic: string;
  onRunningNode(): void;
}

/** Clears the known topics and every retained one under the filter; resolves with how many were cleared. */
function clearDiscovery(client: mqtt.MqttClient, options: ClearOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the broker did not answer within ${waitMs / 1000} s`)), waitMs);
    const cleared = new Set<string>();
    const publishes: Promise<unknown>[] = [];
    const clear = (topic: string) => {
      if (cleared.has(topic)) return;
      cleared.add(topic);
      publishes.push(client.publishAsync(topic, "", { qos: 1, retain: true }));
    };
    client.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    client.on("message", (topic, payload) => {
      if (topic === options.statusTopic) {
        const state = (() => {
          try {
            return (JSON.parse(payload.toString("utf8")) as { state?: unknown }).state;
          } catch {
            return undefined;
          }
        })();
        if (payload.length > 0 && state !== "offline") options.onRunningNode();
      } else if (topic === options.probeTopic) {
        Promise.all(publishes).then(
          () => {
            clearTimeout(timer);
            resolve(cleared.size);
          },
          (error: unknown) => {
            clearTimeout(timer);
            reject(error);
          },
        );
      } else if (payload.length > 0) clear(topic);
    });
    client.once("connect", () => {
      client
        .subscribeAsync([options.filter, options.statusTopic, options.probeTopic], { qos: 1 })
        .then(() => {
          for (const topic of options.known) clear(topic);
          return client.publishAsync(options.probeTopic, "probe", { qos: 1 });
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(error);
        });
    });
  });
}
