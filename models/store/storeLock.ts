/**
 * An exclusive lock per store file, so two processes (or two pulls in one process) never write the
 * same file: a lock file created with `open(path, "wx")` holding `pid token boot=<boot id>
 * start=<process start time>`. A lock whose process no longer runs is stale and is taken over at
 * once (moved aside by an atomic rename, so only one taker wins): one written in an earlier boot, or
 * naming a pid that is gone or that now belongs to another process (see processIdentity.ts: a
 * rebooted board reuses pids, so a pid alone would make a pull wait on a stranger, or on itself).
 */
import { randomUUID } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ModelStoreError } from "./ModelStoreError.js";
import { isSameProcessAlive, ownProcessIdentity, type ProcessIdentity } from "./processIdentity.js";

export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface AcquireLockOptions {
  /** How long to wait for a live holder; 0 = fail at once. Defaults to 30 minutes. */
  waitMs?: number;
  /** How often to look again while waiting. Defaults to 250 ms. */
  pollMs?: number;
  /** Called once per holder when the lock is held by someone else (for "already being pulled by pid N"). */
  onWaiting?: (holderPid: number | null) => void;
  signal?: AbortSignal;
}

/** A lock file without a pid yet (its writer is between open and write) counts as live this long. */
const unwrittenLockGraceMs = 10_000;

export async function acquireFileLock(path: string, options: AcquireLockOptions = {}): Promise<FileLock> {
  const waitMs = options.waitMs ?? 30 * 60_000;
  const pollMs = options.pollMs ?? 250;
  const content = lockContent(ownProcessIdentity());
  const started = Date.now();
  let reportedHolder: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(path, content)) return { path, release: () => releaseLock(path, content) };
    const holder = await readHolder(path);
    if (holder === undefined) continue; // released between our open and read: try again at once
    const identity = parseHolder(holder);
    const pid = identity?.pid ?? null;
    if (identity !== null ? !isSameProcessAlive(identity) : await isOlderThan(path, unwrittenLockGraceMs)) {
      await moveStaleLockAside(path, holder);
      continue;
    }
    if (reportedHolder !== holder) {
      reportedHolder = holder;
      options.onWaiting?.(pid);
    }
    if (Date.now() - started >= waitMs) {
      throw new ModelStoreError(
        "E_STORE_LOCKED",
        `${path} is held by ${pid === null ? "another process" : `pid ${pid}`} (already being pulled); gave up after ${waitMs} ms`,
        { holderPid: pid },
      );
    }
    await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : {});
  }
}

/** The pid written in a lock file, or null if the file is absent or not yet written. */
export async function readLockHolderPid(path: string): Promise<number | null> {
  const holder = await readHolder(path);
  return holder === undefined ? null : (parseHolder(holder)?.pid ?? null);
}

function lockContent(identity: ProcessIdentity): string {
  const boot = identity.bootId === undefined ? "" : ` boot=${identity.bootId}`;
  const start = identity.startTime === undefined ? "" : ` start=${identity.startTime}`;
  return `${identity.pid} ${randomUUID()}${boot}${start}\n`;
}

async function tryCreate(path: string, content: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

async function readHolder(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The holder a lock file names; null while it is not yet written. Older locks ("pid token") have only the pid. */
function parseHolder(holder: string): ProcessIdentity | null {
  const match = /^(\d+)\s/.exec(holder);
  if (!match) return null;
  return {
    pid: Number(match[1]),
    bootId: /\sboot=(\S+)/.exec(holder)?.[1],
    startTime: /\sstart=(\S+)/.exec(holder)?.[1],
  };
}

async function isOlderThan(path: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > ms;
  } catch {
    return false;
  }
}

/**
 * Renames the stale lock to a unique name (atomic: of several processes that saw it stale, one wins).
 * If what was moved is not the stale lock that was read (a new holder slipped in), it is put back.
 */
async function moveStaleLockAside(path: string, staleHolder: string): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const moved = await readHolder(aside);
  if (moved !== staleHolder) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

async function releaseLock(path: string, content: string): Promise<void> {
  if ((await readHolder(path)) === content) await unlink(path).catch(() => undefined);
}
