/**
 * The MQTT transport: devices publish requests to `<base>/<node>/request` (or the fleet topic,
 * consumed through a shared subscription) and get answers on their v5 response topic, their
 * `reply_to`, or `<base>/<node>/response/<id>`. A request is acknowledged to the broker only once
 * it is in the delivery ledger, and an answer counts as delivered only on the broker's PUBACK, so
 * none is lost across a crash, a broker outage or a full disk (see docs/mqtt.md, "Delivery
 * guarantees").
 *
 * Two connections when fleet sharing is on: the node's own (its request and cancel topics, every
 * answer, the retained status) and one for the fleet's shared subscription alone, whose Receive
 * Maximum is the node's room for queued work. Fleet requests the node has no room for are held
 * unacknowledged there, so the broker stops sending more and keeps the excess; the node's own
 * topics never wait behind them.
 */
import { type IClientOptions, type MqttClient, UniqueMessageIdProvider } from "mqtt";
import { redactUrlCredentials } from "../../config/redactUrlCredentials.js";
import type { Logger } from "../../logging/createLogger.js";
import type { NodeStatusFigures } from "../../NodeStatus.js";
import type { AdminRequest, NodeOfflineMessage, NodeStatusMessage, ServerMessage } from "../../protocol/messages.js";
import type { ProtocolLimits } from "../../protocol/parseClientMessage.js";
import type { Scheduler } from "../../scheduler/Scheduler.js";
import { AnswerPublisher } from "./AnswerPublisher.js";
import { AnswerStore } from "./AnswerStore.js";
import { BrokerConnection } from "./BrokerConnection.js";
import type { DeliveryLedger } from "./DeliveryLedger.js";
import { MqttRequestHandler } from "./MqttRequestHandler.js";
import { type NodeTopics, nodeClientId, nodeTopics } from "./mqttTopics.js";
import { type NodeMqttLink, topicMatches } from "./NodeMqttLink.js";

export interface MqttTransportOptions {
  url: string;
  protocolVersion: 4 | 5;
  nodeId: string;
  baseTopic: string;
  username: string;
  password: string;
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  sessionExpirySeconds: number;
  tokenQos: 0 | 1;
  statusIntervalMs: number;
  /** Take fleet requests through the shared subscription (MQTT 5 brokers only). */
  fleet: boolean;
  fleetGroup: string;
  /** The most fleet requests held unacknowledged beyond the scheduler's queue: the fleet connection's Receive Maximum. */
  fleetReceiveMaximum: number;
  maxMessageBytes: number;
  limits: ProtocolLimits;
  scheduler: Scheduler;
  ledger: DeliveryLedger;
  log: Logger;
  /** Answers operator requests (model swap, status); checks the admin token itself. */
  admin?: (request: AdminRequest) => Promise<ServerMessage>;
  /** The node's figures for the retained status message (NodeStatus.mqttFigures). */
  status(): NodeStatusFigures;
  /** This run's identity in the status (random per start; see NodeIdentityGuard). */
  instance?: { id: string; startedAt: string };
  /** Given the client before it connects, to watch it (NodeIdentityGuard). */
  watchClient?: (client: MqttClient) => void;
  /** Told when the ledger turns degraded (true) or writable again (false), for metrics. */
  onDegradedChange?: (degraded: boolean) => void;
}

/** The node connection's Receive Maximum: requests held only while the ledger cannot record them. */
const nodeReceiveMaximum = 64;
const firstConnectWaitMs = 10_000;

export class MqttTransport {
  private node: BrokerConnection | undefined;
  private fleet: BrokerConnection | undefined;
  private readonly topics: NodeTopics;
  private readonly answers: AnswerPublisher;
  private readonly store: AnswerStore;
  private readonly handler: MqttRequestHandler;
  private accepting = false;
  /** False once another instance holds this node id: nothing more is published on its status topic. */
  private ownsStatusTopic = true;
  private replayed = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusThrottle: NodeJS.Timeout | undefined;
  private readonly lent: { filter: string; handler: (topic: string, payload: Buffer) => void }[] = [];
  private readonly connectListeners: (() => void)[] = [];
  private readonly retryHeld = () => {
    this.node?.retryHeld();
    this.fleet?.retryHeld();
  };
  private readonly onLoad = () => {
    this.fleet?.retryHeld();
    this.scheduleStatus();
  };
  private readonly onDegraded = () => {
    this.options.onDegradedChange?.(true);
    this.publishStatus();
  };
  private readonly onRecovered = () => {
    this.options.onDegradedChange?.(false);
    this.retryHeld();
    this.publishStatus();
  };

  constructor(private readonly options: MqttTransportOptions) {
    this.topics = nodeTopics(options.baseTopic, options.nodeId);
    this.store = new AnswerStore(options.ledger);
    this.answers = new AnswerPublisher({
      store: this.store,
      client: () => this.node?.client,
      topics: this.topics,
      protocolVersion: options.protocolVersion,
      ledger: options.ledger,
      log: options.log,
    });
    this.handler = new MqttRequestHandler({
      topics: this.topics,
      maxMessageBytes: options.maxMessageBytes,
      limits: options.limits,
      tokenQos: options.tokenQos,
      scheduler: options.scheduler,
      ledger: options.ledger,
      answers: this.answers,
      log: options.log,
      admin: options.admin,
    });
  }

  /**
   * Another instance with this node id keeps serving (NodeIdentityGuard): its retained status must
   * stay, so this one publishes no further status, not even the "offline" of a clean stop.
   */
  relinquishStatusTopic(): void {
    this.ownsStatusTopic = false;
    clearInterval(this.statusTimer);
    clearTimeout(this.statusThrottle);
  }

  get connected(): boolean {
    return this.node?.connected ?? false;
  }

  /** Taking fleet-wide requests now: the fleet connection is up and the node accepts work (as the status says). */
  get fleetMember(): boolean {
    return this.fleet?.connected === true && this.accepting;
  }

  async start(): Promise<void> {
    const o = this.options;
    this.accepting = true;
    const pending = o.ledger.open();
    this.store.restore(pending);
    const node = new BrokerConnection({
      url: o.url,
      role: "node",
      log: o.log,
      clientOptions: {
        ...this.clientOptions(nodeClientId(o.nodeId), nodeReceiveMaximum, true),
        // Packet ids of answers resent from the store stay reserved until the broker completes them.
        outgoingStore: this.store,
        messageIdProvider: new UniqueMessageIdProvider(),
      },
      onMessage: (packet) => (this.takeLent(packet.topic, packet.payload) ? "ack" : this.handler.onMessage(packet)),
      onConnect: (sessionPresent) => this.onNodeConnect(sessionPresent, pending),
      ...(o.watchClient ? { watch: o.watchClient } : {}),
    });
    this.node = node;
    node.client.on("offline", () =>
      o.log.warn({ url: redactUrlCredentials(o.url) }, "MQTT broker unreachable; reconnecting"),
    );
    node.client.on("error", (error) => o.log.warn({ err: error.message }, "MQTT client error"));
    if (o.fleet && o.protocolVersion === 5) {
      const fleetTopic = this.topics.fleetSubscription(o.fleetGroup);
      const fleet = new BrokerConnection({
        url: o.url,
        role: "fleet",
        log: o.log,
        clientOptions: this.clientOptions(`${nodeClientId(o.nodeId)}_fleet`, o.fleetReceiveMaximum, false),
        onMessage: (packet) => this.handler.onMessage(packet),
        onConnect: () => {
          if (!this.accepting) return;
          fleet.client.subscribe(fleetTopic, { qos: 1 }, (error) => {
            if (error) o.log.error({ err: error.message }, "MQTT fleet subscribe failed");
          });
        },
      });
      this.fleet = fleet;
      fleet.client.on("error", (error) => o.log.warn({ err: error.message, role: "fleet" }, "MQTT client error"));
    }
    o.scheduler.on("load", this.onLoad);
    o.ledger.on("degraded", this.onDegraded);
    o.ledger.on("recovered", this.onRecovered);
    o.ledger.on("delivered", this.retryHeld);
    if (o.ledger.degraded) this.options.onDegradedChange?.(true);
    this.statusTimer = setInterval(() => this.publishStatus(), o.statusIntervalMs);
    this.statusTimer.unref();
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), firstConnectWaitMs);
      node.client.once("connect", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected)
      o.log.warn(
        { url: redactUrlCredentials(o.url) },
        "MQTT broker not reachable yet; serving other transports and retrying",
      );
  }

  /**
   * Stops taking new requests. Nothing is unsubscribed (a message published to a topic nobody is
   * subscribed to is gone): new requests are held unacknowledged, so the broker keeps them for the
   * next start, and requests still waiting in the queue are taken back, to be served from the
   * ledger after the restart. Running requests finish within the grace period.
   */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    const withdrawn = this.handler.withdrawQueued();
    if (withdrawn > 0)
      this.options.log.info({ withdrawn }, "queued MQTT requests kept in the ledger for the next start");
  }

  async stop(): Promise<void> {
    const o = this.options;
    this.accepting = false;
    this.handler.accepting = false;
    o.scheduler.off("load", this.onLoad);
    o.ledger.off("degraded", this.onDegraded);
    o.ledger.off("recovered", this.onRecovered);
    o.ledger.off("delivered", this.retryHeld);
    clearInterval(this.statusTimer);
    clearTimeout(this.statusThrottle);
    const node = this.node;
    const fleet = this.fleet;
    this.node = undefined;
    this.fleet = undefined;
    await fleet?.end();
    if (node?.connected && this.ownsStatusTopic) {
      await node.client
        .publishAsync(this.topics.status, JSON.stringify(this.offlineMessage()), { qos: 1, retain: true })
        .catch(() => undefined);
    }
    await node?.end();
    o.ledger.close();
  }

  private clientOptions(clientId: string, receiveMaximum: number, withWill: boolean): IClientOptions {
    const o = this.options;
    return {
      clientId,
      protocolVersion: o.protocolVersion,
      clean: false,
      keepalive: 30,
      connectTimeout: 10_000,
      queueQoSZero: true,
      resubscribe: true,
      username: o.username || undefined,
      password: o.password || undefined,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      ...(withWill
        ? {
            will: {
              topic: this.topics.status,
              payload: Buffer.from(JSON.stringify(this.offlineMessage())),
              qos: 1 as const,
              retain: true,
            },
          }
        : {}),
      ...(o.protocolVersion === 5
        ? {
            properties: {
              sessionExpiryInterval: o.sessionExpirySeconds,
              maximumPacketSize: o.maxMessageBytes * 4,
              receiveMaximum: Math.max(1, Math.min(65_535, receiveMaximum)),
            },
          }
        : {}),
    };
  }

  private onNodeConnect(sessionPresent: boolean, pending: Parameters<MqttRequestHandler["replay"]>[0]): void {
    const { log } = this.options;
    const client = this.node?.client;
    if (!client) return;
    log.info(
      { url: redactUrlCredentials(this.options.url), sessionPresent, protocol: this.options.protocolVersion },
      "MQTT connected",
    );
    if (this.accepting)
      client.subscribe(
        [this.topics.request, this.topics.cancel],
        // Retain As Published: a retained request keeps its flag when forwarded live, so it gets a
        // tombstone and is answered once per id, ever, not again at each resubscription.
        { qos: 1, rap: true },
        (error) => error && log.error({ err: error.message }, "MQTT subscribe failed"),
      );
    this.publishStatus();
    if (!this.replayed) {
      this.replayed = true;
      this.handler.replay(pending);
    }
    if (this.lent.length > 0)
      client.subscribe(
        this.lent.map((entry) => entry.filter),
        { qos: 0 },
        (error) => error && log.error({ err: error.message }, "MQTT subscribe failed"),
      );
    for (const listener of this.connectListeners) this.runLent(listener);
  }

  /** The node's connection, lent to other plugins (NodeMqttLink). */
  link(): NodeMqttLink {
    const transport = this;
    return {
      nodeId: this.options.nodeId,
      topics: this.topics,
      get connected() {
        return transport.connected;
      },
      onConnect: (listener) => {
        this.connectListeners.push(listener);
        if (this.connected) this.runLent(listener);
      },
      subscribe: (filter, handler) => {
        this.lent.push({ filter, handler });
        if (this.connected) this.node?.client.subscribe(filter, { qos: 0 });
      },
      publish: (topic, payload, options) => {
        const client = this.node?.client;
        if (client?.connected) client.publish(topic, payload, options);
      },
    };
  }

  /** Messages on topics lent to other plugins go to them, never to the request handler. */
  private takeLent(topic: string, payload: Buffer | string): boolean {
    const own = this.topics;
    if (topic === own.request || topic === own.cancel || topic === own.fleetRequest) return false;
    const entry = this.lent.find((candidate) => topicMatches(candidate.filter, topic));
    if (!entry) return false;
    this.runLent(() => entry.handler(topic, typeof payload === "string" ? Buffer.from(payload) : payload));
    return true;
  }

  private runLent(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.options.log.error({ err: error }, "unexpected error in a plugin's MQTT handler");
    }
  }

  private scheduleStatus(): void {
    if (this.statusThrottle) return;
    this.statusThrottle = setTimeout(() => {
      this.statusThrottle = undefined;
      this.publishStatus();
    }, 1000);
    this.statusThrottle.unref();
  }

  /**
   * Publishes the retained status now (the daemon calls this when its state or model progress
   * changes; queue changes are throttled here). Nothing is sent while the broker is away: the
   * status is published again on reconnect.
   */
  publishStatus(): void {
    const client = this.node?.client;
    if (!client?.connected || !this.ownsStatusTopic) return;
    const { ledger } = this.options;
    const figures = this.options.status();
    const status: NodeStatusMessage = {
      type: "status",
      node: this.options.nodeId,
      ...figures,
      // A node that cannot record MQTT requests serves only those it has: say so, and why.
      state: ledger.degraded && figures.state === "online" ? "degraded" : figures.state,
      ledger: ledger.degraded ? { state: "degraded", reason: ledger.reason ?? "unknown" } : { state: "ok" },
      fleet: this.fleetMember,
      updated_at: new Date().toISOString(),
      ...(this.options.instance
        ? { instance: this.options.instance.id, started_at: this.options.instance.startedAt }
        : {}),
    };
    // QoS 0: a QoS 1 status still unacknowledged when the broker hands this session to another
    // instance would be resent from MQTT.js's outgoing store on reconnect, before any 'connect'
    // handler runs, overwriting the other instance's retained status before NodeIdentityGuard's
    // subscription can read it. The status is republished every statusIntervalMs and on every
    // (re)connect, so a lost one is replaced; the will and the stop's "offline" stay QoS 1.
    client.publish(this.topics.status, JSON.stringify(status), { qos: 0, retain: true });
  }

  private offlineMessage(): NodeOfflineMessage {
    return { type: "status", state: "offline", node: this.options.nodeId };
  }
}
