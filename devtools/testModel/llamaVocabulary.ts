/**
 * The real Llama / TinyLlama 32,000-token SentencePiece vocabulary, taken from the llama.cpp source
 * bundle that node-llama-cpp ships (`llama/gitRelease.bundle`, file models/ggml-vocab-llama-spm.gguf)
 * and cached, so that no network access is ever needed.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { llamaCppSourceBundle } from "../../hal/backends/llamaCpp/nodeLlamaCppPackage.js";
import type { GgufValue } from "../../models/gguf/ggufFormat.js";
import { readGgufHeaderFile } from "../../models/gguf/readGgufHeader.js";
import { projectCacheDirectory } from "../../models/projectCacheDirectory.js";

const VOCAB_FILE_IN_BUNDLE = "models/ggml-vocab-llama-spm.gguf";

/** Path of the cached vocabulary GGUF, extracting it from the bundle on first use (needs git). */
export function llamaVocabularyFile(cacheDirectory = projectCacheDirectory()): string {
  const target = join(cacheDirectory, "vocab", "ggml-vocab-llama-spm.gguf");
  if (existsSync(target)) return target;
  mkdirSync(dirname(target), { recursive: true });
  const bundle = llamaCppSourceBundle();
  const scratch = mkdtempSync(join(dirname(target), "bundle-"));
  try {
    const repository = join(scratch, "llama.cpp.git");
    execFileSync("git", ["clone", "--quiet", "--bare", bundle, repository], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const bytes = execFileSync("git", ["--git-dir", repository, "show", `HEAD:${VOCAB_FILE_IN_BUNDLE}`], {
      maxBuffer: 16 << 20,
    });
    writeFileSync(`${target}.partial`, bytes);
    renameSync(`${target}.partial`, target);
  } catch (error) {
    throw new Error(`could not extract ${VOCAB_FILE_IN_BUNDLE} from ${bundle} (is git installed?): ${error}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}

/** The `tokenizer.*` metadata of the Llama vocabulary, with its exact GGUF types. */
export function llamaTokenizerMetadata(cacheDirectory?: string): Map<string, GgufValue> {
  const header = readGgufHeaderFile(llamaVocabularyFile(cacheDirectory));
  const tokenizer = new Map<string, GgufValue>();
  for (const [key, value] of header.metadata) {
    if (key.startsWith("tokenizer.")) tokenizer.set(key, value);
  }
  return tokenizer;
}
