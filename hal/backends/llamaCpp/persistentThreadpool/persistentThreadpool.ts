/**
 * Loads libtinyllamad-threadpool.so (persistentThreadpool.c) into the process's global symbol scope,
 * so that node-llama-cpp's contexts keep one CPU threadpool each instead of starting and joining
 * llama.cpp's worker threads on every decode. Must run before node-llama-cpp's addon first calls
 * llama_decode (the addon binds it lazily, on first use); LlamaCppBackend.load does it before getLlama.
 *
 * Process-wide and one-way: once loaded, the library stays for the life of the process.
 */
import { existsSync } from "node:fs";
import koffi, { type LibraryHandle } from "koffi";
import { persistentThreadpoolLibraryPath } from "./persistentThreadpoolLibraryPath.js";

const expectedAbi = 2;

export interface PersistentThreadpoolCounters {
  /** Threadpools created (one per context, again when a context's thread count changes). */
  poolsCreated: number;
  /** Threadpools attached to contexts that still exist. */
  poolsLive: number;
  /** llama_decode calls that ran on a persistent threadpool. */
  decodesWithPool: number;
  /** llama_decode calls that went through the library but could not get a pool. */
  decodesWithoutPool: number;
  /** Pools put to sleep by pauseIdlePersistentThreadpools (counted per pool). */
  pauses: number;
}

export type PersistentThreadpoolState =
  | { enabled: true; library: string; counters: PersistentThreadpoolCounters }
  | { enabled: false; reason: string };

interface LoadedLibrary {
  path: string;
  /** Kept referenced: koffi unloads a library whose handle is garbage-collected. */
  handle: LibraryHandle;
  readCounters: () => PersistentThreadpoolCounters;
  readProblem: () => string;
  pauseIdle: () => number;
}

let loaded: LoadedLibrary | undefined;
let loadFailure: string | undefined;

const countersType = koffi.struct("tinyllamad_threadpool_counters", {
  pools_created: "long",
  pools_live: "long",
  decodes_with_pool: "long",
  decodes_without_pool: "long",
  pauses: "long",
});

/** Loads the library once; later calls return the same state. */
export function enablePersistentThreadpool(libraryPath = persistentThreadpoolLibraryPath()): PersistentThreadpoolState {
  if (loaded === undefined && loadFailure === undefined) {
    try {
      loaded = loadLibrary(libraryPath);
    } catch (error) {
      loadFailure = error instanceof Error ? error.message : String(error);
    }
  }
  return persistentThreadpoolState();
}

/**
 * Puts the worker threads of every pool with no decode running to sleep now, instead of letting them
 * poll for a next token that is not coming; the next decode wakes them. Call when nothing is generating.
 */
export function pauseIdlePersistentThreadpools(): number {
  return loaded?.pauseIdle() ?? 0;
}

export function persistentThreadpoolState(): PersistentThreadpoolState {
  if (loaded === undefined) return { enabled: false, reason: loadFailure ?? "not enabled" };
  const problem = loaded.readProblem();
  if (problem !== "") return { enabled: false, reason: problem };
  return { enabled: true, library: loaded.path, counters: loaded.readCounters() };
}

function loadLibrary(path: string): LoadedLibrary {
  if (!existsSync(path))
    throw new Error(`${path} is missing (it is compiled by npm run build, which needs a C compiler)`);
  const handle = koffi.load(path, { global: true });
  const abi = handle.func("int tinyllamad_threadpool_abi(void)")() as number;
  if (abi !== expectedAbi) throw new Error(`${path} has ABI ${abi}, this daemon expects ${expectedAbi}; rebuild it`);
  const counters = handle.func("tinyllamad_threadpool_counters", "void", [koffi.out(koffi.pointer(countersType))]);
  const problem = handle.func("const char *tinyllamad_threadpool_problem(void)");
  const pauseIdle = handle.func("int tinyllamad_threadpool_pause_idle(void)");
  return {
    path,
    handle,
    readCounters: () => {
      const raw: Record<string, number> = {};
      counters(raw);
      return {
        poolsCreated: Number(raw.pools_created),
        poolsLive: Number(raw.pools_live),
        decodesWithPool: Number(raw.decodes_with_pool),
        decodesWithoutPool: Number(raw.decodes_without_pool),
        pauses: Number(raw.pauses),
      };
    },
    readProblem: () => String(problem()),
    pauseIdle: () => pauseIdle() as number,
  };
}
