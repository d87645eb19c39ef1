/**
 * What a model file is, read from its GGUF header with node-llama-cpp's `readGgufFileInfo`:
 * architecture, parameter count, quantization, context length, shape, whether it carries a chat
 * template. `.rkllm` files (no readable header) report only their size.
 */
import { open, stat } from "node:fs/promises";
import { GgufFileType, readGgufFileInfo } from "node-llama-cpp";
import type { ModelShapeSummary } from "../catalog/modelCatalog.js";
import { ModelStoreError } from "./ModelStoreError.js";

export interface ModelInspection {
  path: string;
  format: "gguf" | "rkllm";
  sizeBytes: number;
  architecture: string | null;
  name: string | null;
  parameterCount: number | null;
  /** GGUF file type as llama.cpp names it, e.g. MOSTLY_Q4_K_M */
  fileType: string | null;
  /** e.g. Q4_K_M */
  quantization: string | null;
  contextLength: number | null;
  vocabularySize: number | null;
  shape: ModelShapeSummary | null;
  hasChatTemplate: boolean;
}

export async function inspectModel(path: string): Promise<ModelInspection> {
  let stats: Awaited<ReturnType<typeof stat>>;
  try {
    stats = await stat(path);
  } catch (error) {
    throw new ModelStoreError("E_MODEL_UNREADABLE", `cannot read ${path}: ${(error as Error).message}`);
  }
  // Opening a FIFO or a device would block (or read something that is not a file): refuse them first.
  if (!stats.isFile()) throw new ModelStoreError("E_MODEL_UNREADABLE", `${path} is not a regular file`);
  const sizeBytes = stats.size;
  if (!(await startsWithGgufMagic(path))) {
    if (path.endsWith(".rkllm")) return rkllmInspection(path, sizeBytes);
    throw new ModelStoreError("E_MODEL_UNREADABLE", `${path} is not a GGUF file (no GGUF magic)`);
  }
  let info: Awaited<ReturnType<typeof readGgufFileInfo>>;
  try {
    info = await readGgufFileInfo(path, {
      sourceType: "filesystem",
      logWarnings: false,
      ignoreKeys: ["tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"],
    });
  } catch (error) {
    throw new ModelStoreError(
      "E_MODEL_UNREADABLE",
      `cannot read the GGUF header of ${path}: ${(error as Error).message}`,
    );
  }
  const metadata = info.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const general = metadata.general ?? {};
  const architecture = typeof general.architecture === "string" ? general.architecture : null;
  const llm = (info.architectureMetadata ?? {}) as Record<string, unknown>;
  const attention = (llm.attention ?? {}) as Record<string, unknown>;
  const tokenizer = (metadata.tokenizer ?? {}) as Record<string, unknown>;
  const ggml = (tokenizer.ggml ?? {}) as Record<string, unknown>;
  const tokens = Array.isArray(ggml.tokens) ? ggml.tokens.length : null;
  const fileTypeNumber = typeof general.file_type === "number" ? general.file_type : null;
  const fileType = fileTypeNumber !== null ? (GgufFileType[fileTypeNumber] ?? `type ${fileTypeNumber}`) : null;
  const layers = numberOrNull(llm.block_count);
  const embeddingLength = numberOrNull(llm.embedding_length);
  const attentionHeads = numberOrNull(attention.head_count);
  const kvHeads = numberOrNull(attention.head_count_kv) ?? attentionHeads;
  const vocabularySize = numberOrNull(llm.vocab_size) ?? tokens;
  const shape =
    layers && embeddingLength && attentionHeads && kvHeads && vocabularySize
      ? { layers, embeddingLength, attentionHeads, kvHeads, vocabularySize }
      : null;
  return {
    path,
    format: "gguf",
    sizeBytes,
    architecture,
    name: typeof general.name === "string" ? general.name : null,
    parameterCount: (info.fullTensorInfo ?? info.tensorInfo ?? []).reduce(
      (sum, tensor) => sum + tensor.dimensions.reduce((product: number, d) => product * Number(d), 1),
      0,
    ),
    fileType,
    quantization: fileType ? fileType.replace(/^(MOSTLY|ALL)_/, "") : null,
    contextLength: numberOrNull(llm.context_length),
    vocabularySize,
    shape,
    hasChatTemplate: typeof tokenizer.chat_template === "string" && tokenizer.chat_template.length > 0,
  };
}

async function startsWithGgufMagic(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, 0);
    return bytesRead === 4 && buffer.toString("latin1") === "GGUF";
  } finally {
    await handle.close();
  }
}

function rkllmInspection(path: string, sizeBytes: number): ModelInspection {
  return {
    path,
    format: "rkllm",
    sizeBytes,
    architecture: null,
    name: null,
    parameterCount: null,
    fileType: null,
    quantization: null,
    contextLength: null,
    vocabularySize: null,
    shape: null,
    hasChatTemplate: false,
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}
