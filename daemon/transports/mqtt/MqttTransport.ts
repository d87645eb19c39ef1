/**
 * The MQTT transport: devices publish requests to `<base>/<node>/request` (or the fleet topic,
 * consumed through a shared subscription) and get answers on their v5 response topic, their
 * `reply_to`, or `<base>/<node>/response/<id>`. Requests are acknowledged to the broker only once
 * they are in the journal, so none is lost across a crash or a broker outage.
 */
import { createHash } from "node:crypto";
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { redactUrlCredentials } from "../../config/redactUrlCredentials.js";
import type { Logger } from "../../logging/createLogger.js";
import { ProtocolError } from "../../protocol/errorCodes.js";
import type {
  AdminRequest,
  GenerateRequest,
  NodeOfflineMessage,
  NodeStatusMessage,
  ServerMessage,
} from "../../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../../protocol/parseClientMessage.js";
import type { RequestHandle, Scheduler } from "../../scheduler/Scheduler.js";
import { assertPublishableTopic, isTopicSafeId, type NodeTopics, nodeTopics } from "./mqttTopics.js";
import type { ReplyTarget, RequestJournal } from "./RequestJournal.js";

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
  maxMessageBytes: number;
  limits: ProtocolLimits;
  scheduler: Scheduler;
  journal: RequestJournal;
  log: Logger;
  /** Answers operator requests (model swap, status); checks the admin token itself. */
  admin?: (request: AdminRequest) => Promise<ServerMessage>;
  /** What the daemon knows for the retained status message (state, model, progress, backend, …). */
  status(): NodeStatusFigures;
}

/** The status message's fields the daemon gives; the transport adds the node, queue and connection's. */
export type NodeStatusFigures = Omit<
  NodeStatusMessage,
  "type" | "node" | "queue" | "requests" | "fleet" | "uptime_s" | "updated_at"
>;

const handoffProperty = "tinyllamad-handoffs";
const maxHandoffs = 3;
const reconnectMinMs = 500;
const reconnectMaxMs = 30_000;
const firstConnectWaitMs = 10_000;

interface InFlight {
  id: string;
  handle: RequestHandle;
}

export class MqttTransport {
  private client: MqttClient | undefined;
  private readonly topics: NodeTopics;
  private readonly inFlight = new Map<string, InFlight>();
  private accepting = false;
  private fleetSubscribed = false;
  private replayed = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusThrottle: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private onLoad = () => {
    this.updateFleetSubscription();
    this.scheduleStatus();
  };

  constructor(private readonly options: MqttTransportOptions) {
    this.topics = nodeTopics(options.baseTopic, options.nodeId);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    const o = this.options;
    this.accepting = true;
    const clientOptions: IClientOptions = {
      clientId: `tinyllamad_${o.nodeId}`,
      protocolVersion: o.protocolVersion,
      clean: false,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: reconnectMinMs,
      queueQoSZero: true,
      resubscribe: true,
      username: o.username || undefined,
      password: o.password || undefined,
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      will: {
        topic: this.topics.status,
        payload: Buffer.from(JSON.stringify(this.offlineMessage())),
        qos: 1,
        retain: true,
      },
      ...(o.protocolVersion === 5
        ? { properties: { sessionExpiryInterval: o.sessionExpirySeconds, maximumPacketSize: o.maxMessageBytes * 4 } }
        : {}),
    };
    const client = mqtt.connect(o.url, clientOptions);
    this.client = client;
    client.handleMessage = (packet, done) => {
      try {
        this.onPublish(packet);
      } catch (error) {
        o.log.error({ err: error, topic: packet.topic }, "failed to handle an MQTT message");
      }
      done();
    };
    client.on("connect", (connack) => this.onConnect(connack.sessionPresent));
    client.on("close", () => {
      const period = client.options.reconnectPeriod ?? reconnectMinMs;
      client.options.reconnectPeriod = Math.min(reconnectMaxMs, Math.max(reconnectMinMs, period * 2));
    });
    client.on("offline", () =>
      o.log.warn({ url: redactUrlCredentials(o.url) }, "MQTT broker unreachable; reconnecting"),
    );
    client.on("error", (error) => o.log.warn({ err: error.message }, "MQTT client error"));
    o.scheduler.on("load", this.onLoad);
    this.statusTimer = setInterval(() => this.publishStatus(), o.statusIntervalMs);
    this.statusTimer.unref();
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), firstConnectWaitMs);
      client.once("connect", () => {
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

  /** Stops taking new requests: unsubscribes (queued requests stay with the broker for the next start). */
  async stopAccepting(): Promise<void> {
    this.accepting = false;
    const client = this.client;
    if (!client?.connected) return;
    const topics = [this.topics.request, this.topics.cancel];
    if (this.fleetSubscribed) topics.push(this.topics.fleetSubscription(this.options.fleetGroup));
    this.fleetSubscribed = false;
    await client.unsubscribeAsync(topics).catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.accepting = false;
    this.options.scheduler.off("load", this.onLoad);
    clearInterval(this.statusTimer);
    clearTimeout(this.statusThrottle);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (client.connected) {
      await client
        .publishAsync(this.topics.status, JSON.stringify(this.offlineMessage()), {
          qos: 1,
          retain: true,
        })
        .catch(() => undefined);
    }
    await client.endAsync(!client.connected).catch(() => undefined);
  }

  private onConnect(sessionPresent: boolean): void {
    const { log } = this.options;
    const client = this.client;
    if (!client) return;
    client.options.reconnectPeriod = reconnectMinMs;
    log.info(
      { url: redactUrlCredentials(this.options.url), sessionPresent, protocol: this.options.protocolVersion },
      "MQTT connected",
    );
    if (this.accepting) {
      client.subscribe(
        [this.topics.request, this.topics.cancel],
        { qos: 1 },
        (error) => error && log.error({ err: error.message }, "MQTT subscribe failed"),
      );
      this.fleetSubscribed = false;
      this.updateFleetSubscription();
    }
    this.publishStatus();
    if (!this.replayed) {
      this.replayed = true;
      this.replayJournal();
    }
  }

  /** Requests accepted by a previous run and never answered: serve them, or end those cut mid-answer. */
  private replayJournal(): void {
    const { journal, log } = this.options;
    for (const entry of journal.open()) {
      const parsed = parseClientMessage(entry.payload, this.options.limits);
      if (!parsed.ok || parsed.message.type !== "generate") {
        journal.answeredNow(entry.key);
        continue;
      }
      if (entry.started) {
        log.warn({ id: parsed.message.id }, "request was cut off mid-answer by a restart; ending it with an error");
        this.publishFinal(entry.key, entry.reply, {
          type: "error",
          id: parsed.message.id,
          error: {
            code: "E_INTERRUPTED",
            message: "the daemon restarted while answering; the answer is incomplete — send the request again",
          },
        });
      } else {
        log.info({ id: parsed.message.id }, "serving a request accepted before a restart");
        this.serve(entry.key, parsed.message, entry.reply);
      }
    }
  }

  private updateFleetSubscription(): void {
    const client = this.client;
    const { fleet, protocolVersion, fleetGroup, scheduler, log } = this.options;
    if (!client?.connected || !fleet || protocolVersion !== 5) return;
    const want = this.accepting && scheduler.ready && scheduler.hasRoom();
    if (want === this.fleetSubscribed) return;
    this.fleetSubscribed = want;
    const topic = this.topics.fleetSubscription(fleetGroup);
    if (want) client.subscribe(topic, { qos: 1 });
    else client.unsubscribe(topic);
    log.debug({ topic, subscribed: want }, "fleet subscription changed");
  }

  private onPublish(packet: IPublishPacket): void {
    const { log } = this.options;
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    if (packet.topic === this.topics.cancel) {
      this.onCancel(payload, packet);
      return;
    }
    if (packet.topic !== this.topics.request && packet.topic !== this.topics.fleetRequest) {
      log.debug({ topic: packet.topic }, "ignoring a message on an unexpected topic");
      return;
    }
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData?.toString("base64");
    if (responseTopic !== undefined) {
      try {
        assertPublishableTopic(responseTopic, "response topic");
      } catch (error) {
        log.warn({ reason: (error as Error).message }, "dropping a request whose response topic cannot be trusted");
        return;
      }
    }
    if (payload.length > this.options.maxMessageBytes) {
      this.refuse(
        { responseTopic, correlationData, id: null, replyTo: undefined },
        new ProtocolError(
          "E_MESSAGE_TOO_LARGE",
          `the payload is ${payload.length} bytes; the limit is ${this.options.maxMessageBytes}`,
        ),
      );
      return;
    }
    const parsed = parseClientMessage(payload, this.options.limits);
    if (!parsed.ok) {
      this.refuse({ responseTopic, correlationData, id: parsed.id, replyTo: replyToField(payload) }, parsed.error);
      return;
    }
    const message = parsed.message;
    if (message.type === "cancel") {
      this.cancelById(message.id);
      return;
    }
    if (message.type === "admin") {
      this.onAdmin(message, responseTopic, correlationData);
      return;
    }
    let reply: ReplyTarget;
    try {
      reply = this.replyTargetFor(message, responseTopic, correlationData);
    } catch (error) {
      this.refuse(
        { responseTopic: undefined, correlationData, id: message.id, replyTo: undefined },
        error as ProtocolError,
      );
      return;
    }
    const key = requestKey(reply, message.id);
    const { journal } = this.options;
    if (this.inFlight.has(key) || journal.isPending(key)) {
      log.debug({ id: message.id }, "duplicate delivery of an in-flight request; ignored");
      return;
    }
    if (journal.wasAnswered(key)) {
      log.info({ id: message.id }, "redelivery of an already answered request; not served again");
      return;
    }
    const { scheduler } = this.options;
    if (
      packet.topic === this.topics.fleetRequest &&
      (!scheduler.ready || !scheduler.hasRoom()) &&
      this.handOff(packet, payload)
    )
      return;
    journal.accepted(key, payload.toString("utf8"), reply);
    this.serve(key, message, reply);
  }

  /** Operator requests: answered once, on the response topic or the node's response topic for the id. */
  private onAdmin(request: AdminRequest, responseTopic: string | undefined, correlationData: string | undefined): void {
    const topic = responseTopic ?? (isTopicSafeId(request.id) ? this.topics.responseFor(request.id) : undefined);
    if (topic === undefined) {
      this.options.log.warn({ id: request.id }, "dropping an admin request: no reply topic can be trusted");
      return;
    }
    const reply = { topic, correlationData };
    const admin = this.options.admin;
    if (!admin) {
      this.publish(
        reply,
        {
          type: "error",
          id: request.id,
          error: { code: "E_UNAUTHORIZED", message: "admin requests are not served here" },
        },
        1,
      );
      return;
    }
    void admin(request).then((answer) => this.publish(reply, answer, 1));
  }

  /** Gives a fleet request back to the group when this node is full; false when it cannot. */
  private handOff(packet: IPublishPacket, payload: Buffer): boolean {
    const client = this.client;
    if (!client || this.options.protocolVersion !== 5) return false;
    const userProperties = packet.properties?.userProperties ?? {};
    const hops = Number(userProperties[handoffProperty] ?? 0);
    if (hops >= maxHandoffs) return false;
    this.updateFleetSubscription();
    client.publish(this.topics.fleetRequest, payload, {
      qos: 1,
      properties: {
        ...(packet.properties?.responseTopic ? { responseTopic: packet.properties.responseTopic } : {}),
        ...(packet.properties?.correlationData ? { correlationData: packet.properties.correlationData } : {}),
        userProperties: { ...userProperties, [handoffProperty]: String(hops + 1) },
      },
    });
    this.options.log.info({ hops: hops + 1 }, "queue full: handed a fleet request back to the group");
    return true;
  }

  private replyTargetFor(
    message: GenerateRequest,
    responseTopic: string | undefined,
    correlationData: string | undefined,
  ): ReplyTarget {
    if (responseTopic !== undefined) return { topic: responseTopic, correlationData };
    if (message.reply_to !== undefined) {
      assertPublishableTopic(message.reply_to, "reply_to");
      return { topic: message.reply_to };
    }
    if (!isTopicSafeId(message.id))
      throw new ProtocolError("E_BAD_REQUEST", "this id cannot be part of a topic (it has /, + or #): give reply_to");
    return { topic: this.topics.responseFor(message.id) };
  }

  private serve(key: string, request: GenerateRequest, reply: ReplyTarget): void {
    const { journal, tokenQos } = this.options;
    let started = false;
    const handle = this.options.scheduler.submit(request, {
      send: (message: ServerMessage) => {
        if (message.type === "token") {
          if (!started) {
            started = true;
            journal.started(key);
          }
          this.publish(reply, message, tokenQos);
        } else {
          this.inFlight.delete(key);
          this.publishFinal(key, reply, message);
        }
      },
    });
    this.inFlight.set(key, { id: request.id, handle });
    void handle.finished.then(() => this.inFlight.delete(key));
  }

  /**
   * Publishes a final answer and marks it answered in the journal as soon as its bytes are in the
   * kernel's socket buffer (a crash after that still delivers them), or at the latest on PUBACK.
   * mqtt-packet corks the socket until the next tick, so the check runs in setImmediate. When the
   * broker is away the answer waits in memory, and only the PUBACK marks it answered: a crash
   * before that answers the request again after the restart.
   */
  private publishFinal(key: string, reply: ReplyTarget, message: ServerMessage): void {
    const { journal } = this.options;
    const client = this.client;
    this.publish(reply, message, 1, () => journal.answeredNow(key));
    if (!client?.connected) return;
    setImmediate(() => {
      const stream = (client as unknown as { stream?: { writableLength?: number } }).stream;
      if (client.connected && stream?.writableLength === 0) journal.answeredNow(key);
    });
  }

  private publish(reply: ReplyTarget, message: ServerMessage, qos: 0 | 1, onDelivered?: () => void): void {
    const client = this.client;
    if (!client) return;
    const properties =
      this.options.protocolVersion === 5 && reply.correlationData !== undefined
        ? { correlationData: Buffer.from(reply.correlationData, "base64") }
        : undefined;
    client.publish(reply.topic, JSON.stringify(message), { qos, ...(properties ? { properties } : {}) }, (error) => {
      if (error) this.options.log.warn({ id: message.id, err: error.message }, "could not publish an answer");
      else onDelivered?.();
    });
  }

  private refuse(
    where: {
      responseTopic: string | undefined;
      correlationData: string | undefined;
      id: string | null;
      replyTo: string | undefined;
    },
    error: ProtocolError,
  ): void {
    const message: ServerMessage = { type: "error", id: where.id, error: { code: error.code, message: error.message } };
    let topic = where.responseTopic;
    if (topic === undefined && where.replyTo !== undefined) {
      try {
        assertPublishableTopic(where.replyTo, "reply_to");
        topic = where.replyTo;
      } catch {
        // an untrusted reply_to: fall back to the node's own response topic below
      }
    }
    if (topic === undefined && where.id !== null && isTopicSafeId(where.id)) topic = this.topics.responseFor(where.id);
    if (topic === undefined) {
      this.options.log.warn(
        { code: error.code, reason: error.message },
        "dropping a bad request: no reply topic can be trusted",
      );
      return;
    }
    this.publish({ topic, correlationData: where.correlationData }, message, 1);
  }

  private onCancel(payload: Buffer, packet: IPublishPacket): void {
    let id: unknown;
    try {
      id = (JSON.parse(payload.toString("utf8")) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    if (typeof id !== "string" || id.length === 0) {
      this.options.log.warn({ topic: packet.topic }, "ignoring a cancel without a string id");
      return;
    }
    if (!this.cancelById(id) && packet.properties?.responseTopic) {
      try {
        assertPublishableTopic(packet.properties.responseTopic, "response topic");
        this.publish(
          {
            topic: packet.properties.responseTopic,
            correlationData: packet.properties.correlationData?.toString("base64"),
          },
          { type: "error", id, error: { code: "E_NOT_FOUND", message: `no request '${id}' in flight` } },
          1,
        );
      } catch {
        // untrusted response topic: nothing to answer
      }
    }
  }

  private cancelById(id: string): boolean {
    let found = false;
    for (const entry of this.inFlight.values()) {
      if (entry.id !== id) continue;
      entry.handle.cancel();
      found = true;
    }
    return found;
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
    const client = this.client;
    if (!client?.connected) return;
    const stats = this.options.scheduler.stats();
    const status: NodeStatusMessage = {
      type: "status",
      node: this.options.nodeId,
      ...this.options.status(),
      queue: { queued: stats.queued, running: stats.running },
      requests: { completed: stats.completed, failed: stats.failed, cancelled: stats.cancelled },
      fleet: this.fleetSubscribed,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      updated_at: new Date().toISOString(),
    };
    client.publish(this.topics.status, JSON.stringify(status), { qos: 1, retain: true });
  }

  private offlineMessage(): NodeOfflineMessage {
    return { type: "status", state: "offline", node: this.options.nodeId };
  }
}

function requestKey(reply: ReplyTarget, id: string): string {
  return createHash("sha256")
    .update(`${reply.topic}\u0000${reply.correlationData ?? ""}\u0000${id}`)
    .digest("base64url")
    .slice(0, 24);
}

/** reply_to of a payload that failed validation elsewhere, if it is at least a string. */
function replyToField(payload: Buffer): string | undefined {
  try {
    const body = JSON.parse(payload.toString("utf8")) as { reply_to?: unknown };
    return typeof body.reply_to === "string" ? body.reply_to : undefined;
  } catch {
    return undefined;
  }
}
