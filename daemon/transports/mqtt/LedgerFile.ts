/**
 * The delivery ledger's file: one JSON record per line, appended while running and rewritten whole
 * (compacted) through a temporary file and a rename. Mode 0600 in a 0700 directory: the file holds
 * prompts until they are answered, and answers for the dedupe window.
 *
 * No method throws for a disk fault (ENOSPC, EROFS, EIO, a directory where the file should be):
 * writes report false and the ledger degrades; reads report what they salvaged. A write that
 * failed may have left a torn line, so after a failure nothing is appended again until a full
 * rewrite has succeeded (the ledger's probe does that).
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statfsSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

export interface LedgerFileRead {
  /** Every line that parsed as a JSON object, in order. */
  records: Array<Record<string, unknown>>;
  /** Lines that did not (a torn last line is not counted). */
  badLines: number;
  /** Where a corrupt file (or a directory in its place) was moved, when it was. */
  movedTo?: string | undefined;
  /** Why the file could not be read (it is then moved aside when it can be). */
  readError?: string | undefined;
  /** Why a file to be moved aside could not be (it is then ignored, and overwritten by the next rewrite). */
  failure?: string | undefined;
}

export class LedgerFile {
  private fd: number | undefined;
  /** Bytes in the file now (appends since the last rewrite included). */
  bytes = 0;
  /** The error code of the last write the disk refused. */
  lastError = "";

  constructor(readonly path: string) {}

  /** Creates the ledger's directory with mode 0700; false when it cannot (read-only, full disk). */
  prepareDirectory(): boolean {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      chmodSync(dirname(this.path), 0o700);
      return true;
    } catch {
      return existsSync(dirname(this.path));
    }
  }

  /**
   * Reads the file (or `legacyPath`, the journal of older versions, when the file is absent). A
   * file with bad lines, or a directory in its place, is renamed `<name>.corrupt-<time>` so the next
   * rewrite starts clean and an operator can look at it; its good lines are still returned.
   */
  read(isRecord: (value: object) => boolean, legacyPath?: string): LedgerFileRead {
    const source = !existsSync(this.path) && legacyPath && existsSync(legacyPath) ? legacyPath : this.path;
    let text: string;
    try {
      if (!existsSync(source)) return { records: [], badLines: 0 };
      if (statSync(source).isDirectory())
        return { records: [], badLines: 0, readError: "EISDIR", ...this.moveAside(source) };
      text = readFileSync(source, "utf8");
    } catch (error) {
      const moved = this.moveAside(source);
      return { records: [], badLines: 0, readError: errorCode(error), ...moved };
    }
    const lines = text.split("\n");
    const records: Array<Record<string, unknown>> = [];
    let badLines = 0;
    lines.forEach((line, index) => {
      if (line.length === 0) return;
      try {
        const value: unknown = JSON.parse(line);
        if (value !== null && typeof value === "object" && !Array.isArray(value) && isRecord(value)) {
          records.push(value as Record<string, unknown>);
          return;
        }
      } catch {
        // A crash mid-append leaves the last line torn; that is expected, not corruption.
        if (index === lines.length - 1) return;
      }
      badLines += 1;
    });
    return { records, badLines, ...(badLines > 0 ? this.moveAside(source) : {}) };
  }

  /** Appends records; false when the disk refuses (nothing is appended again until a rewrite succeeds). */
  append(lines: string[]): boolean {
    if (this.fd === undefined) return false;
    const chunk = `${lines.join("\n")}\n`;
    try {
      writeSync(this.fd, chunk);
      this.bytes += Buffer.byteLength(chunk);
      return true;
    } catch (error) {
      this.lastError = errorCode(error);
      this.closeAppender();
      return false;
    }
  }

  /** Replaces the file with `lines` (fsync, then an atomic rename); false when the disk refuses. */
  rewrite(lines: string[]): boolean {
    this.closeAppender();
    const temporary = `${this.path}.compact`;
    const text = lines.length > 0 ? `${lines.join("\n")}\n` : "";
    let fd: number | undefined;
    try {
      fd = openSync(temporary, "w", 0o600);
      writeSync(fd, text);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      renameSync(temporary, this.path);
      this.fd = openSync(this.path, "a", 0o600);
      this.bytes = Buffer.byteLength(text);
      return true;
    } catch (error) {
      this.lastError = errorCode(error);
      if (fd !== undefined) closeQuietly(fd);
      try {
        unlinkSync(temporary);
      } catch {
        // Nothing to remove, or the disk refuses that too: the next rewrite overwrites it.
      }
      this.closeAppender();
      return false;
    }
  }

  /** Removes the journal file of older versions once its records live in the ledger. */
  removeLegacy(legacyPath: string): void {
    try {
      if (legacyPath !== this.path && existsSync(legacyPath)) unlinkSync(legacyPath);
    } catch {
      // Left in place; it is read only while the ledger file is absent.
    }
  }

  close(): void {
    this.closeAppender();
  }

  /** Bytes the ledger's filesystem has free for this process (Infinity when it cannot tell). */
  freeBytes(): number {
    try {
      const stats = statfsSync(dirname(this.path));
      return stats.bavail * stats.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  private closeAppender(): void {
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
  }

  private moveAside(source: string): { movedTo?: string; failure?: string } {
    const target = `${source}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    try {
      renameSync(source, target);
      return { movedTo: target };
    } catch (error) {
      return { failure: errorCode(error) };
    }
  }
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed, or the device is gone: nothing more to do with it.
  }
}
