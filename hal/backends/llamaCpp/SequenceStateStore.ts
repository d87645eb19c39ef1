/**
 * Evaluated sequence states on disk, so that more conversations (NPC personas, chats re-sent turn by
 * turn) than the context has sequences do not each re-evaluate their whole prompt when they come
 * back: what llama-server's slot save/restore does, but automatic.
 *
 * A sequence about to be overwritten by another conversation is saved first (node-llama-cpp's
 * `saveStateToFile`: the KV cells of that sequence and its tokens, llama.cpp's own format); a prompt
 * whose longest cached prefix is on disk rather than in a sequence has it loaded back
 * (`loadStateFromFile`) instead of evaluated. Each state is a pair of files in a directory per
 * model and context shape (`<key>/`): `<name>.state` (llama.cpp's) and `<name>.json` (its tokens,
 * size and sha256). llama.cpp itself cannot tell a state of another model of the same shape, nor a
 * flipped byte in the cells, so a state is used only when its JSON names this model's key and the
 * file's sha256 matches; anything else in the directory is deleted at start.
 *
 * Disk use stays under `maxBytes` (states of other models' keys first, then the least recently used);
 * a state already covered by a longer one on disk is not written twice, and a longer one replaces the
 * shorter ones it extends (a conversation keeps one file). Disk faults never throw out of here (a full
 * or read-only state directory, as DeliveryLedger): the save is dropped, counted as "failed", logged
 * once, and saving pauses for a minute.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, statfs, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { commonPrefixLength } from "./commonPrefixLength.js";

/**
 * "opened": the store has read what is on disk (usedBytes says how much); the rest, one state each.
 * "unsaved": resident at a stop or model unload, but its time to save ran out first.
 */
export type SequenceStateEventKind =
  | "opened"
  | "saved"
  | "restored"
  | "evicted"
  | "replaced"
  | "rejected"
  | "failed"
  | "unsaved";

export interface SequenceStateEvent {
  kind: SequenceStateEventKind;
  /** Tokens of the state concerned (0 where unknown). */
  tokens: number;
  /** Bytes the store holds on disk after the event. */
  usedBytes: number;
  reason?: string;
}

export interface SequenceStateStoreOptions {
  /** The store's root (the daemon's state directory + "sequence-states"). */
  directory: string;
  /** Names the model and context shape the states belong to (a directory of its own). */
  modelKey: string;
  /** Most bytes all states (of every key) may take. */
  maxBytes: number;
  /**
   * A new state replaces a stored one that it extends except for at most this many tokens at the
   * stored one's end (a conversation keeps one file); default 0: only exact prefixes.
   */
  replaceWithinTokens?: number;
  onEvent?: (event: SequenceStateEvent) => void;
  onLog?: (level: "warn" | "error", message: string) => void;
}

interface StoredState {
  name: string;
  tokens: Token[];
  /** Both files' bytes. */
  bytes: number;
  sha256: string;
  lastUsed: number;
  /** Restores in progress: not evicted meanwhile. */
  pins: number;
}

/** States of another key: only their size and age matter (they go first when room is needed). */
interface ForeignFile {
  path: string;
  bytes: number;
  lastUsed: number;
}

interface StateMetadata {
  format: 1;
  modelKey: string;
  tokens: number[];
  bytes: number;
  sha256: string;
}

/**
 * A disk is left this much room (or a twentieth of it, if smaller): the ledger and the logs need it
 * more than a cache does.
 */
const freeSpaceReserveBytes = 32 * 2 ** 20;
const pauseAfterFailureMs = 60_000;

export class SequenceStateStore {
  private readonly states = new Map<string, StoredState>();
  private foreign: ForeignFile[] = [];
  private readonly keyDirectory: string;
  private bytesPerToken = 0;
  private pausedUntil = 0;
  /** A failure was logged and no save has succeeded since: further failures are only counted. */
  private failureLogged = false;
  private usable = false;

  constructor(private readonly options: SequenceStateStoreOptions) {
    this.keyDirectory = join(options.directory, options.modelKey);
  }

  /** Bytes on disk, all keys. */
  get usedBytes(): number {
    let total = 0;
    for (const state of this.states.values()) total += state.bytes;
    for (const file of this.foreign) total += file.bytes;
    return total;
  }

  get size(): number {
    return this.states.size;
  }

  /** Reads what is on disk; drops what is unusable. Never throws: a store that cannot start stays off. */
  async open(): Promise<void> {
    try {
      await mkdir(this.keyDirectory, { recursive: true, mode: 0o700 });
      await this.scanOwn();
      await this.scanForeign();
      this.usable = true;
      await this.makeRoom(0);
      this.emit("opened", 0);
    } catch (error) {
      this.options.onLog?.("warn", `sequence states on disk are off: ${describe(error)}`);
    }
  }

  /** The stored state sharing the longest prefix with `prompt`, and that prefix's length. */
  bestMatch(prompt: readonly Token[]): { name: string; prefix: number; tokens: number } | undefined {
    let best: { name: string; prefix: number; tokens: number } | undefined;
    for (const state of this.states.values()) {
      const prefix = commonPrefixLength(state.tokens, prompt);
      if (prefix > (best?.prefix ?? 0)) best = { name: state.name, prefix, tokens: state.tokens.length };
    }
    return best;
  }

  /** Keeps a state from being evicted (by a save) until the returned function is called. */
  pin(name: string): () => void {
    const state = this.states.get(name);
    if (state === undefined) return () => undefined;
    state.pins += 1;
    return () => {
      state.pins -= 1;
    };
  }

  /**
   * Saves a sequence's evaluated state, unless one on disk already starts with the same tokens.
   * `letIn` runs the work that takes the context's lock (see gatherSequencesIntoBatches.ts).
   */
  async save(sequence: LlamaContextSequence, letIn: <T>(work: () => Promise<T>) => Promise<T>): Promise<void> {
    if (!this.usable || Date.now() < this.pausedUntil) return;
    const tokens = [...sequence.contextTokens];
    for (const state of this.states.values())
      if (state.tokens.length >= tokens.length && commonPrefixLength(state.tokens, tokens) === tokens.length) {
        state.lastUsed = Date.now();
        return;
      }
    const estimate = tokens.length * this.bytesPerToken;
    if (estimate > this.options.maxBytes) return;
    const name = createHash("sha256").update(Uint32Array.from(tokens)).digest("hex").slice(0, 32);
    const statePath = join(this.keyDirectory, `${name}.state`);
    const temporary = `${statePath}.tmp`;
    try {
      await this.makeRoom(estimate);
      const disk = await statfs(this.keyDirectory);
      const reserve = Math.min(freeSpaceReserveBytes, (disk.blocks * disk.bsize) / 20);
      if (disk.bavail * disk.bsize < estimate + reserve)
        throw new Error(`ENOSPC: less than ${Math.ceil((estimate + reserve) / 2 ** 10)} KiB free`);
      const { fileSize } = await letIn(() => sequence.saveStateToFile(temporary));
      const bytes = (await stat(temporary)).size;
      // llama.cpp's buffered writer can lose its last flush to a full disk without saying so.
      if (bytes !== fileSize) throw new Error(`ENOSPC: ${bytes} of ${fileSize} bytes written`);
      const sha256 = await sha256Of(temporary);
      await rename(temporary, statePath);
      const metadata: StateMetadata = { format: 1, modelKey: this.options.modelKey, tokens, bytes, sha256 };
      const json = JSON.stringify(metadata);
      await writeFile(`${statePath}.json.tmp`, json);
      await rename(`${statePath}.json.tmp`, this.metadataPath(name));
      const both = bytes + Buffer.byteLength(json);
      this.states.set(name, { name, tokens, bytes: both, sha256, lastUsed: Date.now(), pins: 0 });
      this.bytesPerToken = Math.max(this.bytesPerToken, both / Math.max(1, tokens.length));
      this.failureLogged = false;
      this.emit("saved", tokens.length);
      // The same conversation, grown: the re-sent answer may be tokenized differently from the
      // generated one, so "extends" allows for a short differing tail.
      const slack = this.options.replaceWithinTokens ?? 0;
      for (const state of [...this.states.values()])
        if (
          state.name !== name &&
          state.pins === 0 &&
          commonPrefixLength(state.tokens, tokens) >= Math.max(1, state.tokens.length - slack)
        )
          await this.remove(state, "replaced");
      await this.makeRoom(0, name);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      await rm(`${statePath}.json.tmp`, { force: true }).catch(() => undefined);
      const known = this.states.get(name);
      if (known === undefined) await rm(statePath, { force: true }).catch(() => undefined);
      this.failed(tokens.length, error);
    }
  }

  /** A state there was no time left to save (a stop's or an unload's bound): counted, so a short bound shows. */
  countUnsaved(tokens: number): void {
    if (this.usable) this.emit("unsaved", tokens);
  }

  /**
   * Loads a stored state into `sequence` (whose own content is erased first). Resolves true when the
   * sequence now holds the state's tokens; false when the state was unusable (then removed) or the
   * load failed — the sequence is empty then.
   */
  async restore(
    name: string,
    sequence: LlamaContextSequence,
    letIn: <T>(work: () => Promise<T>) => Promise<T>,
  ): Promise<boolean> {
    const state = this.states.get(name);
    if (state === undefined) return false;
    state.pins += 1;
    try {
      const statePath = join(this.keyDirectory, `${name}.state`);
      const sha256 = await sha256Of(statePath).catch(() => "unreadable");
      if (sha256 !== state.sha256) {
        await this.remove(state, "rejected", `state file ${name}.state does not match its sha256 (${sha256})`);
        return false;
      }
      // Emptied first, so that a load llama.cpp refuses leaves no cells node-llama-cpp has forgotten.
      if (sequence.nextTokenIndex > 0)
        await letIn(() => sequence.eraseContextTokenRanges([{ start: 0, end: sequence.nextTokenIndex }]));
      try {
        await letIn(() => sequence.loadStateFromFile(statePath, { acceptRisk: true }));
      } catch (error) {
        await this.remove(state, "rejected", `llama.cpp refused ${name}.state: ${describe(error)}`);
        return false;
      }
      if (commonPrefixLength(sequence.contextTokens, state.tokens) !== state.tokens.length) {
        await letIn(() => sequence.eraseContextTokenRanges([{ start: 0, end: sequence.nextTokenIndex }]));
        await this.remove(state, "rejected", `${name}.state holds other tokens than its metadata says`);
        return false;
      }
      state.lastUsed = Date.now();
      const seconds = state.lastUsed / 1000;
      await utimes(this.metadataPath(name), seconds, seconds).catch(() => undefined);
      this.emit("restored", state.tokens.length);
      return true;
    } finally {
      state.pins -= 1;
    }
  }

  private metadataPath(name: string): string {
    return join(this.keyDirectory, `${name}.json`);
  }

  private async scanOwn(): Promise<void> {
    const entries = await readdir(this.keyDirectory);
    const names = new Set(entries.filter((entry) => entry.endsWith(".json")).map((entry) => entry.slice(0, -5)));
    for (const entry of entries) {
      const name = entry.replace(/\.(state|json)$/, "");
      if (entry.endsWith(".tmp") || (entry.endsWith(".state") && !names.has(name)))
        await rm(join(this.keyDirectory, entry), { force: true });
    }
    for (const name of names) {
      const state = await this.readMetadata(name);
      if (state !== undefined) {
        this.states.set(name, state);
        this.bytesPerToken = Math.max(this.bytesPerToken, state.bytes / Math.max(1, state.tokens.length));
        continue;
      }
      await rm(this.metadataPath(name), { force: true });
      await rm(join(this.keyDirectory, `${name}.state`), { force: true });
      this.emit("rejected", 0, `${name}: unreadable metadata, another model's, or a state file of the wrong size`);
    }
  }

  private async readMetadata(name: string): Promise<StoredState | undefined> {
    try {
      const path = this.metadataPath(name);
      const metadata = JSON.parse(await readFile(path, "utf8")) as Partial<StateMetadata>;
      const { tokens, bytes, sha256 } = metadata;
      if (metadata.format !== 1 || metadata.modelKey !== this.options.modelKey) return undefined;
      if (!Array.isArray(tokens) || !tokens.every((token) => Number.isInteger(token) && token >= 0)) return undefined;
      if (typeof bytes !== "number" || typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
      if ((await stat(join(this.keyDirectory, `${name}.state`))).size !== bytes) return undefined;
      const json = await stat(path);
      return { name, tokens: tokens as Token[], bytes: bytes + json.size, sha256, lastUsed: json.mtimeMs, pins: 0 };
    } catch {
      return undefined;
    }
  }

  /** Other keys' files (another model, context size or sequence count): kept while room allows. */
  private async scanForeign(): Promise<void> {
    for (const key of await readdir(this.options.directory)) {
      if (key === this.options.modelKey) continue;
      const directory = join(this.options.directory, key);
      const files = await readdir(directory).catch(() => [] as string[]);
      for (const file of files) {
        const path = join(directory, file);
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile()) this.foreign.push({ path, bytes: info.size, lastUsed: info.mtimeMs });
      }
    }
    this.foreign.sort((a, b) => a.lastUsed - b.lastUsed);
  }

  /** Evicts until `incoming` more bytes fit under maxBytes: other keys' files first, then LRU. */
  private async makeRoom(incoming: number, keep?: string): Promise<void> {
    while (this.usedBytes + incoming > this.options.maxBytes) {
      const file = this.foreign.shift();
      if (file !== undefined) {
        await rm(file.path, { force: true });
        this.emit("evicted", 0, `another model's state ${file.path}`);
        continue;
      }
      const victims = [...this.states.values()].filter((state) => state.pins === 0 && state.name !== keep);
      victims.sort((a, b) => a.lastUsed - b.lastUsed);
      const victim = victims[0] ?? (keep !== undefined ? this.states.get(keep) : undefined);
      if (victim === undefined || victim.pins > 0) return;
      await this.remove(victim, "evicted");
    }
  }

  private async remove(state: StoredState, kind: SequenceStateEventKind, reason?: string): Promise<void> {
    this.states.delete(state.name);
    await rm(this.metadataPath(state.name), { force: true });
    await rm(join(this.keyDirectory, `${state.name}.state`), { force: true });
    this.emit(kind, state.tokens.length, reason);
    if (kind === "rejected") this.options.onLog?.("warn", `sequence state ignored and deleted: ${reason}`);
  }

  private failed(tokens: number, error: unknown): void {
    this.pausedUntil = Date.now() + pauseAfterFailureMs;
    this.emit("failed", tokens, describe(error));
    if (this.failureLogged) return;
    this.failureLogged = true;
    this.options.onLog?.(
      "warn",
      `a sequence state could not be saved (${describe(error)}): saving pauses for ${pauseAfterFailureMs / 1000} s`,
    );
  }

  private emit(kind: SequenceStateEventKind, tokens: number, reason?: string): void {
    this.options.onEvent?.({ kind, tokens, usedBytes: this.usedBytes, ...(reason === undefined ? {} : { reason }) });
  }
}

function sha256Of(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error);
}
