/**
 * Which file an admin `swap_model` may load: a regular file inside the model store (given as an
 * absolute path, or as a bare file name of the store) or under one of `admin.modelDirectories`.
 * Relative paths and `..` are refused outright; symlinks are resolved (realpath) before the
 * inside-check, and the file type is read with stat, which never opens the file, so a FIFO or a
 * device is refused without blocking a thread. Messages name only the problem, never file content.
 */
import { realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { ModelMissingError } from "../../models/store/defaultModelLocation.js";
import { storeFileNameProblem } from "../../models/store/storeFileName.js";
import { ProtocolError } from "../protocol/errorCodes.js";

export interface SwapModelRoots {
  storeDirectory: string;
  modelDirectories: readonly string[];
}

export async function resolveSwapModelPath(requested: string, roots: SwapModelRoots): Promise<string> {
  if (requested.length === 0 || requested.includes("\0")) throw refused("must be a non-empty path without NUL");
  const bareStoreName = storeFileNameProblem(requested) === undefined;
  if (!bareStoreName && !isAbsolute(requested))
    throw refused("must be an absolute path or the file name of a model in the store");
  if (requested.split(/[/\\]/).includes("..")) throw refused("must not contain '..'");
  const wanted = bareStoreName ? join(roots.storeDirectory, requested) : requested;
  const allowedRoots = await existingRealPaths([roots.storeDirectory, ...roots.modelDirectories]);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    // Missing: said only for a path inside the allowed directories, so that the answer is no oracle
    // for which files exist elsewhere on the board.
    const lexicalRoots = [roots.storeDirectory, ...roots.modelDirectories, ...allowedRoots];
    if (lexicalRoots.some((directory) => isInside(wanted, directory))) throw new ModelMissingError(wanted);
    throw refused(outsideRoots);
  }
  const [storeRoot] = await existingRealPaths([roots.storeDirectory]);
  const root = allowedRoots.find((directory) => isInside(real, directory));
  if (root === undefined) throw refused(outsideRoots);
  // In the store, hidden entries hold partial downloads and records: never models.
  if (
    root === storeRoot &&
    relative(storeRoot, real)
      .split(sep)
      .some((part) => part.startsWith("."))
  )
    throw refused("is not a complete model of the store");
  const stats = await stat(real).catch(() => undefined);
  if (!stats?.isFile()) throw refused("is not a regular file");
  return real;
}

const outsideRoots = "is outside the model store and admin.modelDirectories (symlinks are followed before this check)";

function refused(problem: string): ProtocolError {
  return new ProtocolError("E_BAD_REQUEST", `model_path ${problem}`);
}

function isInside(path: string, directory: string): boolean {
  const rest = relative(directory, path);
  return rest.length > 0 && !rest.startsWith(`..${sep}`) && rest !== ".." && !isAbsolute(rest);
}

async function existingRealPaths(directories: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const directory of directories) {
    const real = await realpath(directory).catch(() => undefined);
    if (real !== undefined) found.push(real);
  }
  return found;
}
