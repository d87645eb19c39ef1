/**
 * Sends the node's answers and refusals to their reply routes, and never anywhere else: nothing in
 * the daemons' own tree but the node's response topics (see isAnswerTopic).
 */
import type { MqttClient } from "mqtt";
import type { Logger } from "../../logging/createLogger.js";
import type { ProtocolError } from "../../protocol/errorCodes.js";
import type { ServerMessage } from "../../protocol/messages.js";
import type { AnswerStore } from "./AnswerStore.js";
import type { DeliveryLedger, ReplyTarget } from "./DeliveryLedger.js";
import { decideReplyRoute, type ReplyRouteSources } from "./decideReplyRoute.js";
import { isAnswerTopic, type NodeTopics } from "./mqttTopics.js";

export interface AnswerPublisherOptions {
  /** The connection now (undefined once stopped). */
  client(): MqttClient | undefined;
  topics: NodeTopics;
  protocolVersion: 4 | 5;
  ledger: DeliveryLedger;
  /** The node connection's outgoing store, which follows each final answer's QoS 2 exchange. */
  store: AnswerStore;
  log: Logger;
}

export class AnswerPublisher {
  constructor(private readonly options: AnswerPublisherOptions) {}

  /**
   * Publishes a request's final answer: recorded in the ledger first, then sent at QoS 2, whose
   * exchange the AnswerStore follows; the request counts as answered only when the broker has
   * completed it (PUBCOMP), never when bytes leave this process.
   */
  publishFinal(key: string, reply: ReplyTarget, message: ServerMessage): void {
    const text = JSON.stringify(message);
    this.options.ledger.finished(key, reply, text);
    this.publishRecorded(key, reply, text);
  }

  /** Publishes a final answer already in the ledger that never went out (a replay after a restart). */
  publishRecorded(key: string, reply: ReplyTarget, text: string): void {
    // A route that can never be published to (see publish) must not be replayed after every restart.
    if (!isAnswerTopic(reply.topic, this.options.topics)) {
      this.options.ledger.delivered(key);
      this.refuseForeignTopic(reply, null);
      return;
    }
    this.options.store.expect(key, reply.topic, text);
    this.publishText(reply, text, 2);
  }

  /** Sends an answered request's final answer again, to a duplicate of the request. */
  republish(reply: ReplyTarget, text: string): void {
    if (!isAnswerTopic(reply.topic, this.options.topics)) {
      this.refuseForeignTopic(reply, null);
      return;
    }
    this.publishText(reply, text, 1);
  }

  /**
   * Publishes an answer. A topic in the daemons' own tree other than this node's response topics is
   * never published to (routes are checked when decided; this is the last line of defence, and a
   * ledger written by an older version could hold one): the node must never feed answers back to
   * itself or its fleet as requests.
   */
  publish(reply: ReplyTarget, message: ServerMessage, qos: 0 | 1): void {
    if (!isAnswerTopic(reply.topic, this.options.topics)) {
      this.refuseForeignTopic(reply, message.id);
      return;
    }
    this.publishText(reply, JSON.stringify(message), qos);
  }

  private publishText(reply: ReplyTarget, text: string, qos: 0 | 1 | 2): void {
    const client = this.options.client();
    if (!client) return;
    const properties =
      this.options.protocolVersion === 5 && reply.correlationData !== undefined
        ? { correlationData: Buffer.from(reply.correlationData, "base64") }
        : undefined;
    client.publish(reply.topic, text, { qos, ...(properties ? { properties } : {}) }, (error) => {
      if (error) this.options.log.warn({ err: error.message }, "could not publish an answer");
    });
  }

  private refuseForeignTopic(reply: ReplyTarget, id: string | null): void {
    this.options.log.error(
      { id, topic: reply.topic.slice(0, 80) },
      "refusing to publish an answer into the daemons' own topics",
    );
  }

  /** Refuses a message on the reply route decided from `sources`, or drops it with a log line. */
  refuse(sources: ReplyRouteSources, error: ProtocolError): void {
    const decision = decideReplyRoute(sources, this.options.topics);
    this.refuseTo(decision.ok ? decision.route : decision.fallback, sources.id, error);
  }

  refuseTo(route: ReplyTarget | undefined, id: string | null, error: ProtocolError): void {
    if (route === undefined) {
      this.options.log.warn(
        { code: error.code, reason: error.message },
        "dropping a bad request: no reply topic can be trusted",
      );
      return;
    }
    this.publish(route, { type: "error", id, error: { code: error.code, message: error.message } }, 1);
  }
}
