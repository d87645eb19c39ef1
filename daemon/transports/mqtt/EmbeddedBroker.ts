/**
 * The embedded MQTT broker (aedes) that lets a board run standalone when no mqtt.url is configured.
 * aedes speaks MQTT 3.1.1 only: no v5 response topics, no shared subscriptions (use the board's
 * Mosquitto through mqtt.url for those).
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { Aedes } from "aedes";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** When set, clients must log in with these (required when listening beyond loopback). */
  username: string;
  password: string;
}

export class EmbeddedBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    const { username, password } = this.options;
    if (username.length > 0) {
      const digest = (value: string) => createHash("sha256").update(value).digest();
      broker.authenticate = (_client, user, pass, done) => {
        const ok =
          user === username && pass !== undefined && timingSafeEqual(digest(pass.toString()), digest(password));
        done(null, ok);
      };
    }
    const server = createServer(broker.handle as never);
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: NodeJS.ErrnoException) => {
        reject(
          error.code === "EADDRINUSE"
            ? new Error(
                `the embedded MQTT broker cannot listen on ${this.options.host}:${this.options.port}: the port is in use. ` +
                  `If a broker (e.g. Mosquitto) already runs there, use it: set mqtt.url=mqtt://127.0.0.1:${this.options.port}`,
              )
            : error,
        );
      });
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    this.broker = broker;
    this.server = server;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null;
    return `mqtt://${this.options.host === "0.0.0.0" ? "127.0.0.1" : this.options.host}:${address?.port ?? this.options.port}`;
  }

  async stop(): Promise<void> {
    const { broker, server } = this;
    this.broker = undefined;
    this.server = undefined;
    if (server) {
      server.close();
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}
