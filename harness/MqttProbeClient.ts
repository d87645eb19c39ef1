/**
 * A real MQTT.js client for tests: subscribes to answer topics and collects tinyllamad's protocol
 * messages per request id (and per correlation data for MQTT 5 request/response).
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { FinalMessage, ServerMessage } from "../daemon/protocol/messages.js";
import { waitUntil } from "./waitUntil.js";

export interface ReceivedMessage {
  topic: string;
  message: ServerMessage;
  correlationData: string | undefined;
}

export class MqttProbeClient {
  readonly received: ReceivedMessage[] = [];

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(payload.toString()) as ServerMessage;
      } catch {
        return;
      }
      this.received.push({ topic, message, correlationData: packet.properties?.correlationData?.toString() });
    });
  }

  static async connect(url: string, options: IClientOptions = {}): Promise<MqttProbeClient> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, ...options });
    return new MqttProbeClient(client);
  }

  async subscribe(topic: string | string[]): Promise<void> {
    await this.client.subscribeAsync(topic, { qos: 1 });
  }

  async publish(topic: string, payload: unknown, options: mqtt.IClientPublishOptions = {}): Promise<void> {
    await this.client.publishAsync(
      topic,
      typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
      {
        qos: 1,
        ...options,
      },
    );
  }

  finals(id: string | null): ReceivedMessage[] {
    return this.received.filter(
      (r) => r.message.id === id && (r.message.type === "done" || r.message.type === "error"),
    );
  }

  tokens(id: string): ReceivedMessage[] {
    return this.received.filter((r) => r.message.id === id && r.message.type === "token");
  }

  /** Resolves once `predicate` holds, checked now and after each message this client receives. */
  waitFor(predicate: () => boolean, timeoutMs = 60_000, what = "condition"): Promise<void> {
    return waitUntil({
      source: this.client,
      event: "message",
      condition: predicate,
      timeoutMs,
      describe: () => what,
    });
  }

  async final(id: string | null, timeoutMs = 60_000): Promise<FinalMessage> {
    await this.waitFor(() => this.finals(id).length > 0, timeoutMs, `the final answer of ${id}`);
    return this.finals(id)[0]?.message as FinalMessage;
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}
