/**
 * The OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions and POST /v1/completions
 * (docs/http.md). Requests go through the one scheduler like every other door.
 */
import { answerGeneration } from "../compat/answerGeneration.js";
import { type CompatibleApiContext, schedulerClient } from "../compat/CompatibleApiContext.js";
import { sendApiJson } from "../compat/sendApiJson.js";
import { toGenerateRequest } from "../compat/toGenerateRequest.js";
import { openAiDialect, openAiWire, systemFingerprint } from "./openAiWire.js";
import { readOpenAiRequest } from "./readOpenAiRequest.js";

export function registerOpenAiRoutes(api: CompatibleApiContext): void {
  api.router.get("/v1/models", ({ response, headers }) => {
    const model = api.models.current();
    const data =
      model === undefined
        ? []
        : [
            {
              id: model.id,
              object: "model",
              created: Math.floor(model.modifiedAt.getTime() / 1000),
              owned_by: "tinyllamad",
            },
          ];
    sendApiJson(response, headers, { object: "list", data });
  });
  for (const kind of ["chat", "completion"] as const) {
    api.router.post(kind === "chat" ? "/v1/chat/completions" : "/v1/completions", async (call) => {
      const asked = readOpenAiRequest(call.body, kind);
      const model = api.models.resolve(asked.model);
      const request = toGenerateRequest(asked.fields, {
        idPrefix: kind === "chat" ? "chatcmpl" : "cmpl",
        stream: asked.stream,
        headers: call.request.headers,
        limits: api.limits,
      });
      await answerGeneration({
        request,
        wire: openAiWire({
          kind,
          id: request.id,
          model: model?.id ?? asked.model,
          systemFingerprint: () => systemFingerprint(api.status.health().backend),
          includeUsage: asked.includeUsage,
        }),
        dialect: openAiDialect,
        scheduler: api.scheduler,
        client: schedulerClient(call.request, asked.user),
        response: call.response,
        headers: call.headers,
        log: api.log,
      });
    });
  }
}
