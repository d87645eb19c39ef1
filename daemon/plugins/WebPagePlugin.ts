/**
 * The built-in web page at / of the HTTP port (http.ui): the node's live status, charts of the last
 * 15 minutes and a chat playground over the WebSocket API (docs/web-page.md). Its files are served
 * from memory behind the HTTP server's Host/Origin policy; its data (the status stream here, the
 * WebSocket API) needs http.token when one is set. Off: no route, so / answers 404.
 */
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { HttpServer } from "../transports/http/HttpServer.js";
import { PageAssets } from "../ui/PageAssets.js";
import { StatusHistory } from "../ui/StatusHistory.js";
import { pageSecurityHeaders } from "../ui/securityHeaders.js";
import { serveStatusStream } from "../ui/serveStatusStream.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

/** A chart sample every 5 s: 180 points over the 15 minutes the charts show. */
const sampleIntervalMs = 5000;
const chartSpanMs = 15 * 60 * 1000;

export class WebPagePlugin implements DaemonPlugin {
  readonly name = "web page";
  readonly phase = "before-model";
  private history: StatusHistory | undefined;
  private http: HttpServer | undefined;

  enabled(config: TinyllamadConfig): boolean {
    return config.http.ui;
  }

  async start(context: DaemonContext): Promise<void> {
    const http = context.shared.http;
    if (!http) throw new Error("the web page needs the HTTP server started before it");
    const assets = new PageAssets();
    for (const [path, asset] of assets.byPath)
      http.get(path, (_request, response) => {
        response.writeHead(200, {
          ...pageSecurityHeaders,
          "content-type": asset.contentType,
          "content-length": asset.body.length,
          "cache-control": "no-cache",
        });
        response.end(asset.body);
      });
    const history = new StatusHistory({ status: context.status, intervalMs: sampleIntervalMs, spanMs: chartSpanMs });
    history.start();
    this.history = history;
    const { http: httpConfig } = context.config();
    http.get("/api/status/stream", (request, response) =>
      serveStatusStream(request, response, {
        host: httpConfig.host,
        token: httpConfig.token,
        status: context.status,
        history,
      }),
    );
    this.http = http;
    context.logFor("http").debug({ bytes: assets.totalBytes }, "web page served at /");
  }

  async stop(): Promise<void> {
    this.history?.stop();
  }

  address(): string | undefined {
    const address = this.http?.address();
    return address ? `http://${address.host}:${address.port}/` : undefined;
  }
}
