/**
 * Which model this node serves, under which names the HTTP APIs accept it: its catalog name
 * (`tinyllama-1.1b-chat:q4_k_m`), the name without its tag, the file name with or without its
 * extension, Ollama's `…:latest` form of an untagged name, and `tinyllama` for a TinyLlama chat model
 * (what Ollama users type). The model comes from NodeStatus (the one being served); while none is yet,
 * from model.path, so that a request made during the load names it and waits in the queue.
 */
import { statSync } from "node:fs";
import { basename } from "node:path";
import { type CatalogEntry, loadModelCatalog, type ModelCatalog } from "../../../models/catalog/modelCatalog.js";
import type { TinyllamadConfig } from "../../config/configSchema.js";
import type { NodeStatus } from "../../NodeStatus.js";
import { ApiRefusal } from "./ApiRefusal.js";

export interface ServedModel {
  /** The name listed: the catalog name, else the file name without its extension. */
  id: string;
  /** Ollama's form: the id with a tag (`:latest` when it has none). */
  ollamaName: string;
  fileName: string;
  entry: CatalogEntry | undefined;
  sizeBytes: number | null;
  modifiedAt: Date;
  /** Whether a backend serves it now (false while it loads). */
  loaded: boolean;
  /** Every name a request may use, lower-case. */
  names: ReadonlySet<string>;
}

export class ServedModels {
  private catalog: ModelCatalog | null | undefined;

  constructor(
    private readonly status: NodeStatus,
    private readonly config: () => TinyllamadConfig,
  ) {}

  /** The model served (or loading); undefined while none is known (the default model is being pulled). */
  current(): ServedModel | undefined {
    const served = this.status.health().model;
    const configured = this.config().model.path;
    const fileName = typeof served === "string" ? served : configured.length > 0 ? basename(configured) : undefined;
    if (fileName === undefined) return undefined;
    const entry = this.catalogEntries().find((candidate) => candidate.fileName === fileName);
    const stem = fileName.replace(/\.(gguf|rkllm)$/i, "");
    const id = entry?.name ?? stem;
    const family = id.split(":")[0] ?? id;
    const names = new Set([id, family, `${family}:latest`, fileName, stem].map((name) => name.toLowerCase()));
    if (entry?.chatTemplate != null && family.startsWith("tinyllama")) names.add("tinyllama").add("tinyllama:latest");
    const file = configured.length > 0 && basename(configured) === fileName ? fileFacts(configured) : undefined;
    return {
      id,
      ollamaName: id.includes(":") ? id : `${id}:latest`,
      fileName,
      entry,
      sizeBytes: entry?.sizeBytes ?? file?.size ?? null,
      modifiedAt: file?.mtime ?? new Date(this.status.startedAt),
      loaded: typeof served === "string",
      names,
    };
  }

  /**
   * The model a request names, or 404 E_MODEL_NOT_FOUND. While no model is known yet (pulling), any
   * name passes: the scheduler answers E_NOT_READY, which says what is going on.
   */
  resolve(name: string, param = "model"): ServedModel | undefined {
    const model = this.current();
    if (model === undefined || model.names.has(name.trim().toLowerCase())) return model;
    throw new ApiRefusal(
      "E_MODEL_NOT_FOUND",
      `the model '${name.slice(0, 200)}' is not served here; this node serves '${model.id}'`,
      param,
    );
  }

  private catalogEntries(): CatalogEntry[] {
    if (this.catalog === undefined) {
      try {
        this.catalog = loadModelCatalog(this.config().model.catalog || undefined);
      } catch {
        this.catalog = null; // a broken catalog was reported at start; names fall back to the file's
      }
    }
    return this.catalog?.models ?? [];
  }
}

function fileFacts(path: string): { size: number; mtime: Date } | undefined {
  try {
    const stats = statSync(path);
    return { size: stats.size, mtime: stats.mtime };
  } catch {
    return undefined;
  }
}
