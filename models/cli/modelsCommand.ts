/**
 * `tinyllamad models catalog|pull|list|verify|rm|info` (and `make-test`): what can be pulled, and the
 * model store, from the command line, human-readable or `--json`. Returns the exit code: 0 ok, 1 failed,
 * 2 usage. Every subcommand answers `--help`/`-h`; a mistyped option is named with the closest real one.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type CatalogEntry,
  CatalogError,
  describeDigest,
  digestConfidence,
  findCatalogEntry,
  loadModelCatalog,
  type ModelCatalog,
  requireCatalogEntry,
} from "../catalog/modelCatalog.js";
import { readBoardMemory } from "../store/boardMemory.js";
import { type BoardMemory, checkCatalogModelFit } from "../store/estimateFit.js";
import { inspectModel } from "../store/inspectModel.js";
import { ModelStore } from "../store/ModelStore.js";
import { ModelStoreError } from "../store/ModelStoreError.js";
import { pullModel } from "../store/pullModel.js";
import { createProgressRenderer, type ProgressOutput } from "../store/pullProgressRenderer.js";
import { assertStoreFileName } from "../store/storeFileName.js";
import { closestFlag, unknownOptionMessage } from "./closestFlag.js";
import { listCatalog } from "./modelsCatalogCommand.js";
import { runMakeTestModelCommand } from "./runMakeTestModelCommand.js";

export interface ModelsCommandIo {
  stdout: ProgressOutput;
  stderr: { write(text: string): unknown };
  /** Catalog file to use instead of the built-in one. */
  catalogPath?: string;
  /** Board memory for `info`'s fit check (defaults to this machine's). */
  memory?: BoardMemory;
}

export const modelsUsage = `Usage: tinyllamad models <command> [options]

  catalog              the models that can be pulled: size, verification, whether each fits this board
  pull NAME [--mirror URL] [--from FILE|URL] [--store DIR] [--allow-unverified]
                       download a catalog model into the store (resumes, retries, verifies sha256);
                       --from FILE takes a copy already on the board (checked: size, sha256, GGUF shape)
  list                 the models in the store and downloads in progress
  verify [NAME]        re-hash stored models against the catalog (all when no NAME)
  rm NAME              delete a model (and its partial download) from the store
  info NAME|PATH       catalog data, GGUF header and whether it fits this board's memory
  make-test ...        write a random-weight test model (see models make-test --help)

Options: --json (machine-readable output), --store DIR (default: the model store),
  --context N and --sequences N (for the memory estimate of info and pull; default 2048 and 1), --catalog FILE,
  --ignore-fit (pull a model even though it does not fit this board's memory).
\`tinyllamad models <command> --help\` shows one command's usage.`;

const commonOptions = "[--json] [--store DIR] [--catalog FILE]";
const fitOptions = "[--context N] [--sequences N]";

/**
 * make-test's usage, here because its generator (devtools/) is not in release bundles and is loaded only
 * when the command runs; keep in step with devtools/makeTestModelCommand.ts.
 */
const makeTestModelUsage = `Usage: tinyllamad models make-test [--shape tiny|tinyllama-1.1b] [--quant f16|q8_0|q4_0] [--seed N] --out FILE

Writes a random-weight TinyLlama-shaped GGUF (same options, same bytes) for tests and benchmarks. A
development tool: it runs from a source checkout, not from a release bundle or the Debian package.`;

/** Usage of each subcommand, for `tinyllamad models <command> --help`. */
const subcommandUsages: Readonly<Record<string, string>> = {
  catalog: `Usage: tinyllamad models catalog ${fitOptions} ${commonOptions}

Lists every model the catalog can pull: file size, whether its sha256 is known (verified pull), whether it
fits this board's available memory at the given context size (default 2048) and sequences (default 1), and
whether it is already in the store. (Also: tinyllamad models list --available.)`,
  pull: `Usage: tinyllamad models pull NAME [--mirror URL] [--from FILE|URL] [--allow-unverified] [--ignore-fit] ${fitOptions} ${commonOptions}

Downloads a catalog model into the store: resumes a partial download, retries, checks the sha256.
  --mirror URL          a site mirror that serves the catalog's file names (else the upstream URLs)
  --from FILE|URL       take this file (or URL) instead, checked against the catalog entry
  --allow-unverified    accept a model whose catalog entry has no sha256 (recorded as unverified)
  --ignore-fit          pull even though it does not fit this board's memory
NAME is a catalog name (tinyllamad models catalog).`,
  list: `Usage: tinyllamad models list [--available] ${commonOptions}

The models in the store and downloads in progress; --available lists what can be pulled instead
(= tinyllamad models catalog).`,
  verify: `Usage: tinyllamad models verify [NAME] ${commonOptions}

Re-hashes stored models (all when no NAME) against the catalog; a mismatching file is moved aside.`,
  rm: `Usage: tinyllamad models rm NAME ${commonOptions}

Deletes a model (and its partial download) from the store.`,
  info: `Usage: tinyllamad models info NAME|PATH ${fitOptions} ${commonOptions}

Catalog data, the GGUF header (when the file is present) and whether it fits this board's memory.`,
  "make-test": makeTestModelUsage,
};

const modelsOptions = {
  store: { type: "string" },
  mirror: { type: "string" },
  from: { type: "string" },
  catalog: { type: "string" },
  context: { type: "string" },
  sequences: { type: "string" },
  "allow-unverified": { type: "boolean" },
  "ignore-fit": { type: "boolean" },
  available: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const makeTestFlags = ["--shape", "--quant", "--seed", "--out", "--help"];

/** node:util parseArgs' "Unknown option '--x'" made into ours, with the closest real flag. */
function explainParseError(error: unknown, knownFlags: readonly string[]): string {
  const message = (error as Error).message;
  const unknown = /Unknown option '([^']+)'/.exec(message)?.[1];
  return unknown === undefined ? message : unknownOptionMessage(unknown, knownFlags);
}

function helpRequested(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

export async function runModelsCommand(args: string[], io: ModelsCommandIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    const usage = (command === "help" && rest[0] !== undefined && subcommandUsages[rest[0]]) || modelsUsage;
    io.stdout.write(`${usage}\n`);
    return command === undefined ? 2 : 0;
  }
  const subcommandUsage = subcommandUsages[command];
  if (subcommandUsage === undefined) {
    const suggestion = closestFlag(command, Object.keys(subcommandUsages));
    io.stderr.write(
      `unknown models command: ${command}${suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`}\n\n${modelsUsage}\n`,
    );
    return 2;
  }
  if (helpRequested(rest)) {
    io.stdout.write(`${subcommandUsage}\n`);
    return 0;
  }
  if (command === "make-test") {
    try {
      return await runMakeTestModelCommand(rest, io.stderr);
    } catch (error) {
      if (!(error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) throw error;
      io.stderr.write(`${explainParseError(error, makeTestFlags)}\n\n${makeTestModelUsage}\n`);
      return 2;
    }
  }
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(rest);
  } catch (error) {
    const known = Object.keys(modelsOptions).map((name) => `--${name}`);
    io.stderr.write(`${explainParseError(error, known)}\n\n${subcommandUsage}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const json = values.json ?? false;
  try {
    const catalog = loadModelCatalog(values.catalog ?? io.catalogPath);
    const store = new ModelStore(values.store);
    const context: CommandContext = { io, json, catalog, store, values, positionals };
    switch (command) {
      case "catalog":
        return await listCatalog(context, fitRequest(context));
      case "pull":
        return await pull(context);
      case "list":
        return values.available ? await listCatalog(context, fitRequest(context)) : await list(context);
      case "verify":
        return await verify(context);
      case "rm":
        return await remove(context);
      case "info":
        return await info(context);
      default:
        io.stderr.write(`unknown models command: ${command}\n\n${modelsUsage}\n`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ModelStoreError || error instanceof CatalogError) {
      if (json) io.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
      else io.stderr.write(`error ${error.code}: ${error.message}\n`);
      return 1;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${modelsUsage}\n`);
      return 2;
    }
    throw error;
  }
}

function parseOptions(args: string[]) {
  return parseArgs({ args, allowPositionals: true, strict: true, options: modelsOptions });
}

export interface CommandContext {
  io: ModelsCommandIo;
  json: boolean;
  catalog: ModelCatalog;
  store: ModelStore;
  values: ReturnType<typeof parseOptions>["values"];
  positionals: string[];
}

function print(context: CommandContext, human: string, data: unknown): void {
  context.io.stdout.write(context.json ? `${JSON.stringify(data)}\n` : `${human}\n`);
}

function requireName(context: CommandContext, what: string): string {
  const name = context.positionals[0];
  if (!name) throw new UsageError(`${what} needs a model NAME`);
  return name;
}

async function pull(context: CommandContext): Promise<number> {
  const entry = requireCatalogEntry(context.catalog, requireName(context, "pull"));
  if (!context.values["ignore-fit"]) {
    // Refuse before downloading a model this board cannot hold (a 1 GB Pi and the Q8_0 file, say).
    const fit = checkCatalogModelFit(entry, context.catalog, context.io.memory ?? readBoardMemory(), {
      contextSize: positiveInteger(context.values.context, 2048),
      sequences: positiveInteger(context.values.sequences, 1),
    });
    if (!fit.fits) {
      context.io.stderr.write(`E_MODEL_TOO_LARGE: ${fit.message} (--ignore-fit pulls it anyway)\n`);
      return 1;
    }
  }
  const renderer = context.json ? undefined : createProgressRenderer(context.io.stdout);
  const result = await pullModel({
    entry,
    store: context.store,
    allowUnverified: context.values["allow-unverified"] ?? false,
    ...(context.values.mirror ? { mirrorUrl: context.values.mirror } : {}),
    ...(context.values.from ? { from: context.values.from } : {}),
    ...(renderer ? { onProgress: (progress) => renderer.update(progress) } : {}),
    onWaiting: (pid) =>
      context.io.stderr.write(
        `${entry.fileName} is already being pulled by ${pid === null ? "another process" : `pid ${pid}`}; waiting\n`,
      ),
    onRetry: ({ attempt, delayMs, reason }) => {
      renderer?.finish();
      context.io.stderr.write(`attempt ${attempt} failed (${reason}); retrying in ${(delayMs / 1000).toFixed(1)} s\n`);
    },
  }).finally(() => renderer?.finish());
  const state = result.alreadyPresent ? "already present" : "pulled";
  const confidence = digestConfidence(entry);
  const trust = !result.verified
    ? "UNVERIFIED (the catalog has no sha256)"
    : confidence === "medium"
      ? `sha256 verified against a MEDIUM-confidence catalog digest ${result.sha256}`
      : "sha256 verified";
  print(context, `${state}: ${entry.name} → ${result.path} (${result.sizeBytes} bytes, ${trust})`, {
    model: entry.name,
    sha256Confidence: confidence,
    ...result,
  });
  return 0;
}

async function list(context: CommandContext): Promise<number> {
  const { files, partial } = await context.store.list();
  const models = files.map((file) => {
    const entry = findCatalogEntry(context.catalog, file.fileName);
    return {
      name: entry?.name ?? null,
      fileName: file.fileName,
      path: file.path,
      sizeBytes: file.sizeBytes,
      status: file.status,
      sha256: file.record?.sha256 ?? null,
      sha256Confidence: entry ? digestConfidence(entry) : null,
    };
  });
  const partialDownloads = partial.map((p) => ({
    fileName: p.fileName,
    bytes: p.bytes,
    expectedSizeBytes: p.info?.expectedSizeBytes ?? null,
    url: p.info?.url ?? null,
  }));
  const lines = [`store: ${context.store.directory}`];
  if (models.length === 0) lines.push("no models; get one with: tinyllamad models pull NAME");
  for (const m of models)
    lines.push(
      `${(m.name ?? "(not in catalog)").padEnd(34)} ${(m.sizeBytes / 1e6).toFixed(0).padStart(6)} MB  ${m.status.padEnd(10)} ${m.fileName}` +
        (m.status === "verified" && m.sha256Confidence === "medium" ? "  (catalog digest: medium confidence)" : ""),
    );
  for (const p of partialDownloads)
    lines.push(
      `partial: ${p.fileName} ${(p.bytes / 1e6).toFixed(0)} MB of ${p.expectedSizeBytes === null ? "?" : (p.expectedSizeBytes / 1e6).toFixed(0)} MB`,
    );
  print(context, lines.join("\n"), { store: context.store.directory, models, partial: partialDownloads });
  return 0;
}

async function verify(context: CommandContext): Promise<number> {
  const name = context.positionals[0];
  let fileNames: string[];
  if (name !== undefined) {
    const fileName = assertStoreFileName(findCatalogEntry(context.catalog, name)?.fileName ?? name);
    if (!(await context.store.storedFile(fileName))) {
      throw new ModelStoreError("E_MODEL_NOT_IN_STORE", `${name} is not in the store ${context.store.directory}`);
    }
    fileNames = [fileName];
  } else {
    fileNames = (await context.store.list()).files.map((file) => file.fileName);
  }
  const results = [];
  for (const fileName of fileNames) {
    const outcome = await context.store.verify(fileName, findCatalogEntry(context.catalog, fileName)?.sha256 ?? null);
    if (outcome) results.push(outcome);
  }
  const human = results
    .map((r) =>
      r.result === "mismatch"
        ? `MISMATCH ${r.fileName}: sha256 ${r.sha256}, expected ${r.expectedSha256}; moved to ${r.movedTo}`
        : `${r.result === "verified" ? "ok" : "ok (unverified: no known sha256)"} ${r.fileName} ${r.sha256}`,
    )
    .join("\n");
  print(context, human || "nothing to verify", { results });
  return results.some((r) => r.result === "mismatch") ? 1 : 0;
}

async function remove(context: CommandContext): Promise<number> {
  const name = requireName(context, "rm");
  const fileName = findCatalogEntry(context.catalog, name)?.fileName ?? name;
  assertStoreFileName(fileName);
  const removed = await context.store.remove(fileName);
  if (removed.length === 0)
    throw new ModelStoreError("E_MODEL_NOT_IN_STORE", `${name} is not in the store ${context.store.directory}`);
  print(context, `removed ${removed.join(", ")}`, { removed });
  return 0;
}

async function info(context: CommandContext): Promise<number> {
  const name = requireName(context, "info");
  const entry: CatalogEntry | undefined = findCatalogEntry(context.catalog, name);
  const path = entry ? context.store.completePath(entry.fileName) : name;
  if (!entry && !existsSync(path)) {
    throw new ModelStoreError("E_MODEL_NOT_IN_STORE", `${name} is neither a catalog model nor a file`);
  }
  const stored = entry ? await context.store.storedFile(entry.fileName) : null;
  const inspection = !entry || stored ? await inspectModel(path) : null;
  const request = {
    contextSize: positiveInteger(context.values.context, 2048),
    sequences: positiveInteger(context.values.sequences, 1),
  };
  const memory = context.io.memory ?? readBoardMemory();
  const fit = entry
    ? checkCatalogModelFit(
        entry,
        context.catalog,
        memory,
        request,
        inspection ? { modelBytes: inspection.sizeBytes } : {},
      )
    : null;
  const lines: string[] = [];
  if (entry) {
    lines.push(`${entry.name}: ${entry.description}`);
    lines.push(
      `  file ${entry.fileName}, ${entry.format}, ${entry.quantization}, context ${entry.contextLength}, backends ${entry.backends.join(", ")}`,
    );
    lines.push(`  sha256 ${describeDigest(entry)}`);
    lines.push(
      `  size ${entry.sizeBytes === null ? `≈${entry.approximateSizeBytes} bytes (exact size unknown)` : `${entry.sizeBytes} bytes`}`,
    );
    if (entry.urls.length > 0) lines.push(`  from ${entry.urls.join(", ")}`);
    lines.push(`  in store: ${stored ? `${stored.path} (${stored.status})` : "no"}`);
  }
  if (inspection) {
    lines.push(
      `  header: ${inspection.architecture ?? inspection.format}, ${inspection.parameterCount ?? "?"} parameters, ${inspection.quantization ?? "?"}, ` +
        `context ${inspection.contextLength ?? "?"}, vocabulary ${inspection.vocabularySize ?? "?"}, chat template ${inspection.hasChatTemplate ? "yes" : "no"}`,
    );
  }
  if (fit) lines.push(`  memory: ${fit.message}`);
  print(context, lines.join("\n"), {
    catalog: entry ? { ...entry, sha256Confidence: digestConfidence(entry) } : null,
    stored,
    inspection,
    fit,
  });
  return 0;
}

function fitRequest(context: CommandContext): { contextSize: number; sequences: number } {
  return {
    contextSize: positiveInteger(context.values.context, 2048),
    sequences: positiveInteger(context.values.sequences, 1),
  };
}

function positiveInteger(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`expected a positive integer, got ${text}`);
  return value;
}

class UsageError extends Error {
  override readonly name = "UsageError";
}
