import type { SequenceStateEvent } from "./SequenceStateStore.js";
import { SequenceStateStore } from "./SequenceStateStore.js";
import { sequenceStateKey } from "./sequenceStateKey.js";

/** The disk store of sequence states for a loaded context, or undefined where it is off or cannot be. */
export async function openSequenceStateStore(
  options: {
    sequenceStates?: { directory: string; maxBytes: number; minTokens: number } | undefined;
    onSequenceState?: ((event: SequenceStateEvent) => void) | undefined;
    onLog?: ((level: "warn" | "error", message: string) => void) | undefined;
  },
  shape: Parameters<typeof sequenceStateKey>[0],
): Promise<SequenceStateStore | undefined> {
  const settings = options.sequenceStates;
  if (settings === undefined || settings.maxBytes <= 0) return undefined;
  let modelKey: string;
  try {
    modelKey = await sequenceStateKey(shape);
  } catch (error) {
    options.onLog?.("warn", `sequence states on disk are off: ${(error as Error).message}`);
    return undefined;
  }
  const store = new SequenceStateStore({
    directory: settings.directory,
    modelKey,
    maxBytes: settings.maxBytes,
    replaceWithinTokens: settings.minTokens,
    ...(options.onSequenceState ? { onEvent: options.onSequenceState } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
  });
  await store.open();
  return store;
}
