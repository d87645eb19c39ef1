/** The HTTP server: /healthz, /readyz and /metrics, and the server the WebSocket API upgrades on. */
import { HttpServer } from "../transports/http/HttpServer.js";
import { RequestOriginPolicy } from "../transports/http/RequestOriginPolicy.js";
import { registerHealthRoutes } from "../transports/http/registerHealthRoutes.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

export class HttpPlugin implements DaemonPlugin {
  readonly name = "http";
  readonly phase = "before-model";
  private http: HttpServer | undefined;

  async start(context: DaemonContext): Promise<void> {
    const { ws, http: httpConfig } = context.config();
    const http = new HttpServer({
      host: httpConfig.host,
      port: httpConfig.port,
      log: context.logFor("http"),
      // Every WebSocket, plus room for health checks and scrapes.
      maxSockets: ws.maxConnections + 64,
      policy: new RequestOriginPolicy({
        bindHost: httpConfig.host,
        allowedHosts: httpConfig.allowedHosts,
        allowedOrigins: httpConfig.allowedOrigins,
      }),
    });
    registerHealthRoutes(http, {
      host: httpConfig.host,
      token: httpConfig.token,
      health: () => context.status.health(),
      metrics: context.metrics,
    });
    await http.start();
    this.http = http;
    context.shared.http = http;
  }

  async stop(): Promise<void> {
    await this.http?.stop();
  }

  address(): { host: string; port: number } | undefined {
    return this.http?.address() ?? undefined;
  }
}
