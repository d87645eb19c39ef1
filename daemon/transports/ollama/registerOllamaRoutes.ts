/**
 * The Ollama-compatible API: GET /api/version, /api/tags, /api/ps, POST /api/show, /api/chat and
 * /api/generate (docs/http.md). Generations go through the one scheduler like every other door.
 */
import { packageVersion } from "../../packageVersion.js";
import { badField } from "../compat/ApiRefusal.js";
import { answerGeneration } from "../compat/answerGeneration.js";
import { BodyFields } from "../compat/BodyFields.js";
import { type CompatibleApiContext, schedulerClient } from "../compat/CompatibleApiContext.js";
import { sendApiJson } from "../compat/sendApiJson.js";
import { toGenerateRequest } from "../compat/toGenerateRequest.js";
import { ollamaPsEntry, ollamaShowBody, ollamaTagsEntry } from "./ollamaModelInfo.js";
import { ollamaDialect, ollamaLoadAnswer, ollamaWire } from "./ollamaWire.js";
import { readOllamaRequest } from "./readOllamaRequest.js";

export function registerOllamaRoutes(api: CompatibleApiContext, contextSize: () => number): void {
  const { router } = api;
  router.get("/api/version", ({ response, headers }) => sendApiJson(response, headers, { version: packageVersion() }));
  router.get("/api/tags", ({ response, headers }) => {
    const model = api.models.current();
    sendApiJson(response, headers, { models: model === undefined ? [] : [ollamaTagsEntry(model)] });
  });
  router.get("/api/ps", ({ response, headers }) => {
    const model = api.models.current();
    const loaded = model?.loaded ? [ollamaPsEntry(model, contextSize())] : [];
    sendApiJson(response, headers, { models: loaded });
  });
  router.post("/api/show", ({ body, response, headers }) => {
    const fields = new BodyFields(body);
    const name = fields.string("model") ?? fields.string("name");
    fields.accept("verbose"); // the whole model_info is small here either way
    fields.refuseUnread();
    if (name === undefined) throw badField("model", "'model' is required");
    const model = api.models.resolve(name);
    if (model === undefined) throw badField("model", "no model is known yet: the default model is being pulled");
    sendApiJson(response, headers, ollamaShowBody(model, contextSize()));
  });
  for (const kind of ["chat", "generate"] as const) {
    router.post(`/api/${kind}`, async (call) => {
      const asked = readOllamaRequest(call.body, kind, api.limits);
      const model = api.models.resolve(asked.model);
      const name = model?.ollamaName ?? asked.model;
      if (asked.loadOnly) {
        sendApiJson(call.response, call.headers, ollamaLoadAnswer(kind, name));
        return;
      }
      const request = toGenerateRequest(asked.fields, {
        idPrefix: `ollama-${kind}`,
        stream: asked.stream,
        headers: call.request.headers,
        limits: api.limits,
      });
      await answerGeneration({
        request,
        wire: ollamaWire(kind, name),
        dialect: ollamaDialect,
        scheduler: api.scheduler,
        client: schedulerClient(call.request),
        response: call.response,
        headers: call.headers,
        log: api.log,
      });
    });
  }
}
