/**
 * One MQTT.js connection whose QoS 1 messages are acknowledged only when the node says so.
 *
 * MQTT.js sends a message's PUBACK when `handleMessage` calls back, and processes no further
 * packet until it does (its `customHandleAcks` only picks a reason code, and a PUBACK with an
 * error code makes the broker drop the message). So a message the node cannot take yet is
 * "held": `handleMessage` calls back with an error, which makes MQTT.js skip the PUBACK and go on,
 * and the PUBACK is sent later, when the node takes the message (`retryHeld`). Until then the
 * broker keeps the message in flight for this session and counts it against the Receive Maximum
 * this connection announced, so at most that many are ever held here; the rest wait at the broker.
 * A held message is redelivered by the broker after a reconnect, so on every disconnect the held
 * list is cleared and no late PUBACK can reach the new connection (whose packet ids are new).
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import type { Logger } from "../../logging/createLogger.js";

/** ack: the message is taken (recorded, answered or refused); hold: leave it with the broker for now. */
export type Verdict = "ack" | "hold";

export interface BrokerConnectionOptions {
  url: string;
  /** Names the connection in log lines ("node", "fleet"). */
  role: string;
  clientOptions: IClientOptions;
  log: Logger;
  onMessage(packet: IPublishPacket): Verdict;
  onConnect(sessionPresent: boolean): void;
  /**
   * Given the client before this connection's own handlers are added, so that the watcher's
   * `connect` handler runs first (the node-identity guard subscribes to the node's status before the
   * node publishes its own over a retained status it must still see).
   */
  watch?: (client: MqttClient) => void;
}

const reconnectMinMs = 500;
const reconnectMaxMs = 30_000;

/** MQTT.js's method that writes one packet; not in its typings (see the header). */
interface PacketWriter {
  _sendPacket(packet: { cmd: "puback"; messageId: number; reasonCode: number }): void;
}

export class BrokerConnection {
  readonly client: MqttClient;
  private held: IPublishPacket[] = [];
  private retrying = false;
  private retryAgain = false;

  constructor(private readonly options: BrokerConnectionOptions) {
    const { log, role } = options;
    this.client = mqtt.connect(options.url, { reconnectPeriod: reconnectMinMs, ...options.clientOptions });
    if (typeof (this.client as unknown as Partial<PacketWriter>)._sendPacket !== "function")
      throw new Error("this MQTT.js version cannot acknowledge messages later (no _sendPacket)");
    options.watch?.(this.client);
    this.client.handleMessage = (packet, done) => {
      if (this.take(packet) === "ack" || packet.qos === 0) done();
      else {
        this.held.push(packet);
        done(new Error("held: not acknowledged yet"));
      }
    };
    this.client.on("connect", (connack) => {
      this.client.options.reconnectPeriod = reconnectMinMs;
      // Like a message handler, a connect handler must not throw into MQTT.js's emitter.
      try {
        options.onConnect(connack.sessionPresent);
      } catch (error) {
        log.error({ err: error, role }, "unexpected error after connecting to the MQTT broker");
      }
    });
    this.client.on("close", () => {
      // The broker sends every unacknowledged message again on the next connection.
      this.held = [];
      const period = this.client.options.reconnectPeriod ?? reconnectMinMs;
      this.client.options.reconnectPeriod = Math.min(reconnectMaxMs, Math.max(reconnectMinMs, period * 2));
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Messages received and not acknowledged yet. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Offers every held message to the node again, in arrival order; acknowledges those it takes now. */
  retryHeld(): void {
    // Taking a message can ask for a retry (the scheduler's load event): one pass at a time.
    if (this.retrying) {
      this.retryAgain = true;
      return;
    }
    this.retrying = true;
    try {
      do {
        this.retryAgain = false;
        const waiting = this.held;
        this.held = [];
        for (const packet of waiting) {
          if (this.client.connected && this.take(packet) === "ack") this.acknowledge(packet);
          else this.held.push(packet);
        }
        // A disconnect meanwhile: the broker sends them all again on the next connection.
        if (!this.client.connected) this.held = [];
      } while (this.retryAgain && this.held.length > 0);
    } finally {
      this.retrying = false;
    }
  }

  /** Ends the connection; held messages stay with the broker for this session's next connection. */
  async end(): Promise<void> {
    this.held = [];
    await this.client.endAsync(!this.client.connected).catch(() => undefined);
  }

  private take(packet: IPublishPacket): Verdict {
    try {
      return this.options.onMessage(packet);
    } catch (error) {
      this.options.log.error({ err: error, role: this.options.role }, "unexpected error taking an MQTT message");
      return "ack";
    }
  }

  private acknowledge(packet: IPublishPacket): void {
    if (packet.messageId === undefined || !this.client.connected) return;
    (this.client as unknown as PacketWriter)._sendPacket({ cmd: "puback", messageId: packet.messageId, reasonCode: 0 });
  }
}
