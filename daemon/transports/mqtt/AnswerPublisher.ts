/**
 * Sends the node's answers and refusals to their reply routes, and never anywhere else: nothing in
 * the daemons' own tree but the node's response topics (see isAnswerTopic).
 */
import type { MqttClient } from "mqtt";
import type { Logger } from "../../logging/createLogger.js";
import type { ProtocolError } from "../../protocol/errorCodes.js";
import type { ServerMessage } from "../../protocol/messages.js";
import { decideReplyRoute, type ReplyRouteSources } from "./decideReplyRoute.js";
import { isAnswerTopic, type NodeTopics } from "./mqttTopics.js";
import type { ReplyTarget, RequestJournal } from "./RequestJournal.js";

export interface AnswerPublisherOptions {
  /** The connection now (undefined once stopped). */
  client(): MqttClient | undefined;
  topics: NodeTopics;
  protocolVersion: 4 | 5;
  journal: RequestJournal;
  log: Logger;
}

export class AnswerPublisher {
  constructor(private readonly options: AnswerPublisherOptions) {}

  /**
   * Publishes a final answer and marks it answered in the journal as soon as its bytes are in the
   * kernel's socket buffer (a crash after that still delivers them), or at the latest on PUBACK.
   * mqtt-packet corks the socket until the next tick, so the check runs in setImmediate. When the
   * broker is away the answer waits in memory, and only the PUBACK marks it answered: a crash
   * before that answers the request again after the restart.
   */
  publishFinal(key: string, reply: ReplyTarget, message: ServerMessage): void {
    const { journal } = this.options;
    const client = this.options.client();
    // A route that can never be published to (see publish) must not be replayed after every restart.
    if (!isAnswerTopic(reply.topic, this.options.topics)) journal.answeredNow(key);
    this.publish(reply, message, 1, () => journal.answeredNow(key));
    if (!client?.connected) return;
    setImmediate(() => {
      const stream = (client as unknown as { stream?: { writableLength?: number } }).stream;
      if (client.connected && stream?.writableLength === 0) journal.answeredNow(key);
    });
  }

  /**
   * Publishes an answer. A topic in the daemons' own tree other than this node's response topics is
   * never published to (routes are checked when decided; this is the last line of defence, and a
   * journal written by an older version could hold one): the node must never feed answers back to
   * itself or its fleet as requests.
   */
  publish(reply: ReplyTarget, message: ServerMessage, qos: 0 | 1, onDelivered?: () => void): void {
    const client = this.options.client();
    if (!client) return;
    if (!isAnswerTopic(reply.topic, this.options.topics)) {
      this.options.log.error(
        { id: message.id, topic: reply.topic.slice(0, 80) },
        "refusing to publish an answer into the daemons' own topics",
      );
      return;
    }
    const properties =
      this.options.protocolVersion === 5 && reply.correlationData !== undefined
        ? { correlationData: Buffer.from(reply.correlationData, "base64") }
        : undefined;
    client.publish(reply.topic, JSON.stringify(message), { qos, ...(properties ? { properties } : {}) }, (error) => {
      if (error) this.options.log.warn({ id: message.id, err: error.message }, "could not publish an answer");
      else onDelivered?.();
    });
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
