/**
 * A TCP proxy between a daemon and its broker that can stop forwarding what the broker sends (a
 * half-open link: the daemon's packets still reach the broker, the broker's acknowledgements never
 * come back). Only the connections open when it stalls are stalled: new ones pass both ways.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export class StallingProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private stalled = new Set<Socket>();
  port = 0;

  constructor(private readonly brokerPort: number) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.brokerPort, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => {
        if (!this.stalled.has(upstream)) client.write(chunk);
      });
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  /** Drops everything the broker sends on the connections open now. */
  stallBrokerToClient(): void {
    this.stalled = new Set(this.sockets);
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
