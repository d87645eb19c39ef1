/**
 * The model catalog: the TinyLlama files tinyllamad knows (`catalog.json`, data not code), loaded and
 * validated into typed entries, plus where to download each one from (upstream, a site mirror, a local file).
 *
 * A `sha256` or `sizeBytes` of `null` means "not known": such a file can be pulled only with
 * `--allow-unverified` and is then recorded as unverified (see `pullModel`). Hashes are never guessed.
 * A known digest carries its `sha256Confidence`: none could be checked against the file itself here, so
 * "medium" (fewer independent sources agreed) is shown as such wherever the digest is.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { tinyLlamaChatTemplate } from "../chatTemplates.js";
import { projectRoot } from "../projectCacheDirectory.js";

export type ModelFormat = "gguf" | "rkllm";
export type ModelBackendKind = "cpu" | "vulkan" | "npu";
export type DigestConfidence = "high" | "medium";

/** The transformer dimensions the memory estimate needs before the file is on disk. */
export interface ModelShapeSummary {
  layers: number;
  embeddingLength: number;
  attentionHeads: number;
  kvHeads: number;
  vocabularySize: number;
}

export interface CatalogEntry {
  /** e.g. `tinyllama-1.1b-chat:q4_k_m` */
  name: string;
  description: string;
  format: ModelFormat;
  /** The file's name in the store (and on a mirror). */
  fileName: string;
  /** Upstream download URLs, tried in order; empty when the file must be made or copied by hand. */
  urls: string[];
  /** Exact size in bytes, or null when not known. */
  sizeBytes: number | null;
  /** Size for disk and memory estimates (exact when `sizeBytes` is known). */
  approximateSizeBytes: number;
  /** Lower-case hex sha256 of the whole file, or null when not known (cannot be verified). */
  sha256: string | null;
  /**
   * How many independent public sources agreed on `sha256`: "high" or "medium". The built-in catalog
   * states it next to every digest (a test keeps it so); absent means high (a site's own digests).
   */
  sha256Confidence?: DigestConfidence;
  quantization: string;
  contextLength: number;
  /** An id of `chatTemplatesById`, or null for a base (completion) model. */
  chatTemplate: string | null;
  shape: ModelShapeSummary;
  backends: ModelBackendKind[];
  requires?: Record<string, string>;
  notes?: string;
}

export interface ModelCatalog {
  version: 1;
  /** The fallback default: boards pick theirs from the catalog (hal/plan/chooseDefaultModel.ts). */
  defaultModel: string;
  /** Hugging Face repository → the commit its URLs are pinned to (documentation; URLs carry it). */
  huggingFaceRevisions?: Record<string, string>;
  models: CatalogEntry[];
}

/** Chat template ids used by catalog entries → the Jinja template (models/chatTemplates.ts). */
export const chatTemplatesById: Readonly<Record<string, string>> = {
  "tinyllama-chat": tinyLlamaChatTemplate,
};

export class CatalogError extends Error {
  override readonly name = "CatalogError";
  constructor(
    readonly code: "E_CATALOG_INVALID" | "E_MODEL_UNKNOWN",
    message: string,
  ) {
    super(message);
  }
}

export function defaultCatalogPath(): string {
  return join(projectRoot(), "models", "catalog", "catalog.json");
}

export function loadModelCatalog(path = defaultCatalogPath()): ModelCatalog {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CatalogError("E_CATALOG_INVALID", `cannot read the model catalog ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CatalogError("E_CATALOG_INVALID", `${path} is not JSON: ${(error as Error).message}`);
  }
  return parseModelCatalog(json, path);
}

/** Validates a parsed catalog; every problem found is named in one error. */
export function parseModelCatalog(json: unknown, source = "catalog"): ModelCatalog {
  const problems: string[] = [];
  if (!isRecord(json)) throw new CatalogError("E_CATALOG_INVALID", `${source}: expected an object`);
  if (json.version !== 1) problems.push(`version must be 1 (got ${String(json.version)})`);
  if (!Array.isArray(json.models)) problems.push("models must be an array");
  const models = Array.isArray(json.models) ? json.models.map((raw, index) => checkEntry(raw, index, problems)) : [];
  const names = new Set<string>();
  for (const model of models) {
    if (names.has(model.name)) problems.push(`duplicate model name ${model.name}`);
    names.add(model.name);
  }
  if (typeof json.defaultModel !== "string" || !names.has(json.defaultModel)) {
    problems.push(`defaultModel must name a model of the catalog (got ${String(json.defaultModel)})`);
  }
  if (problems.length > 0) {
    throw new CatalogError("E_CATALOG_INVALID", `${source} is invalid:\n  - ${problems.join("\n  - ")}`);
  }
  const revisions = json.huggingFaceRevisions;
  return {
    version: 1,
    defaultModel: json.defaultModel as string,
    ...(isRecord(revisions) ? { huggingFaceRevisions: revisions as Record<string, string> } : {}),
    models,
  };
}

function checkEntry(raw: unknown, index: number, problems: string[]): CatalogEntry {
  const where = `models[${index}]`;
  if (!isRecord(raw)) {
    problems.push(`${where}: expected an object`);
    return raw as CatalogEntry;
  }
  const at = `${where} (${String(raw.name)})`;
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(`${at}: ${what}`);
  };
  need(
    typeof raw.name === "string" && /^[a-z0-9][a-z0-9._-]*(:[a-z0-9._-]+)?$/.test(raw.name),
    "name must look like family:tag",
  );
  need(typeof raw.description === "string", "description must be a string");
  need(raw.format === "gguf" || raw.format === "rkllm", "format must be gguf or rkllm");
  need(
    typeof raw.fileName === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(raw.fileName),
    "fileName must be a plain file name",
  );
  need(
    Array.isArray(raw.urls) && raw.urls.every((url) => typeof url === "string" && /^(https?|file):\/\//.test(url)),
    "urls must be http(s)/file URLs",
  );
  need(raw.sizeBytes === null || isPositiveInteger(raw.sizeBytes), "sizeBytes must be a positive integer or null");
  need(isPositiveInteger(raw.approximateSizeBytes), "approximateSizeBytes must be a positive integer");
  need(
    raw.sha256 === null || (typeof raw.sha256 === "string" && /^[0-9a-f]{64}$/.test(raw.sha256)),
    "sha256 must be 64 lower-case hex digits or null",
  );
  // Absent next to a digest means high: a site's own catalog carries digests its owner computed.
  need(
    raw.sha256 === null
      ? raw.sha256Confidence === undefined || raw.sha256Confidence === null
      : raw.sha256Confidence === undefined || raw.sha256Confidence === "high" || raw.sha256Confidence === "medium",
    "sha256Confidence must be high or medium next to a sha256 (and absent or null without one)",
  );
  need(typeof raw.quantization === "string", "quantization must be a string");
  need(isPositiveInteger(raw.contextLength), "contextLength must be a positive integer");
  need(
    raw.chatTemplate === null || (typeof raw.chatTemplate === "string" && raw.chatTemplate in chatTemplatesById),
    `chatTemplate must be null or one of ${Object.keys(chatTemplatesById).join(", ")}`,
  );
  const shape = raw.shape;
  need(
    isRecord(shape) &&
      ["layers", "embeddingLength", "attentionHeads", "kvHeads", "vocabularySize"].every((key) =>
        isPositiveInteger(shape[key]),
      ),
    "shape needs positive integers layers, embeddingLength, attentionHeads, kvHeads, vocabularySize",
  );
  need(
    Array.isArray(raw.backends) &&
      raw.backends.length > 0 &&
      raw.backends.every((backend) => backend === "cpu" || backend === "vulkan" || backend === "npu"),
    "backends must be a non-empty list of cpu, vulkan, npu",
  );
  need(
    raw.requires === undefined ||
      (isRecord(raw.requires) && Object.values(raw.requires).every((v) => typeof v === "string")),
    "requires must map names to version strings",
  );
  need(raw.notes === undefined || typeof raw.notes === "string", "notes must be a string");
  return raw as unknown as CatalogEntry;
}

/** "high" or "medium" for a known digest, null for none. */
export function digestConfidence(entry: CatalogEntry): DigestConfidence | null {
  return entry.sha256 === null ? null : (entry.sha256Confidence ?? "high");
}

/** How `models info`/`list` describe an entry's digest: a medium-confidence one says so. */
export function describeDigest(entry: CatalogEntry): string {
  const confidence = digestConfidence(entry);
  if (confidence === null) return "unknown (pull needs --allow-unverified)";
  return confidence === "high"
    ? `${entry.sha256} (high confidence)`
    : `${entry.sha256} (MEDIUM confidence: fewer public sources agreed; \`tinyllamad models verify\` prints the computed digest to compare with the Hugging Face file page)`;
}

/** The entry called `name`, or whose file is called `name`. */
export function findCatalogEntry(catalog: ModelCatalog, name: string): CatalogEntry | undefined {
  return catalog.models.find((model) => model.name === name || model.fileName === name);
}

export function requireCatalogEntry(catalog: ModelCatalog, name: string): CatalogEntry {
  const entry = findCatalogEntry(catalog, name);
  if (!entry) {
    throw new CatalogError(
      "E_MODEL_UNKNOWN",
      `no model called ${name} in the catalog; known models: ${catalog.models.map((model) => model.name).join(", ")}`,
    );
  }
  return entry;
}

export interface DownloadSourceOptions {
  /** A site mirror's base URL (config `model.mirrorUrl`): the file is fetched from `<mirror>/<fileName>`. */
  mirrorUrl?: string;
  /** A local file path or URL that replaces every other source (e.g. a self-converted `.rkllm`). */
  from?: string;
}

/** The URLs to try, in order: `from` alone when given, else the mirror alone when set, else upstream. */
export function resolveDownloadUrls(entry: CatalogEntry, options: DownloadSourceOptions = {}): string[] {
  if (options.from) return [toUrl(options.from)];
  if (options.mirrorUrl) {
    const base = toUrl(options.mirrorUrl).replace(/\/+$/, "");
    return [`${base}/${encodeURIComponent(entry.fileName)}`];
  }
  return [...entry.urls];
}

/** Accepts http(s) and file URLs, and local paths (made absolute, as file URLs). */
function toUrl(pathOrUrl: string): string {
  if (/^(https?|file):\/\//.test(pathOrUrl)) return pathOrUrl;
  return pathToFileURL(isAbsolute(pathOrUrl) ? pathOrUrl : resolve(pathOrUrl)).href;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value > 0;
}
