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
}

const staticSpecifier = /\bfrom\s+"(\.{1,2}\/[^"]+)"|^\s*import\s+"(\.{1,2}\/[^"]+)"/gm;
const dynamicSpecifier = /\bimport\(\s*"(\.{1,2}\/[^"]+)"\s*\)/g;

/** The relative imports of one source file (package imports such as "node:fs" are not edges). */
export function importsOf(file: string, source: string): ImportEdge[] {
  const resolve = (specifier: string): string =>
    posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, ".ts");
  const edges: ImportEdge[] = [];
  for (const match of source.matchAll(staticSpecifier)) {
    const specifier = match[1] ?? match[2];
    if (specifier) edges.push({ from: file, to: resolve(specifier), dynamic: false });
  }
  for (const match of source.matchAll(dynamicSpecifier))
    if (match[1]) edges.push({ from: file, to: resolve(match[1]), dynamic: true });
  return edges;
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

/** Edges from `from`'s folder to a folder it may not import (statically, or at all when dynamic is not allowed). */
export function layeringViolations(
  edges: readonly ImportEdge[],
  mayImport: Readonly<Record<string, readonly string[]>>,
  allowedDynamic: readonly { from: string; to: string }[] = [],
): ImportEdge[] {
  return edges.filter((edge) => {
    const source = topFolder(edge.from);
    const target = topFolder(edge.to);
    if (source === target || mayImport[source]?.includes(target)) return false;
    return !(edge.dynamic && allowedDynamic.some((allowed) => allowed.from === edge.from && allowed.to === edge.to));
  });
}
