import { createHash } from "node:crypto";
import { realpath, stat } from "node:fs/promises";
import { installedNodeLlamaCppVersion } from "./nodeLlamaCppPackage.js";

/**
 * Names what a saved sequence state can be loaded into: the same model file (its real path, size and
 * modification time: a file replaced in place gets another key), the same context shape (llama.cpp
 * refuses a state from a context with another number of sequences, and one with more tokens than
 * the context holds) and the same llama.cpp. llama.cpp cannot tell a state of another model of the
 * same shape, so the key keeps them apart (SequenceStateStore).
 */
export async function sequenceStateKey(shape: {
  modelPath: string;
  kind: string;
  contextSize: number;
  sequences: number;
  flashAttention: string;
}): Promise<string> {
  const path = await realpath(shape.modelPath);
  const file = await stat(path);
  const identity = {
    path,
    bytes: file.size,
    modifiedMs: Math.trunc(file.mtimeMs),
    kind: shape.kind,
    contextSize: shape.contextSize,
    sequences: shape.sequences,
    flashAttention: shape.flashAttention,
    nodeLlamaCpp: installedNodeLlamaCppVersion(),
  };
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 16);
}
