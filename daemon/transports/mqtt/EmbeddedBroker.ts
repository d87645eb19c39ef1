/**
 * The embedded MQTT broker (aedes) that lets a board run standalone when no mqtt.url is configured.
 * aedes speaks MQTT 3.1.1 only: no v5 response topics, no shared subscriptions (use the board's
 * Mosquitto through mqtt.url for those). It listens on plain TCP (no TLS, so no client
 * certificates): beyond loopback it therefore requires a username and a password.
 *
 * Who gets in:
 * - the node's own client, always, with a random login made at each start (only the daemon knows
 *   it); its client id is reserved for it, so no one can take over the node's session;
 * - with mqtt.username and mqtt.password set: clients that present exactly those (compared in
 *   constant time); anyone else is refused;
 * - without them (loopback only): any local client.
 *
 * What only the node may publish: its retained status and its answers (`<base>/<node>/status`,
 * `<base>/<node>/response/…`), so that no other client can fake the node's state or its answers.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { Aedes, type AuthenticateError } from "aedes";
import { ConfigError } from "../../config/ConfigError.js";
import { isLoopbackHost } from "../transportSecurity.js";
import type { NodeTopics } from "./mqttTopics.js";

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** When both are set, clients must log in with these (required when listening beyond loopback). */
  username: string;
  password: string;
  /** The node's own client id: only the node's own login may use it. */
  ownClientId: string;
  /** The node's own topics: no other client may publish its status or answers. */
  ownTopics: NodeTopics;
}

export interface BrokerLogin {
  username: string;
  password: string;
}

/** CONNACK "bad user name or password" (MQTT 3.1.1 return code 4). */
const badLogin = 4;

export class EmbeddedBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  /** The login the node's own client uses; new at every start. */
  readonly ownLogin: BrokerLogin;

  constructor(private readonly options: EmbeddedBrokerOptions) {
    assertEmbeddedBrokerLogin(options.host, options.username, options.password);
    this.ownLogin = { username: options.ownClientId, password: randomBytes(32).toString("base64url") };
  }

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    broker.authenticate = (client, user, pass, done) => {
      if (this.admits(client.id, user, pass)) done(null, true);
      else
        done(
          Object.assign(new Error("bad user name or password"), { returnCode: badLogin }) as AuthenticateError,
          false,
        );
    };
    broker.authorizePublish = (client, packet, done) => {
      if (client !== null && client.id !== this.options.ownClientId && this.isNodeOnlyTopic(packet.topic))
        done(new Error(`only the node publishes on ${packet.topic}`));
      else done(null);
    };
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

  private isNodeOnlyTopic(topic: string): boolean {
    const { ownTopics } = this.options;
    return topic === ownTopics.status || topic.startsWith(ownTopics.responseFor(""));
  }

  private admits(clientId: string, user: string | undefined, pass: Buffer | undefined): boolean {
    const own = this.ownLogin;
    if (clientId === own.username || user === own.username)
      return user === own.username && pass !== undefined && sameSecret(pass.toString(), own.password);
    const { username, password } = this.options;
    if (username.length === 0) return true; // loopback only, no login configured
    // Both compared, always: how long a refusal takes says nothing about which part was wrong.
    const userMatches = sameSecret(user ?? "", username);
    const passwordMatches = sameSecret(pass?.toString() ?? "", password);
    return userMatches && passwordMatches;
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

/**
 * The embedded broker's login rule, checked before anything listens: a username needs a password
 * (and the reverse), and listening beyond loopback needs both.
 */
export function assertEmbeddedBrokerLogin(host: string, username: string, password: string): void {
  const problems: string[] = [];
  if (!isLoopbackHost(host) && (username.length === 0 || password.length === 0))
    problems.push(
      `mqtt.embeddedHost is ${host}, beyond loopback: the embedded broker then requires both mqtt.username ` +
        "(TINYLLAMAD_MQTT_USERNAME) and mqtt.password (TINYLLAMAD_MQTT_PASSWORD, or mqtt.passwordFile) so that " +
        "every client must log in; it has no TLS client certificates (use Mosquitto through mqtt.url for those)",
    );
  else if ((username.length === 0) !== (password.length === 0))
    problems.push(
      `the embedded broker needs mqtt.username and mqtt.password together (${username.length === 0 ? "mqtt.username" : "mqtt.password or mqtt.passwordFile"} is empty)`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
}

function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
