/** The served model as Ollama's /api/tags, /api/ps and /api/show describe a model. */
import type { ServedModel } from "../compat/ServedModels.js";

export function ollamaDetails(model: ServedModel) {
  return {
    parent_model: "",
    format: model.entry?.format ?? (model.fileName.endsWith(".rkllm") ? "rkllm" : "gguf"),
    family: "llama",
    families: ["llama"],
    parameter_size: model.id.includes("1.1b") ? "1.1B" : "",
    quantization_level: model.entry?.quantization ?? "",
  };
}

function listed(model: ServedModel) {
  return {
    name: model.ollamaName,
    model: model.ollamaName,
    size: model.sizeBytes ?? 0,
    // Ollama's digest names its manifest; here the file's sha256 where the catalog knows it.
    digest: model.entry?.sha256 ?? "",
    details: ollamaDetails(model),
  };
}

export function ollamaTagsEntry(model: ServedModel) {
  return { ...listed(model), modified_at: model.modifiedAt.toISOString() };
}

/** Loaded for as long as the daemon runs: keep_alive never unloads it, so it never expires. */
export function ollamaPsEntry(model: ServedModel, contextSize: number) {
  return { ...listed(model), expires_at: "9999-12-31T23:59:59Z", size_vram: 0, context_length: contextSize };
}

export function ollamaShowBody(model: ServedModel, contextSize: number) {
  return {
    modelfile: `# served by tinyllamad\nFROM ${model.fileName}\n`,
    parameters: "",
    template: "",
    details: ollamaDetails(model),
    model_info: {
      "general.architecture": "llama",
      "general.basename": model.id,
      "llama.context_length": model.entry?.contextLength ?? contextSize,
    },
    // No "tools", "vision" or "thinking": those requests are refused (docs/http.md).
    capabilities: ["completion"],
    modified_at: model.modifiedAt.toISOString(),
  };
}
