/**
 * The OpenAI- and Ollama-compatible HTTP APIs (docs/http.md) on the daemon's HTTP server: started
 * before the model, so requests made during the load wait in the queue, as WebSocket ones do. Both
 * take http.token as their bearer token and refuse to start beyond loopback without one.
 */
import type { TinyllamadConfig } from "../config/configSchema.js";
import { ApiRouter } from "../transports/compat/ApiRouter.js";
import type { CompatibleApiContext } from "../transports/compat/CompatibleApiContext.js";
import { ServedModels } from "../transports/compat/ServedModels.js";
import { ollamaDialect } from "../transports/ollama/ollamaWire.js";
import { registerOllamaRoutes } from "../transports/ollama/registerOllamaRoutes.js";
import { openAiDialect } from "../transports/openai/openAiWire.js";
import { registerOpenAiRoutes } from "../transports/openai/registerOpenAiRoutes.js";
import { assertTokenWhenExposed } from "../transports/transportSecurity.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

export class CompatibleApisPlugin implements DaemonPlugin {
  readonly name = "compatible-apis";
  readonly phase = "before-model";

  enabled(config: TinyllamadConfig): boolean {
    return config.http.compatibleApis;
  }

  check(config: TinyllamadConfig): void {
    assertTokenWhenExposed("http.host", config.http.host, "http.token", config.http.token);
  }

  async start(context: DaemonContext): Promise<void> {
    const http = context.shared.http;
    if (!http) throw new Error("the HTTP APIs need the HTTP server started before them");
    const log = context.logFor("http-api");
    const settings = () => {
      const config = context.config();
      return {
        token: config.http.token,
        allowedOrigins: config.http.allowedOrigins,
        maxBodyBytes: config.limits.maxMessageBytes,
      };
    };
    const shared: Omit<CompatibleApiContext, "router"> = {
      scheduler: context.scheduler,
      limits: context.limits,
      models: new ServedModels(context.status, context.config),
      status: context.status,
      log,
    };
    registerOpenAiRoutes({ ...shared, router: new ApiRouter({ http, dialect: openAiDialect, settings, log }) });
    registerOllamaRoutes(
      { ...shared, router: new ApiRouter({ http, dialect: ollamaDialect, settings, log }) },
      () => context.config().model.contextSize,
    );
    log.info("OpenAI-compatible (/v1) and Ollama-compatible (/api) HTTP APIs serving");
  }

  async stop(): Promise<void> {
    // The HTTP server they live on closes its connections when it stops; a request cut by the
    // shutdown is answered by the scheduler (E_SHUTTING_DOWN) before that.
  }
}
