/**
 * A model's file name in the store: one plain directory entry. Names that could reach outside the
 * store (`..`, a slash, an absolute path), the store's own hidden entries (`.partial`, `.verified`),
 * empty names and NUL are refused before any path is built, so no command reads, hashes, writes a
 * record beside or deletes a file outside the store.
 */
import { ModelStoreError } from "./ModelStoreError.js";

const maxFileNameBytes = 255;

export function storeFileNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.includes("\0")) return "contains NUL";
  if (name.includes("/") || name.includes("\\")) return "contains a path separator (give a model name, not a path)";
  if (name.startsWith("."))
    return "starts with '.' (names such as '..' and the store's own hidden entries are not models)";
  if (Buffer.byteLength(name) > maxFileNameBytes) return `is longer than ${maxFileNameBytes} bytes`;
  return undefined;
}

export function assertStoreFileName(name: string): string {
  const problem = storeFileNameProblem(name);
  if (problem !== undefined)
    throw new ModelStoreError("E_BAD_MODEL_NAME", `not a model name in the store: ${JSON.stringify(name)} ${problem}`);
  return name;
}
