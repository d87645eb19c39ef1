/**
 * Request/response with a tinyllamad node (or its fleet) over a device's existing MQTT connection
 * (mqtt.js): requests go to `<base>/<node>/request`, answers come back on this helper's own reply topic:
 * as the MQTT 5 Response Topic with Correlation Data (the request id) on a v5 connection, as the payload's
 * `reply_to` on 3.1.1 (docs/mqtt.md, "Where answers go"). Only mqtt.js's types are imported: the device's
 * client is used, never a second connection.
 */
import type { IClientPublishOptions, IPublishPacket, MqttClient } from "mqtt";
import type { DoneMessage, ServerMessage } from "../daemon/protocol/messages.js";
import { Generation } from "./Generation.js";
import { type CallOptions, type GenerateOptions, generateRequest, nextRequestId } from "./generateOptions.js";
import { TinyllamadError } from "./TinyllamadError.js";

export interface TinyllamadMqttOptions {
  /** The node to ask (its `mqtt.nodeId`). Leave it out with `fleet`. */
  node?: string | undefined;
  /** Ask the fleet (`<base>/fleet/request`): exactly one free node answers. Such a request cannot be cancelled. */
  fleet?: boolean | undefined;
  /** The daemons' `mqtt.baseTopic` (default "tinyllamad"). */
  baseTopic?: string | undefined;
  /** Where this helper's answers arrive (default `tinyllamad-replies/<random>`); it must lie outside baseTopic. */
  replyTopic?: string | undefined;
  /** QoS of requests, cancels and the reply subscription (default 1). */
  qos?: 0 | 1 | 2 | undefined;
}

export class TinyllamadMqttClient {
  readonly replyTopic: string;
  private readonly requestTopic: string;
  private readonly cancelTopic: string | undefined;
  private readonly qos: 0 | 1 | 2;
  private readonly inFlight = new Map<string, Generation>();
  private subscribed: Promise<unknown> | undefined;
  private closed = false;
  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) =>
    this.dispatch(topic, payload, packet);

  constructor(
    private readonly mqtt: MqttClient,
    options: TinyllamadMqttOptions,
  ) {
    const base = options.baseTopic ?? "tinyllamad";
    if (options.fleet) {
      this.requestTopic = `${base}/fleet/request`;
      this.cancelTopic = undefined;
    } else {
      if (!options.node) throw new TypeError("TinyllamadMqttClient needs a node (mqtt.nodeId) or fleet: true");
      this.requestTopic = `${base}/${options.node}/request`;
      this.cancelTopic = `${base}/${options.node}/cancel`;
    }
    this.replyTopic = options.replyTopic ?? `tinyllamad-replies/${Math.random().toString(36).slice(2, 12)}`;
    this.qos = options.qos ?? 1;
    mqtt.on("message", this.onMessage);
  }

  private get v5(): boolean {
    return this.mqtt.options.protocolVersion === 5;
  }

  /** Publishes a generate request; its answer streams as in TinyllamadClient.generate. */
  generate(options: GenerateOptions, call: CallOptions = {}): Generation {
    const id = nextRequestId();
    const generation = new Generation(id, () => this.cancel(id), call.onMessage);
    const { signal } = call;
    if (this.closed) generation.fail(new TinyllamadError("E_CONNECTION_LOST", "the MQTT helper was closed", id));
    if (signal?.aborted) generation.fail(signal.reason, true);
    if (generation.finished) return generation;
    const onAbort = () => {
      this.cancel(id);
      generation.fail(signal?.reason, true);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const forget = () => signal?.removeEventListener("abort", onAbort);
    generation.result.then(forget, forget);
    this.inFlight.set(id, generation);
    void this.publish(generation, options);
    return generation;
  }

  complete(options: GenerateOptions, call: CallOptions = {}): Promise<DoneMessage> {
    return this.generate(options, call).result;
  }

  /** Stops listening (the device's MQTT connection stays open); requests still waiting fail with E_CONNECTION_LOST. */
  async close(): Promise<void> {
    this.closed = true;
    this.mqtt.removeListener("message", this.onMessage);
    const generations = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const generation of generations)
      generation.fail(new TinyllamadError("E_CONNECTION_LOST", "the MQTT helper was closed", generation.id));
    if (this.subscribed !== undefined && this.mqtt.connected)
      await this.mqtt.unsubscribeAsync(this.replyTopic).catch(() => undefined);
  }

  private async publish(generation: Generation, options: GenerateOptions): Promise<void> {
    try {
      // mqtt.js subscribes again by itself after a reconnect (its `resubscribe` option).
      this.subscribed ??= this.mqtt.subscribeAsync(this.replyTopic, { qos: this.qos });
      await this.subscribed;
      if (generation.finished) return;
      const request = generateRequest(generation.id, options);
      if (!this.v5) request.reply_to = this.replyTopic;
      await this.mqtt.publishAsync(this.requestTopic, JSON.stringify(request), this.routed(generation.id));
    } catch (error) {
      this.inFlight.delete(generation.id);
      generation.fail(
        new TinyllamadError("E_UNREACHABLE", `MQTT publish failed: ${(error as Error).message}`, generation.id),
      );
    }
  }

  /** Publish options that make the answers come to the reply topic (v5: Response Topic + Correlation Data). */
  private routed(id: string): IClientPublishOptions {
    if (!this.v5) return { qos: this.qos };
    return { qos: this.qos, properties: { responseTopic: this.replyTopic, correlationData: Buffer.from(id) } };
  }

  private cancel(id: string): void {
    if (!this.inFlight.delete(id) || this.cancelTopic === undefined) return;
    // A node lets only the requester cancel: the cancel names the same reply topic as the request.
    const payload = this.v5 ? { id } : { id, reply_to: this.replyTopic };
    this.mqtt.publishAsync(this.cancelTopic, JSON.stringify(payload), this.routed(id)).catch(() => undefined);
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic !== this.replyTopic) return;
    let message: ServerMessage;
    try {
      message = JSON.parse(payload.toString("utf8")) as ServerMessage;
    } catch {
      return;
    }
    if (typeof message?.id !== "string") return;
    const correlation = packet.properties?.correlationData;
    if (correlation !== undefined && correlation.toString("utf8") !== message.id) return;
    const generation = this.inFlight.get(message.id);
    if (generation?.accept(message)) this.inFlight.delete(message.id);
  }
}
