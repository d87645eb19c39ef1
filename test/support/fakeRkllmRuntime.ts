/**
 * The fake RKLLM runtime for tests: compiles test/fixtures/rkllm-runtime/fake_rkllmrt.c with the
 * machine's `cc` into .cache/fake-rkllm/<variant>/librkllmrt.so once (again when the source changes),
 * and reaches its test-only exports (struct layout, last prompt, last init parameters).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import koffi from "koffi";
import { projectCacheDirectory, projectRoot } from "../../models/projectCacheDirectory.js";

export interface FakeRkllmVariant {
  /** The version in the library's "rkllm-runtime version: X" banner. Defaults to 1.2.0. */
  version?: string;
  /** Leave rkllm_set_chat_template out, as a runtime older than 1.2.0 would. */
  omitChatTemplate?: boolean;
  /** Export rkllm_set_function_tools, as a runtime newer than 1.2.0 would. */
  withFunctionTools?: boolean;
}

const fixtureDirectory = () => join(projectRoot(), "test", "fixtures", "rkllm-runtime");

/** The .rkllm stand-in the fake runtime loads: a vocabulary in a text file. */
export function fakeRkllmModelPath(): string {
  return join(fixtureDirectory(), "tinyllama-fake.rkllm");
}

/** Path of the compiled fake librkllmrt.so for a variant, building it if needed. */
export function fakeRkllmLibraryPath(variant: FakeRkllmVariant = {}): string {
  const sourcePath = join(fixtureDirectory(), "fake_rkllmrt.c");
  const source = readFileSync(sourcePath);
  const defines = [`-DFAKE_RKLLM_VERSION="${variant.version ?? "1.2.0"}"`];
  if (variant.omitChatTemplate) defines.push("-DFAKE_RKLLM_OMIT_CHAT_TEMPLATE");
  if (variant.withFunctionTools) defines.push("-DFAKE_RKLLM_WITH_FUNCTION_TOOLS");
  const stamp = createHash("sha256").update(source).update(defines.join(" ")).digest("hex").slice(0, 16);
  const name = [
    variant.version ?? "1.2.0",
    variant.omitChatTemplate ? "no-template" : "",
    variant.withFunctionTools ? "tools" : "",
  ]
    .filter((part) => part.length > 0)
    .join("-");
  const directory = join(projectCacheDirectory(), "fake-rkllm", name);
  const library = join(directory, "librkllmrt.so");
  const stampPath = join(directory, "source.sha256");
  if (existsSync(library) && existsSync(stampPath) && readFileSync(stampPath, "utf8") === stamp) return library;
  mkdirSync(directory, { recursive: true });
  const temporary = join(directory, `librkllmrt.so.${process.pid}.tmp`);
  execFileSync("cc", ["-shared", "-fPIC", "-pthread", "-O2", ...defines, "-o", temporary, sourcePath], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  renameSync(temporary, library);
  writeFileSync(stampPath, stamp);
  return library;
}

export interface FakeRkllmHooks {
  /** sizeof(struct) (field omitted) or offsetof(struct, field), as the C compiler laid it out; -1 if unknown. */
  layout(struct: string, field?: string): number;
  /** The prompt text of the last rkllm_run. */
  lastPrompt(): string;
  /** A numeric field of the RKLLMParam given to the last rkllm_init, or "chat_template_calls". */
  param(name: string): number;
}

/** The fake's test-only exports (the same loaded library as the backend's: globals are shared). */
export function fakeRkllmHooks(libraryPath: string): FakeRkllmHooks {
  const library = koffi.load(libraryPath);
  const layout = library.func("long fake_rkllm_layout(const char *struct_name, const char *field)");
  const lastPrompt = library.func("const char *fake_rkllm_last_prompt(void)");
  const param = library.func("double fake_rkllm_param_int(const char *name)");
  return {
    layout: (struct, field) => Number(layout(struct, field ?? null)),
    lastPrompt: () => lastPrompt() as string,
    param: (name) => param(name) as number,
  };
}
