/**
 * MQTT: the embedded broker when mqtt.url is empty, the node-id check, the delivery ledger and the
 * transport. Started before the model so the retained status topic shows the pull and the load.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TinyllamadConfig } from "../config/configSchema.js";
import { redactUrlCredentials } from "../config/redactUrlCredentials.js";
import { resolveStateDirectory } from "../stateDirectory.js";
import { checkNodeIdFree } from "../transports/mqtt/checkNodeIdFree.js";
import { DeliveryLedger } from "../transports/mqtt/DeliveryLedger.js";
import { assertEmbeddedBrokerLogin, EmbeddedBroker } from "../transports/mqtt/EmbeddedBroker.js";
import { MqttTransport } from "../transports/mqtt/MqttTransport.js";
import { nodeClientId, nodeTopics } from "../transports/mqtt/mqttTopics.js";
import { NodeIdentityGuard } from "../transports/mqtt/NodeIdentityGuard.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

export function readOptionalFile(path: string): Buffer | undefined {
  return path.length > 0 ? readFileSync(path) : undefined;
}

export function readSecretFile(path: string): string {
  return path.length > 0 ? (readFileSync(path, "utf8").split("\n")[0] ?? "").trim() : "";
}

export class MqttPlugin implements DaemonPlugin {
  readonly name = "mqtt";
  readonly phase = "before-model";
  private broker: EmbeddedBroker | undefined;
  private transport: MqttTransport | undefined;
  private url: string | undefined;

  enabled(config: TinyllamadConfig): boolean {
    return config.mqtt.enabled;
  }

  check(config: TinyllamadConfig): void {
    const { mqtt } = config;
    if (mqtt.url === "")
      assertEmbeddedBrokerLogin(mqtt.embeddedHost, mqtt.username, mqtt.password || readSecretFile(mqtt.passwordFile));
  }

  async start(context: DaemonContext): Promise<void> {
    const config = context.config();
    const { mqtt } = config;
    const log = context.logFor("mqtt");
    let url = mqtt.url;
    let protocolVersion = mqtt.protocolVersion;
    let fleet = mqtt.fleet;
    const password = mqtt.password || readSecretFile(mqtt.passwordFile);
    let login = { username: mqtt.username, password };
    if (url.length === 0) {
      this.broker = new EmbeddedBroker({
        host: mqtt.embeddedHost,
        port: mqtt.embeddedPort,
        username: mqtt.username,
        password,
        ownClientId: nodeClientId(mqtt.nodeId),
        ownTopics: nodeTopics(mqtt.baseTopic, mqtt.nodeId),
      });
      await this.broker.start();
      url = this.broker.url;
      // The node logs in to its own broker with the login only it knows (see EmbeddedBroker).
      login = this.broker.ownLogin;
      if (protocolVersion === 5 || fleet)
        log.info(
          { url },
          "embedded broker started; it speaks MQTT 3.1.1 only, so replies use reply_to and fleet sharing is off (set mqtt.url to a Mosquitto for MQTT 5)",
        );
      protocolVersion = 4;
      fleet = false;
    }
    this.url = url;
    // Before the ledger or the node's own session is touched: a second instance of this node id stops here.
    const instance = { id: randomUUID(), startedAt: new Date(context.status.startedAt).toISOString() };
    const statusTopic = nodeTopics(mqtt.baseTopic, mqtt.nodeId).status;
    const tls = {
      ca: readOptionalFile(mqtt.caFile),
      cert: readOptionalFile(mqtt.certFile),
      key: readOptionalFile(mqtt.keyFile),
    };
    const { staleInstance } =
      this.broker === undefined
        ? await checkNodeIdFree({
            url,
            clientOptions: {
              protocolVersion,
              username: login.username || undefined,
              password: login.password || undefined,
              ...tls,
            },
            probeClientId: `${nodeClientId(mqtt.nodeId)}_probe_${instance.id.slice(0, 8)}`,
            nodeId: mqtt.nodeId,
            statusTopic,
            statusIntervalMs: mqtt.statusIntervalMs,
            log,
          })
        : { staleInstance: undefined }; // the embedded broker is this node's alone and reserves its client id
    const identityGuard = new NodeIdentityGuard({
      nodeId: mqtt.nodeId,
      statusTopic,
      instanceId: instance.id,
      startedAt: instance.startedAt,
      staleInstance,
      log,
      onConflict: (error) => {
        // The status topic is the other instance's now: stopping must not overwrite it with "offline".
        this.transport?.relinquishStatusTopic();
        context.fatal(error);
      },
    });
    const stateDirectory = resolveStateDirectory(config.state.directory);
    const ledger = new DeliveryLedger({
      path: join(stateDirectory, "mqtt", `ledger-${mqtt.nodeId}.jsonl`),
      legacyPath: join(stateDirectory, `mqtt-journal-${mqtt.nodeId}.jsonl`),
      dedupeWindowMs: mqtt.dedupeWindowSeconds * 1000,
      maxBytes: mqtt.journalMaxBytes,
      log,
    });
    const transport = new MqttTransport({
      url,
      protocolVersion,
      nodeId: mqtt.nodeId,
      baseTopic: mqtt.baseTopic,
      username: login.username,
      password: login.password,
      ...tls,
      instance,
      watchClient: (client) => identityGuard.watch(client),
      sessionExpirySeconds: mqtt.sessionExpirySeconds,
      tokenQos: mqtt.tokenQos,
      statusIntervalMs: mqtt.statusIntervalMs,
      fleet,
      fleetGroup: mqtt.fleetGroup,
      // Fleet requests held beyond the queue: as many as the queue itself takes (at least one).
      fleetReceiveMaximum: Math.max(1, config.scheduler.maxQueue),
      maxMessageBytes: config.limits.maxMessageBytes,
      limits: context.limits,
      scheduler: context.scheduler,
      ledger,
      log,
      onDegradedChange: (degraded) => context.metrics.setMqttLedgerDegraded(degraded),
      admin: (request) => context.admin(request),
      status: () => context.status.mqttFigures(),
    });
    this.transport = transport;
    context.shared.mqtt = transport.link();
    context.status.readFrom({ mqtt: () => ({ connected: transport.connected, fleet: transport.fleetMember }) });
    // State, model progress and swaps are published at once; queue changes the transport throttles itself.
    context.status.on("change", () => {
      // Stopping: the clean stop publishes "offline" itself; nothing in between.
      if (context.status.state !== "stopping" && context.status.state !== "stopped") transport.publishStatus();
    });
    await transport.start();
  }

  async stopAccepting(): Promise<void> {
    await this.transport?.stopAccepting();
  }

  async stop(): Promise<void> {
    await this.transport?.stop();
    await this.broker?.stop();
  }

  address(): string | undefined {
    return this.url === undefined ? undefined : redactUrlCredentials(this.url);
  }

  /** The broker address in use (the embedded broker's when mqtt.url is empty). */
  get brokerUrl(): string | undefined {
    return this.url;
  }
}
