/**
 * Where tinyllamad looks for its model when `model.path` is not set: the board's default model
 * (daemon/boardDefaultModel.ts picks the file) in the model store directory. `resolveModelPath` is the
 * fallback before the board is probed: the catalog's own default file.
 */
import { accessSync, constants, existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const defaultModelFileName = "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf";
const systemStoreDirectory = "/var/lib/tinyllamad/models";

/** The system store when it exists and is writable (the service), else a per-user one (development). */
export function defaultStoreDirectory(): string {
  try {
    if (existsSync(systemStoreDirectory)) {
      accessSync(systemStoreDirectory, constants.W_OK);
      return systemStoreDirectory;
    }
  } catch {
    // not writable by this user: fall through to the per-user store
  }
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(dataHome, "tinyllamad", "models");
}

export function resolveModelPath(configured: string): string {
  return configured.length > 0 ? configured : join(defaultStoreDirectory(), defaultModelFileName);
}

/** Thrown when the model file is absent; the message says how to get one. */
export class ModelMissingError extends Error {
  override readonly name = "ModelMissingError";
  readonly code = "E_MODEL_MISSING";
  constructor(
    readonly path: string,
    why?: string,
  ) {
    super(
      `model file not found: ${path}\n` +
        (why ? `  ${why}\n` : "") +
        "  - point model.path (--model.path, TINYLLAMAD_MODEL_PATH) at a TinyLlama GGUF file, e.g. one downloaded from\n" +
        "    https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF (`tinyllamad doctor` names this board's file), or\n" +
        "  - to try the daemon without downloading anything, make a random-weight test model (from a source checkout:\n    the generator is a development tool, not in release bundles):\n" +
        "    tinyllamad models make-test --shape tiny --out /tmp/tiny.gguf && tinyllamad serve --model.path /tmp/tiny.gguf",
    );
  }
}
