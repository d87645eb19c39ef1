/** The WebSocket API on the HTTP server: started before the model, so requests wait for the load. */
import type { TinyllamadConfig } from "../config/configSchema.js";
import { assertTokenWhenExposed } from "../transports/transportSecurity.js";
import { WebSocketTransport } from "../transports/websocket/WebSocketTransport.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

export class WebSocketPlugin implements DaemonPlugin {
  readonly name = "websocket";
  readonly phase = "before-model";
  private transport: WebSocketTransport | undefined;

  enabled(config: TinyllamadConfig): boolean {
    return config.ws.enabled;
  }

  check(config: TinyllamadConfig): void {
    assertTokenWhenExposed("http.host", config.http.host, "http.token", config.http.token);
  }

  async start(context: DaemonContext): Promise<void> {
    const { ws, http: httpConfig, limits } = context.config();
    const http = context.shared.http;
    if (!http) throw new Error("the WebSocket API needs the HTTP server started before it");
    this.transport = new WebSocketTransport({
      http,
      host: httpConfig.host,
      token: httpConfig.token,
      maxMessageBytes: limits.maxMessageBytes,
      maxConnections: ws.maxConnections,
      idleTimeoutMs: ws.idleTimeoutMs,
      limits: context.limits,
      scheduler: context.scheduler,
      log: context.logFor("websocket"),
      admin: (request) => context.admin(request),
    });
    this.transport.start();
  }

  async stopAccepting(): Promise<void> {
    this.transport?.stopAccepting();
  }

  async stop(): Promise<void> {
    await this.transport?.stop();
  }

  address(): string | undefined {
    return this.transport?.address();
  }
}
