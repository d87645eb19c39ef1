/**
 * The model store: one directory of model files with a fixed layout.
 *
 *   <dir>/<file>                     complete files, only ever put there by an atomic rename after verification
 *   <dir>/.verified/<file>.json      what was verified: sha256, size and mtime of <dir>/<file> at that moment
 *   <dir>/.partial/<file>.part       a download in progress (resumable)
 *   <dir>/.partial/<file>.part.json  its source: url, expected size, sha256, etag
 *   <dir>/.partial/<file>.corrupt    a file that failed verification, kept for inspection (never loaded)
 *   <dir>/.partial/<file>.lock       held (pid) by whoever writes, verifies or removes <file>
 *
 * A complete file is "verified" only while its size and mtime still match its `.verified` record.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultStoreDirectory } from "./defaultModelLocation.js";
import { sha256OfFile } from "./hashFile.js";
import { assertStoreFileName, storeFileNameProblem } from "./storeFileName.js";
import { type AcquireLockOptions, acquireFileLock, type FileLock } from "./storeLock.js";

export interface VerifiedRecord {
  fileName: string;
  sha256: string;
  sizeBytes: number;
  mtimeMs: number;
  verifiedAt: string;
  /** The catalog's sha256 the file was checked against; null when none was known. */
  expectedSha256: string | null;
  /** true when the sha256 matched a known expected hash; false for --allow-unverified files. */
  trusted: boolean;
  source?: string;
}

export interface PartialInfo {
  url: string;
  expectedSizeBytes: number | null;
  sha256: string | null;
  etag: string | null;
}

export type StoredFileStatus = "verified" | "unverified" | "changed" | "unchecked";

export interface StoredModelFile {
  fileName: string;
  path: string;
  sizeBytes: number;
  mtimeMs: number;
  /** verified: matches a trusted record; unverified: recorded without a known hash; changed: differs from its record; unchecked: no record */
  status: StoredFileStatus;
  record: VerifiedRecord | null;
}

export interface PartialModelFile {
  fileName: string;
  path: string;
  bytes: number;
  info: PartialInfo | null;
}

export interface VerifyOutcome {
  fileName: string;
  /** verified: matches the expected sha256; unverified: no expected hash, same as recorded; mismatch: moved aside */
  result: "verified" | "unverified" | "mismatch";
  sha256: string;
  expectedSha256: string | null;
  movedTo?: string;
}

export class ModelStore {
  constructor(readonly directory: string = defaultStoreDirectory()) {}

  // Every path is built here, from a name checked to stay inside the store.
  completePath(fileName: string): string {
    return join(this.directory, assertStoreFileName(fileName));
  }
  partialPath(fileName: string): string {
    return join(this.directory, ".partial", `${assertStoreFileName(fileName)}.part`);
  }
  partialInfoPath(fileName: string): string {
    return join(this.directory, ".partial", `${assertStoreFileName(fileName)}.part.json`);
  }
  corruptPath(fileName: string): string {
    return join(this.directory, ".partial", `${assertStoreFileName(fileName)}.corrupt`);
  }
  lockPath(fileName: string): string {
    return join(this.directory, ".partial", `${assertStoreFileName(fileName)}.lock`);
  }
  verifiedRecordPath(fileName: string): string {
    return join(this.directory, ".verified", `${assertStoreFileName(fileName)}.json`);
  }

  async ensureLayout(): Promise<void> {
    await mkdir(join(this.directory, ".partial"), { recursive: true });
    await mkdir(join(this.directory, ".verified"), { recursive: true });
  }

  /** Takes the file's exclusive lock (waiting for a live holder, taking over a dead one's). */
  async lock(fileName: string, options: AcquireLockOptions = {}): Promise<FileLock> {
    const path = this.lockPath(fileName); // checks the name before anything is created
    await this.ensureLayout();
    return acquireFileLock(path, options);
  }

  /** Free bytes for an unprivileged writer on the store's file system. */
  async freeBytes(): Promise<number> {
    await this.ensureLayout();
    const stats = await statfs(this.directory);
    return Number(stats.bavail) * Number(stats.bsize);
  }

  async readVerifiedRecord(fileName: string): Promise<VerifiedRecord | null> {
    return readJson<VerifiedRecord>(this.verifiedRecordPath(fileName));
  }

  async readPartialInfo(fileName: string): Promise<PartialInfo | null> {
    return readJson<PartialInfo>(this.partialInfoPath(fileName));
  }

  async writePartialInfo(fileName: string, info: PartialInfo): Promise<void> {
    await writeJsonAtomically(this.partialInfoPath(fileName), info);
  }

  /** The complete file's state, or null when there is none. */
  async storedFile(fileName: string): Promise<StoredModelFile | null> {
    const path = this.completePath(fileName);
    let stats: Awaited<ReturnType<typeof stat>>;
    try {
      stats = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    if (!stats.isFile()) return null;
    const record = await this.readVerifiedRecord(fileName);
    let status: StoredFileStatus = "unchecked";
    if (record) {
      const same = record.sizeBytes === stats.size && record.mtimeMs === stats.mtimeMs;
      status = !same ? "changed" : record.trusted ? "verified" : "unverified";
    }
    return { fileName, path, sizeBytes: stats.size, mtimeMs: stats.mtimeMs, status, record };
  }

  /** Complete files (with their verification status) and downloads in progress. */
  async list(): Promise<{ files: StoredModelFile[]; partial: PartialModelFile[] }> {
    const files: StoredModelFile[] = [];
    const partial: PartialModelFile[] = [];
    for (const name of (await readdirOrEmpty(this.directory)).sort()) {
      if (storeFileNameProblem(name) !== undefined) continue;
      const file = await this.storedFile(name);
      if (file) files.push(file);
    }
    for (const name of (await readdirOrEmpty(join(this.directory, ".partial"))).sort()) {
      if (!name.endsWith(".part")) continue;
      const fileName = name.slice(0, -".part".length);
      if (storeFileNameProblem(fileName) !== undefined) continue;
      const path = this.partialPath(fileName);
      const bytes = await stat(path).then(
        (s) => s.size,
        () => 0,
      );
      partial.push({ fileName, path, bytes, info: await this.readPartialInfo(fileName) });
    }
    return { files, partial };
  }

  /**
   * Moves a finished download into place: fsync, atomic rename over `<dir>/<file>`, then the record.
   * The caller holds the lock and has already checked the sha256.
   */
  async installVerified(
    fileName: string,
    fromPath: string,
    verified: Omit<VerifiedRecord, "fileName" | "sizeBytes" | "mtimeMs" | "verifiedAt">,
  ): Promise<StoredModelFile> {
    await fsyncPath(fromPath);
    await rm(this.verifiedRecordPath(fileName), { force: true });
    await rename(fromPath, this.completePath(fileName));
    await fsyncPath(this.directory);
    await this.recordVerified(fileName, verified);
    await rm(this.partialInfoPath(fileName), { force: true });
    const stored = await this.storedFile(fileName);
    if (!stored) throw new Error(`${this.completePath(fileName)} vanished after the rename`);
    return stored;
  }

  async recordVerified(
    fileName: string,
    verified: Omit<VerifiedRecord, "fileName" | "sizeBytes" | "mtimeMs" | "verifiedAt">,
  ): Promise<void> {
    const stats = await stat(this.completePath(fileName));
    const record: VerifiedRecord = {
      fileName,
      ...verified,
      sizeBytes: stats.size,
      mtimeMs: stats.mtimeMs,
      verifiedAt: new Date().toISOString(),
    };
    await writeJsonAtomically(this.verifiedRecordPath(fileName), record);
  }

  /** Moves a file that failed verification to `.partial/<file>.corrupt` (replacing an older one). */
  async moveAsideCorrupt(fileName: string, fromPath: string): Promise<string> {
    await this.ensureLayout();
    const to = this.corruptPath(fileName);
    await rename(fromPath, to);
    if (fromPath === this.completePath(fileName)) await rm(this.verifiedRecordPath(fileName), { force: true });
    return to;
  }

  /**
   * Hashes the complete file (under its lock) and compares it with `expectedSha256`, or, when that is
   * null, with its own record. A mismatch moves the file aside: it never stays looking complete.
   */
  async verify(
    fileName: string,
    expectedSha256: string | null,
    options: { lock?: AcquireLockOptions; onBytes?: (bytesDone: number) => void } = {},
  ): Promise<VerifyOutcome | null> {
    const lock = await this.lock(fileName, options.lock);
    try {
      const file = await this.storedFile(fileName);
      if (!file) return null;
      const sha256 = await sha256OfFile(file.path, options.onBytes ? { onBytes: options.onBytes } : {});
      const against = expectedSha256 ?? file.record?.sha256 ?? null;
      if (against !== null && against !== sha256) {
        const movedTo = await this.moveAsideCorrupt(fileName, file.path);
        return { fileName, result: "mismatch", sha256, expectedSha256: against, movedTo };
      }
      const trusted = expectedSha256 !== null || (file.record?.trusted ?? false);
      await this.recordVerified(fileName, {
        sha256,
        expectedSha256: expectedSha256 ?? file.record?.expectedSha256 ?? null,
        trusted,
        ...(file.record?.source ? { source: file.record.source } : {}),
      });
      return { fileName, result: trusted ? "verified" : "unverified", sha256, expectedSha256: against };
    } finally {
      await lock.release();
    }
  }

  /** Deletes the file, its record and any partial or corrupt download (under its lock). */
  async remove(fileName: string, options: { lock?: AcquireLockOptions } = {}): Promise<string[]> {
    const lock = await this.lock(fileName, options.lock);
    try {
      const removed: string[] = [];
      for (const path of [
        this.completePath(fileName),
        this.verifiedRecordPath(fileName),
        this.partialPath(fileName),
        this.partialInfoPath(fileName),
        this.corruptPath(fileName),
      ]) {
        if (await exists(path)) {
          await rm(path, { force: true });
          removed.push(path);
        }
      }
      return removed;
    } finally {
      await lock.release();
    }
  }
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch {
    return null;
  }
}

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readdirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
