/**
 * The project's import graph between its top-level folders, read from the TypeScript sources (no
 * dependency: the project's own import statements are regular enough for a pattern). Used by
 * layering.test.ts to keep the dependency arrows pointing one way.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";

export interface ImportEdge {
  /** The importing file, relative to the project root ("hal/backends/Backend.ts"). */
  from: string;
  /** The imported file, relative to the project root, with its .ts name ("protocol/generation.ts"). */
  to: string;
  /** `import("…")`, evaluated only when reached, as opposed to a static import or re-export. */
  dynamic: boolean;
  /** `import type …` / `export type … from`: erased by the compiler, nothing is loaded at run time. */
  typeOnly: boolean;
}

/** An import or re-export statement with its `from "…"` (across lines; a specifier holds no quote or semicolon before). */
const fromStatement = /^[ \t]*(?:import|export)(\s+type\b)?[^;"]*?\bfrom\s+"([^"]+)"/gm;
const bareImport = /^\s*import\s+"([^"]+)"/gm;
const dynamicSpecifier = /\bimport\(\s*"([^"]+)"\s*\)/g;
const isRelative = (specifier: string) => specifier.startsWith("./") || specifier.startsWith("../");

/** Every import of one source file: relative ones as written, packages ("ws", "node:fs") by name. */
function specifiersOf(source: string): Array<{ specifier: string; dynamic: boolean; typeOnly: boolean }> {
  const found: Array<{ specifier: string; dynamic: boolean; typeOnly: boolean }> = [];
  for (const match of source.matchAll(fromStatement))
    if (match[2]) found.push({ specifier: match[2], dynamic: false, typeOnly: match[1] !== undefined });
  for (const match of source.matchAll(bareImport))
    if (match[1]) found.push({ specifier: match[1], dynamic: false, typeOnly: false });
  for (const match of source.matchAll(dynamicSpecifier))
    if (match[1]) found.push({ specifier: match[1], dynamic: true, typeOnly: false });
  return found;
}

/** The relative imports of one source file (package imports such as "node:fs" are not edges). */
export function importsOf(file: string, source: string): ImportEdge[] {
  const resolve = (specifier: string): string =>
    posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, ".ts");
  return specifiersOf(source)
    .filter(({ specifier }) => isRelative(specifier))
    .map(({ specifier, dynamic, typeOnly }) => ({ from: file, to: resolve(specifier), dynamic, typeOnly }));
}

/** The packages a source file loads when it runs (type-only imports left out). */
export function packageImportsOf(source: string): string[] {
  return specifiersOf(source)
    .filter(({ specifier, typeOnly }) => !isRelative(specifier) && !typeOnly)
    .map(({ specifier }) => specifier);
}

/** Every .ts file under `folder` (relative to `root`), in posix form. */
export function sourceFiles(root: string, folder: string): string[] {
  const files: string[] = [];
  const walk = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
        files.push(relative(root, path).split(sep).join("/"));
    }
  };
  walk(join(root, folder));
  return files.sort();
}

export function importGraph(root: string, folders: readonly string[]): ImportEdge[] {
  return folders.flatMap((folder) =>
    sourceFiles(root, folder).flatMap((file) => importsOf(file, readFileSync(join(root, file), "utf8"))),
  );
}

export const topFolder = (file: string): string => file.split("/")[0] ?? file;

/**
 * Edges from `from`'s folder to a folder it may not import (statically, or at all when dynamic is not
 * allowed); `allowedTypeOnly` lists files a folder may import types from (nothing of them runs).
 */
export function layeringViolations(
  edges: readonly ImportEdge[],
  mayImport: Readonly<Record<string, readonly string[]>>,
  allowedDynamic: readonly { from: string; to: string }[] = [],
  allowedTypeOnly: readonly { fromFolder: string; to: string }[] = [],
): ImportEdge[] {
  return edges.filter((edge) => {
    const source = topFolder(edge.from);
    const target = topFolder(edge.to);
    if (source === target || mayImport[source]?.includes(target)) return false;
    if (edge.typeOnly && allowedTypeOnly.some((allowed) => allowed.fromFolder === source && allowed.to === edge.to))
      return false;
    return !(edge.dynamic && allowedDynamic.some((allowed) => allowed.from === edge.from && allowed.to === edge.to));
  });
}

/** The files `entry` loads when it runs (following static and dynamic imports, not type-only ones), itself included. */
export function runtimeClosure(root: string, entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const edge of importsOf(file, readFileSync(join(root, file), "utf8"))) if (!edge.typeOnly) visit(edge.to);
  };
  visit(entry);
  return [...seen].sort();
}
