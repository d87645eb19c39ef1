/**
 * What the node does with each MQTT message, and whether the broker may forget it yet: a request
 * is acknowledged ("ack") only once it is recorded in the delivery ledger (or answered, refused, or
 * recognised as a duplicate); it is "held" (the broker keeps it) when the ledger cannot record it,
 * while the node shuts down, and, for fleet requests, while this node has no room for it.
 */
import { createHash } from "node:crypto";
import type { IPublishPacket } from "mqtt";
import type { Logger } from "../../logging/createLogger.js";
import { ProtocolError } from "../../protocol/errorCodes.js";
import type { AdminRequest, CancelRequest, GenerateRequest, ServerMessage } from "../../protocol/messages.js";
import { type ProtocolLimits, parseClientMessage } from "../../protocol/parseClientMessage.js";
import type { Scheduler } from "../../scheduler/Scheduler.js";
import type { AnswerPublisher } from "./AnswerPublisher.js";
import type { Verdict } from "./BrokerConnection.js";
import type { DeliveryLedger, LedgerEntry, ReplyTarget } from "./DeliveryLedger.js";
import { decideReplyRoute, type ReplyRouteSources } from "./decideReplyRoute.js";
import { InFlightRequests } from "./InFlightRequests.js";
import type { NodeTopics } from "./mqttTopics.js";
import { salvageRoutingFields } from "./salvageRoutingFields.js";

export interface MqttRequestHandlerOptions {
  topics: NodeTopics;
  maxMessageBytes: number;
  limits: ProtocolLimits;
  tokenQos: 0 | 1;
  scheduler: Scheduler;
  ledger: DeliveryLedger;
  answers: AnswerPublisher;
  log: Logger;
  admin?: ((request: AdminRequest) => Promise<ServerMessage>) | undefined;
}

export class MqttRequestHandler {
  private readonly inFlight = new InFlightRequests();
  /** False once shutting down: new requests stay with the broker for the next start. */
  accepting = true;

  constructor(private readonly options: MqttRequestHandlerOptions) {}

  /**
   * Every message from the broker passes here. Nothing thrown may reach MQTT.js (it would end the
   * process from its event emitter): an unexpected exception is logged with its stack and answered
   * E_INTERNAL on the message's reply route, and the node goes on serving.
   */
  onMessage(packet: IPublishPacket): Verdict {
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const { topics } = this.options;
    try {
      if (packet.topic === topics.cancel) this.onCancelTopic(packet, payload);
      else if (packet.topic === topics.request || packet.topic === topics.fleetRequest)
        return this.onRequest(packet, payload);
      else this.options.log.debug({ topic: packet.topic }, "ignoring a message on an unexpected topic");
    } catch (error) {
      this.answerInternalError(packet, payload, error);
    }
    return "ack";
  }

  /** Requests a previous run acknowledged and never answered: serve them, or end those cut mid-answer. */
  replay(entries: LedgerEntry[]): void {
    const { ledger, log, answers } = this.options;
    for (const entry of entries) {
      try {
        // In flight with the broker: MQTT.js resends it from the AnswerStore with its packet id.
        if (entry.final !== undefined && entry.pid !== undefined) continue;
        if (entry.final !== undefined) {
          log.info({ key: entry.key }, "publishing an answer recorded before a restart and never sent");
          answers.publishRecorded(entry.key, entry.reply, entry.final);
          continue;
        }
        const parsed = parseClientMessage(entry.payload, this.options.limits);
        if (!parsed.ok || parsed.message.type !== "generate") {
          ledger.delivered(entry.key);
          continue;
        }
        if (entry.started) {
          log.warn({ id: parsed.message.id }, "request was cut off mid-answer by a restart; ending it with an error");
          answers.publishFinal(entry.key, entry.reply, {
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
      } catch (error) {
        log.error({ err: error }, "could not replay a recorded request; dropping it");
        ledger.delivered(entry.key);
      }
    }
  }

  /**
   * Shutdown: stops taking requests and takes back those still waiting in the scheduler's queue.
   * They stay in the ledger, unanswered, and are served after the restart; running ones finish.
   */
  withdrawQueued(): number {
    this.accepting = false;
    return this.inFlight.withdrawQueued();
  }

  private onRequest(packet: IPublishPacket, payload: Buffer): Verdict {
    if (!this.accepting) return "hold";
    const { answers, limits, maxMessageBytes, topics } = this.options;
    if (payload.length > maxMessageBytes) {
      answers.refuse(
        this.routeSources(packet, undefined, null),
        new ProtocolError(
          "E_MESSAGE_TOO_LARGE",
          `the payload is ${payload.length} bytes; the limit is ${maxMessageBytes}`,
        ),
      );
      return "ack";
    }
    const parsed = parseClientMessage(payload, limits);
    if (!parsed.ok) {
      answers.refuse(this.routeSources(packet, refusalReplyTo(parsed, payload), parsed.id), parsed.error);
      return "ack";
    }
    const message = parsed.message;
    const replyTo = message.type === "admin" ? undefined : message.reply_to;
    const decision = decideReplyRoute(this.routeSources(packet, replyTo, message.id), topics);
    if (!decision.ok) {
      answers.refuseTo(decision.fallback, message.id, decision.error);
      return "ack";
    }
    if (message.type === "cancel") this.cancelFor(message.id, decision.route);
    else if (message.type === "admin") this.onAdmin(message, decision.route);
    else return this.onGenerate(packet, payload, message, decision.route);
    return "ack";
  }

  private onGenerate(packet: IPublishPacket, payload: Buffer, message: GenerateRequest, route: ReplyTarget): Verdict {
    const { ledger, scheduler, log, answers, topics } = this.options;
    const key = requestKey(route, message.id);
    const text = payload.toString("utf8");
    const known = ledger.lookup(key);
    if (known?.kind === "pending") {
      // The same bytes again are a QoS 1 redelivery (at least once): the answer is on its way.
      if (known.entry.payload === text || known.entry.payload === "") {
        log.debug({ id: message.id }, "duplicate delivery of a request being answered; ignored");
        return "ack";
      }
      answers.refuseTo(
        route,
        message.id,
        new ProtocolError("E_DUPLICATE_ID", `a request with id '${message.id}' is still in flight; use a fresh id`),
      );
      return "ack";
    }
    if (known?.kind === "answered") {
      // A retained request comes again on every (re)subscription: answered once per id, ever.
      if (packet.retain) log.debug({ id: message.id }, "retained request already answered");
      else if (known.final !== undefined) {
        log.info({ id: message.id }, "request already answered; sending the same final answer again");
        answers.republish(route, known.final);
      } else log.info({ id: message.id }, "request already answered (its answer is no longer kept)");
      return "ack";
    }
    const viaFleet = packet.topic === topics.fleetRequest;
    const client = schedulerClientOf(route, message.id, topics);
    // The broker keeps a fleet request this node has no room for: for this node's next free slot.
    if (viaFleet && (!scheduler.ready || !scheduler.hasRoom(client))) return "hold";
    if (!viaFleet && scheduler.ready && !scheduler.hasRoom(client)) {
      // Refused at once: its refusal is recorded (for duplicates and a crash), its prompt is not.
      scheduler.submit(message, {
        client,
        send: (final) => answers.publishFinal(key, route, final),
      });
      return "ack";
    }
    const expiry = packet.properties?.messageExpiryInterval;
    const keepUntil = packet.retain ? (expiry ? Date.now() + expiry * 1000 : null) : undefined;
    if (ledger.accept(key, text, route, keepUntil) !== "recorded") return "hold";
    this.serve(key, message, route, text);
    return "ack";
  }

  private serve(key: string, request: GenerateRequest, reply: ReplyTarget, payload: string): void {
    const { ledger, tokenQos, answers, scheduler, topics } = this.options;
    let started = false;
    const handle = scheduler.submit(request, {
      client: schedulerClientOf(reply, request.id, topics),
      send: (message: ServerMessage) => {
        if (message.type === "token") {
          if (!started) {
            started = true;
            ledger.started(key);
          }
          answers.publish(reply, message, tokenQos);
          return;
        }
        const withdrawn = this.inFlight.get(key)?.withdrawn === true;
        this.inFlight.delete(key);
        // Withdrawn at shutdown: no answer now; the ledger serves it after the restart.
        if (!withdrawn) answers.publishFinal(key, reply, message);
      },
    });
    this.inFlight.add(key, { id: request.id, route: reply, payload, handle, withdrawn: false });
    void handle.finished.then(() => this.inFlight.delete(key));
  }

  /** Operator requests: answered once, on the request's reply route. */
  private onAdmin(request: AdminRequest, route: ReplyTarget): void {
    const { admin, answers, log } = this.options;
    if (!admin) {
      answers.refuseTo(route, request.id, new ProtocolError("E_UNAUTHORIZED", "admin requests are not served here"));
      return;
    }
    let answer: Promise<ServerMessage>;
    try {
      answer = admin(request);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (message) => answers.publish(route, message, 1),
      (error: unknown) => {
        log.error({ err: error, id: request.id }, "admin request failed unexpectedly");
        answers.refuseTo(route, request.id, new ProtocolError("E_INTERNAL", "the admin request failed unexpectedly"));
      },
    );
  }

  /** `<base>/<node>/cancel`: `{"id":"…"}` (with the request's reply_to when it named one). */
  private onCancelTopic(packet: IPublishPacket, payload: Buffer): void {
    const { answers, limits, maxMessageBytes, topics } = this.options;
    if (payload.length > maxMessageBytes) {
      answers.refuse(
        this.routeSources(packet, undefined, null),
        new ProtocolError("E_MESSAGE_TOO_LARGE", `the payload is ${payload.length} bytes`),
      );
      return;
    }
    const parsed = parseClientMessage(payload, limits, { impliedType: "cancel" });
    if (!parsed.ok) {
      answers.refuse(this.routeSources(packet, refusalReplyTo(parsed, payload), parsed.id), parsed.error);
      return;
    }
    const cancel = parsed.message as CancelRequest;
    const decision = decideReplyRoute(this.routeSources(packet, cancel.reply_to, cancel.id), topics);
    if (!decision.ok) {
      answers.refuseTo(decision.fallback, cancel.id, decision.error);
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
    this.options.answers.refuseTo(
      route,
      id,
      new ProtocolError("E_NOT_FOUND", `no request '${id}' of yours is in flight`),
    );
  }

  private answerInternalError(packet: IPublishPacket, payload: Buffer, error: unknown): void {
    const { log, answers, maxMessageBytes } = this.options;
    log.error(
      { err: error, topic: packet.topic },
      "unexpected error while handling an MQTT message; answering E_INTERNAL",
    );
    try {
      const fields =
        payload.length > maxMessageBytes ? { id: null, replyTo: undefined } : salvageRoutingFields(payload);
      answers.refuse(
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
}

/**
 * The client a request counts against for the scheduler's per-client share: its reply route (a v5
 * response topic or reply_to). Requests answered on the node's default topic for their id gave no
 * route: they share the anonymous client.
 */
function schedulerClientOf(reply: ReplyTarget, id: string, topics: NodeTopics): string | undefined {
  return reply.topic === topics.responseFor(id) ? undefined : `mqtt:${reply.topic}`;
}

function requestKey(reply: ReplyTarget, id: string): string {
  return createHash("sha256")
    .update(`${reply.topic}\u0000${reply.correlationData ?? ""}\u0000${id}`)
    .digest("base64url")
    .slice(0, 24);
}

/**
 * Where a refused payload's answer goes: the reply_to its one parse kept; only a payload the bounded
 * parser would not read (nested too deep, not JSON) is read here, leniently, for the reply_to alone.
 */
function refusalReplyTo(parsed: { routing?: { replyTo: string | undefined } }, payload: Buffer): string | undefined {
  return parsed.routing ? parsed.routing.replyTo : salvageRoutingFields(payload).replyTo;
}
