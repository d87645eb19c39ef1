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
  CancelRequest,
  GenerateRequest,
  NodeOfflineMessage,
  NodeStatusMessage,
  ServerMessage,
} from "../../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../../protocol/parseClientMessage.js";
import type { Scheduler } from "../../scheduler/Scheduler.js";
import { AnswerPublisher } from "./AnswerPublisher.js";
import { decideReplyRoute, type ReplyRouteSources } from "./decideReplyRoute.js";
import { InFlightRequests } from "./InFlightRequests.js";
import { type NodeTopics, nodeClientId, nodeTopics } from "./mqttTopics.js";
import type { JournalEntry, ReplyTarget, RequestJournal } from "./RequestJournal.js";
import { salvageRoutingFields } from "./salvageRoutingFields.js";

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
  /** This run's identity in the status (random per start; see NodeIdentityGuard). */
  instance?: { id: string; startedAt: string };
  /** Given the client before it connects, to watch it (NodeIdentityGuard). */
  watchClient?: (client: MqttClient) => void;
}

/** The status message's fields the daemon gives; the transport adds the node, queue and connection's. */
export type NodeStatusFigures = Omit<
  NodeStatusMessage,
  "type" | "node" | "queue" | "requests" | "fleet" | "uptime_s" | "updated_at" | "instance" | "started_at"
>;

const handoffProperty = "tinyllamad-handoffs";
const maxHandoffs = 3;
const reconnectMinMs = 500;
const reconnectMaxMs = 30_000;
const firstConnectWaitMs = 10_000;

export class MqttTransport {
  private client: MqttClient | undefined;
  private readonly topics: NodeTopics;
  private readonly inFlight = new InFlightRequests();
  private readonly answers: AnswerPublisher;
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
    this.answers = new AnswerPublisher({
      client: () => this.client,
      topics: this.topics,
      protocolVersion: options.protocolVersion,
      journal: options.journal,
      log: options.log,
    });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    const o = this.options;
    this.accepting = true;
    const clientOptions: IClientOptions = {
      clientId: nodeClientId(o.nodeId),
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
    o.watchClient?.(client);
    client.handleMessage = (packet, done) => {
      this.onMessage(packet);
      done();
    };
    client.on("connect", (connack) => {
      // Like a message handler, a connect handler must not throw into MQTT.js's emitter.
      try {
        this.onConnect(connack.sessionPresent);
      } catch (error) {
        o.log.error({ err: error }, "unexpected error after connecting to the MQTT broker");
      }
    });
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
      try {
        this.replayEntry(entry);
      } catch (error) {
        log.error({ err: error }, "could not replay a journalled request; dropping it");
        journal.answeredNow(entry.key);
      }
    }
  }

  private replayEntry(entry: JournalEntry): void {
    const { journal, log } = this.options;
    const parsed = parseClientMessage(entry.payload, this.options.limits);
    if (!parsed.ok || parsed.message.type !== "generate") {
      journal.answeredNow(entry.key);
      return;
    }
    if (entry.started) {
      log.warn({ id: parsed.message.id }, "request was cut off mid-answer by a restart; ending it with an error");
      this.answers.publishFinal(entry.key, entry.reply, {
        type: "error",
        id: parsed.message.id,
        error: {
          code: "E_INTERRUPTED",
          message: "the daemon restarted while answering; the answer is incomplete — send the request again",
        },
      });
    } else {
      log.info({ id: parsed.message.id }, "serving a request accepted before a restart");
      this.serve(entry.key, parsed.message, entry.reply, entry.payload);
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

  /**
   * Every message from the broker passes here. Nothing thrown may reach MQTT.js (it would end the
   * process from its event emitter): an unexpected exception is logged with its stack and answered
   * E_INTERNAL on the message's reply route, and the node goes on serving.
   */
  private onMessage(packet: IPublishPacket): void {
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    try {
      if (packet.topic === this.topics.cancel) this.onCancelTopic(packet, payload);
      else if (packet.topic === this.topics.request || packet.topic === this.topics.fleetRequest)
        this.onRequest(packet, payload);
      else this.options.log.debug({ topic: packet.topic }, "ignoring a message on an unexpected topic");
    } catch (error) {
      this.answerInternalError(packet, payload, error);
    }
  }

  private answerInternalError(packet: IPublishPacket, payload: Buffer, error: unknown): void {
    const { log } = this.options;
    log.error(
      { err: error, topic: packet.topic },
      "unexpected error while handling an MQTT message; answering E_INTERNAL",
    );
    try {
      const fields =
        payload.length > this.options.maxMessageBytes
          ? { id: null, replyTo: undefined }
          : salvageRoutingFields(payload);
      this.answers.refuse(
        this.routeSources(packet, fields.replyTo, fields.id),
        new ProtocolError(
          "E_INTERNAL",
          "an unexpected internal error while handling this message; the node keeps serving",
        ),
      );
    } catch (secondError) {
      log.error({ err: secondError }, "could not answer E_INTERNAL");
    }
  }

  private routeSources(packet: IPublishPacket, replyTo: string | undefined, id: string | null): ReplyRouteSources {
    return {
      responseTopic: packet.properties?.responseTopic,
      correlationData: packet.properties?.correlationData?.toString("base64"),
      replyTo,
      id,
    };
  }

  private onRequest(packet: IPublishPacket, payload: Buffer): void {
    if (payload.length > this.options.maxMessageBytes) {
      this.answers.refuse(
        this.routeSources(packet, undefined, null),
        new ProtocolError(
          "E_MESSAGE_TOO_LARGE",
          `the payload is ${payload.length} bytes; the limit is ${this.options.maxMessageBytes}`,
        ),
      );
      return;
    }
    const parsed = parseClientMessage(payload, this.options.limits);
    if (!parsed.ok) {
      // Only a refused payload is read a second time, for the reply_to its refusal should go to.
      this.answers.refuse(this.routeSources(packet, salvageRoutingFields(payload).replyTo, parsed.id), parsed.error);
      return;
    }
    const message = parsed.message;
    const replyTo = message.type === "admin" ? undefined : message.reply_to;
    const decision = decideReplyRoute(this.routeSources(packet, replyTo, message.id), this.topics);
    if (!decision.ok) {
      this.answers.refuseTo(decision.fallback, message.id, decision.error);
      return;
    }
    if (message.type === "cancel") this.cancelFor(message.id, decision.route);
    else if (message.type === "admin") this.onAdmin(message, decision.route);
    else this.onGenerate(packet, payload, message, decision.route);
  }

  private onGenerate(packet: IPublishPacket, payload: Buffer, message: GenerateRequest, route: ReplyTarget): void {
    const { journal, scheduler, log } = this.options;
    const key = requestKey(route, message.id);
    const text = payload.toString("utf8");
    const running = this.inFlight.get(key);
    if (running !== undefined || journal.isPending(key)) {
      // The same bytes again are a QoS 1 redelivery (at least once): the answer is on its way.
      if (running === undefined || running.payload === text) {
        log.debug({ id: message.id }, "duplicate delivery of an in-flight request; ignored");
        return;
      }
      this.answers.refuseTo(
        route,
        message.id,
        new ProtocolError("E_DUPLICATE_ID", `a request with id '${message.id}' is still in flight; use a fresh id`),
      );
      return;
    }
    if (journal.wasAnswered(key)) {
      log.info({ id: message.id }, "redelivery of an already answered request; not served again");
      return;
    }
    if (
      packet.topic === this.topics.fleetRequest &&
      (!scheduler.ready || !scheduler.hasRoom(this.schedulerClientOf(route, message.id))) &&
      this.handOff(packet, payload)
    )
      return;
    journal.accepted(key, text, route);
    this.serve(key, message, route, text);
  }

  /** Operator requests: answered once, on the request's reply route. */
  private onAdmin(request: AdminRequest, route: ReplyTarget): void {
    const admin = this.options.admin;
    if (!admin) {
      this.answers.refuseTo(
        route,
        request.id,
        new ProtocolError("E_UNAUTHORIZED", "admin requests are not served here"),
      );
      return;
    }
    let answer: Promise<ServerMessage>;
    try {
      answer = admin(request);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (message) => this.answers.publish(route, message, 1),
      (error: unknown) => {
        this.options.log.error({ err: error, id: request.id }, "admin request failed unexpectedly");
        this.answers.refuseTo(
          route,
          request.id,
          new ProtocolError("E_INTERNAL", "the admin request failed unexpectedly"),
        );
      },
    );
  }

  /** `<base>/<node>/cancel`: `{"id":"…"}` (with the request's reply_to when it named one). */
  private onCancelTopic(packet: IPublishPacket, payload: Buffer): void {
    if (payload.length > this.options.maxMessageBytes) {
      this.answers.refuse(
        this.routeSources(packet, undefined, null),
        new ProtocolError("E_MESSAGE_TOO_LARGE", `the payload is ${payload.length} bytes`),
      );
      return;
    }
    const parsed = parseClientMessage(payload, this.options.limits, { impliedType: "cancel" });
    if (!parsed.ok) {
      // Only a refused payload is read a second time, for the reply_to its refusal should go to.
      this.answers.refuse(this.routeSources(packet, salvageRoutingFields(payload).replyTo, parsed.id), parsed.error);
      return;
    }
    const cancel = parsed.message as CancelRequest;
    const decision = decideReplyRoute(this.routeSources(packet, cancel.reply_to, cancel.id), this.topics);
    if (!decision.ok) {
      this.answers.refuseTo(decision.fallback, cancel.id, decision.error);
      return;
    }
    this.cancelFor(cancel.id, decision.route);
  }

  /**
   * Cancels the client's own request: the one with this id whose reply topic is the cancel's reply
   * topic. Any other (unknown, finished, or another client's) is answered E_NOT_FOUND, which does
   * not tell whether someone else has a request with that id.
   */
  private cancelFor(id: string, route: ReplyTarget): void {
    if (this.inFlight.cancel(id, route.topic)) return;
    this.answers.refuseTo(route, id, new ProtocolError("E_NOT_FOUND", `no request '${id}' of yours is in flight`));
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

  /**
   * The client a request counts against for the scheduler's per-client share: its reply route (a
   * v5 response topic or reply_to). Requests answered on the node's default topic for their id
   * gave no route: they share the anonymous client.
   */
  private schedulerClientOf(reply: ReplyTarget, id: string): string | undefined {
    return reply.topic === this.topics.responseFor(id) ? undefined : `mqtt:${reply.topic}`;
  }

  private serve(key: string, request: GenerateRequest, reply: ReplyTarget, payload: string): void {
    const { journal, tokenQos } = this.options;
    let started = false;
    const handle = this.options.scheduler.submit(request, {
      client: this.schedulerClientOf(reply, request.id),
      send: (message: ServerMessage) => {
        if (message.type === "token") {
          if (!started) {
            started = true;
            journal.started(key);
          }
          this.answers.publish(reply, message, tokenQos);
        } else {
          this.inFlight.delete(key);
          this.answers.publishFinal(key, reply, message);
        }
      },
    });
    this.inFlight.add(key, { id: request.id, route: reply, payload, handle });
    void handle.finished.then(() => this.inFlight.delete(key));
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
      ...(this.options.instance
        ? { instance: this.options.instance.id, started_at: this.options.instance.startedAt }
        : {}),
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
