/**
 * Reading the files a probe looks at, below an injectable root directory (`/` on a real board, a
 * fixture tree in tests). Nothing here throws for a missing or unreadable file: the caller gets the
 * reason instead, so every probe can report "unknown" and say why.
 */
import { access, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

export type ProbeRead = { ok: true; text: string } | { ok: false; reason: string };

/** `path` is relative to `root`; a leading `/` is ignored, so `/proc/cpuinfo` and `proc/cpuinfo` are the same. */
export function probePath(root: string, path: string): string {
  return join(root, path.replace(/^\/+/, ""));
}

export async function readProbeFile(root: string, path: string): Promise<ProbeRead> {
  try {
    return { ok: true, text: await readFile(probePath(root, path), "utf8") };
  } catch (error) {
    return { ok: false, reason: `${displayPath(path)}: ${describeFsError(error)}` };
  }
}

/** Entry names of a directory, sorted; empty when it is missing or unreadable. */
export async function listProbeDirectory(root: string, path: string): Promise<string[]> {
  try {
    return (await readdir(probePath(root, path))).sort();
  } catch {
    return [];
  }
}

export async function probePathExists(root: string, path: string): Promise<boolean> {
  try {
    await access(probePath(root, path));
    return true;
  } catch {
    return false;
  }
}

/** Device-tree strings end in NUL and lists are NUL-separated: split, dropping empty pieces. */
export function splitNulSeparated(text: string): string[] {
  return text
    .split("\0")
    .map((piece) => piece.trim())
    .filter((piece) => piece.length > 0);
}

export function displayPath(path: string): string {
  return `/${path.replace(/^\/+/, "")}`;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "missing";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return code ?? String(error);
}
