/** Where the compiled persistent-threadpool library lives: beside this module, one folder per target. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const persistentThreadpoolLibraryName = "libtinyllamad-threadpool.so";

/** This machine's target name, e.g. "linux-x64" or "linux-arm64". */
export function hostTarget(): string {
  return `${process.platform}-${process.arch}`;
}

export function persistentThreadpoolLibraryPath(target = hostTarget()): string {
  return join(dirname(fileURLToPath(import.meta.url)), target, persistentThreadpoolLibraryName);
}
