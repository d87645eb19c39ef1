/**
 * The MQTT delivery ledger: what this node promised the broker, so that every request it
 * acknowledged ends with exactly one final answer, across crashes, and a duplicate gets the same
 * final answer again instead of silence.
 *
 * A request is recorded (`accept`) before its PUBACK is sent; when it cannot be (the disk refuses,
 * or the ledger is full of unanswered requests) the caller withholds the PUBACK and the broker
 * keeps the message. A final answer is recorded (`finished`) before it is published, and the
 * request counts as answered (`delivered`) only on the broker's PUBACK for it: a crash before that
 * publishes the recorded answer again after the restart. Once delivered, the prompt is dropped;
 * the final answer is kept for the dedupe window; a retained request keeps a tombstone (its key
 * only) for as long as the retained message can live, so it is answered once per id, ever.
 *
 * Disk faults never throw: the ledger turns `degraded` (one log line, an event), keeps its state
 * in memory, refuses new requests, and probes with a full rewrite until one succeeds (one log line).
 * Appends are not fsynced (an SD card makes an fsync per request slow): they survive a crash of
 * the process, not a power cut.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "../../logging/createLogger.js";
import { LedgerFile } from "./LedgerFile.js";
import { isLedgerRecord, type LedgerRecord, type ReplyTarget } from "./ledgerRecords.js";

export type { ReplyTarget } from "./ledgerRecords.js";

export interface LedgerEntry {
  key: string;
  /** The request as received; empty for a request refused at once (only its answer matters). */
  payload: string;
  reply: ReplyTarget;
  acceptedAt: number;
  /** The first token went out: a restart cannot serve it again, only end it. */
  started: boolean;
  /** The final answer, once produced (JSON): published again after a restart until the broker has it. */
  final?: string | undefined;
  /** The packet id its final answer's QoS 2 PUBLISH went out with. */
  pid?: number | undefined;
  /** PUBREC came for it: the broker has the answer; only its PUBREL is owed. */
  released?: boolean | undefined;
  /** Retained requests: keep a tombstone until this time (ms since the epoch); null: forever. */
  keepUntil?: number | null | undefined;
}

interface AnsweredEntry {
  at: number;
  final?: string | undefined;
  keepUntil?: number | null | undefined;
}

export type Lookup =
  | { kind: "pending"; entry: LedgerEntry }
  | { kind: "answered"; final: string | undefined; retained: boolean }
  | undefined;

/** recorded: acknowledge it; full: too many unanswered requests; failed: the disk refuses. */
export type RecordOutcome = "recorded" | "full" | "failed";

export interface DeliveryLedgerOptions {
  path: string;
  /** The journal file of older versions, read once when the ledger file does not exist yet. */
  legacyPath?: string | undefined;
  dedupeWindowMs: number;
  /** The file is compacted past this size; unanswered requests may fill at most half of it. */
  maxBytes: number;
  /** How often a degraded ledger tries to write again. */
  probeIntervalMs?: number;
  log: Logger;
}

export interface DeliveryLedgerEvents {
  degraded: [reason: string];
  recovered: [];
  /** A request left the ledger's unanswered set: room for one held back as "full". */
  delivered: [];
}

export class DeliveryLedger extends EventEmitter<DeliveryLedgerEvents> {
  private readonly file: LedgerFile;
  private readonly pending = new Map<string, LedgerEntry>();
  /** key → answer, oldest first (re-inserted when answered). */
  private readonly answered = new Map<string, AnsweredEntry>();
  private pendingBytes = 0;
  private degradedReason: string | undefined;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: DeliveryLedgerOptions) {
    super();
    this.file = new LedgerFile(options.path);
  }

  get degraded(): boolean {
    return this.degradedReason !== undefined;
  }

  get reason(): string | undefined {
    return this.degradedReason;
  }

  /** Reads what the previous run left, compacts it, and returns the requests still owed an answer. */
  open(now = Date.now()): LedgerEntry[] {
    const { log, legacyPath } = this.options;
    this.file.prepareDirectory();
    const read = this.file.read(isLedgerRecord, legacyPath);
    if (read.movedTo)
      log.warn(
        { path: this.options.path, movedTo: read.movedTo, badLines: read.badLines, readError: read.readError },
        "the MQTT delivery ledger was corrupt; moved it aside and kept what could be read",
      );
    else if (read.readError || read.failure)
      log.warn(
        { path: this.options.path, readError: read.readError, moveError: read.failure },
        "the MQTT delivery ledger could not be read; starting with an empty one",
      );
    for (const record of read.records) this.apply(record as LedgerRecord);
    this.forgetExpired(now);
    if (!this.compact(now)) this.enterDegraded(this.file.lastError);
    else if (legacyPath) this.file.removeLegacy(legacyPath);
    return [...this.pending.values()];
  }

  lookup(key: string, now = Date.now()): Lookup {
    const entry = this.pending.get(key);
    if (entry) return { kind: "pending", entry };
    const answer = this.answered.get(key);
    if (!answer) return undefined;
    const inWindow = now - answer.at < this.options.dedupeWindowMs;
    const retained = answer.keepUntil !== undefined && (answer.keepUntil === null || answer.keepUntil > now);
    if (!inWindow && !retained) return undefined;
    return { kind: "answered", final: inWindow ? answer.final : undefined, retained };
  }

  /** Records an accepted request before its PUBACK. `keepUntil`: see LedgerEntry (retained requests). */
  accept(key: string, payload: string, reply: ReplyTarget, keepUntil?: number | null, now = Date.now()): RecordOutcome {
    if (this.degraded) return "failed";
    const record: LedgerRecord = { t: "accepted", key, payload, reply, at: now, ...keepField(keepUntil) };
    const line = JSON.stringify(record);
    if (this.pendingBytes + line.length > this.options.maxBytes / 2) return "full";
    if (!this.write([line], now)) return "failed";
    this.apply(record);
    return "recorded";
  }

  /** The first token went out. */
  started(key: string, now = Date.now()): void {
    const entry = this.pending.get(key);
    if (!entry || entry.started) return;
    entry.started = true;
    this.write([JSON.stringify({ t: "started", key } satisfies LedgerRecord)], now);
  }

  /**
   * The final answer, recorded before it is published. For a request refused at once (never
   * accepted) this creates its entry, without the prompt. Kept in memory when the disk refuses.
   */
  finished(key: string, reply: ReplyTarget, message: string, now = Date.now()): void {
    const record: LedgerRecord = { t: "final", key, reply, message, at: now };
    this.apply(record);
    this.write([JSON.stringify(record)], now);
  }

  /** The final answer's QoS 2 PUBLISH is about to be written with packet id `pid`. */
  sent(key: string, pid: number, now = Date.now()): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    entry.pid = pid;
    entry.released = false;
    this.write([JSON.stringify({ t: "sent", key, pid } satisfies LedgerRecord)], now);
  }

  /** PUBREC came: the broker holds the answer; a restart resends only the PUBREL. */
  released(key: string, now = Date.now()): void {
    const entry = this.pending.get(key);
    if (!entry || entry.released) return;
    entry.released = true;
    this.write([JSON.stringify({ t: "released", key } satisfies LedgerRecord)], now);
  }

  /** The broker acknowledged the final answer (PUBCOMP): the request is answered. */
  delivered(key: string, now = Date.now()): void {
    if (!this.pending.has(key)) return;
    const record: LedgerRecord = { t: "delivered", key, at: now };
    this.apply(record);
    this.write([JSON.stringify(record)], now);
    this.emit("delivered");
  }

  close(): void {
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.file.close();
  }

  private apply(record: LedgerRecord): void {
    switch (record.t) {
      case "accepted":
        this.setPending({
          key: record.key,
          payload: record.payload,
          reply: record.reply,
          acceptedAt: record.at,
          started: false,
          keepUntil: record.keep,
        });
        break;
      case "started": {
        const entry = this.pending.get(record.key);
        if (entry) entry.started = true;
        break;
      }
      case "sent": {
        const entry = this.pending.get(record.key);
        if (entry) {
          entry.pid = record.pid;
          entry.released = false;
        }
        break;
      }
      case "released": {
        const entry = this.pending.get(record.key);
        if (entry) entry.released = true;
        break;
      }
      case "final": {
        const entry = this.pending.get(record.key);
        if (entry) this.setPending({ ...entry, final: record.message });
        else
          this.setPending({
            key: record.key,
            payload: "",
            reply: record.reply,
            acceptedAt: record.at,
            started: false,
            final: record.message,
          });
        break;
      }
      case "delivered": {
        const entry = this.pending.get(record.key);
        this.deletePending(record.key);
        this.answered.delete(record.key);
        this.answered.set(record.key, { at: record.at, final: entry?.final, keepUntil: entry?.keepUntil });
        break;
      }
      case "answered":
        this.answered.delete(record.key);
        this.answered.set(record.key, { at: record.at, final: record.final, keepUntil: record.keep });
        this.deletePending(record.key);
        break;
    }
  }

  private setPending(entry: LedgerEntry): void {
    this.deletePending(entry.key);
    this.pending.set(entry.key, entry);
    this.pendingBytes += entry.payload.length + (entry.final?.length ?? 0) + 100;
  }

  private deletePending(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    this.pending.delete(key);
    this.pendingBytes -= entry.payload.length + (entry.final?.length ?? 0) + 100;
  }

  private write(lines: string[], now: number): boolean {
    if (this.degraded) return false;
    if (!this.file.append(lines)) {
      this.enterDegraded(this.file.lastError);
      return false;
    }
    if (this.file.bytes > this.options.maxBytes && !this.compact(now)) this.enterDegraded(this.file.lastError);
    return true;
  }

  /** Drops what the window no longer needs: finals after it, tombstones after their retained message. */
  private forgetExpired(now: number): void {
    for (const [key, answer] of this.answered) {
      if (now - answer.at < this.options.dedupeWindowMs) continue;
      const keep = answer.keepUntil === null || (answer.keepUntil !== undefined && answer.keepUntil > now);
      if (keep) answer.final = undefined;
      else this.answered.delete(key);
    }
  }

  /**
   * Rewrites the file from memory, within half of mqtt.journalMaxBytes: the oldest answered
   * entries lose their final answer first, then their tombstone; unanswered requests are never
   * dropped (the ledger refuses new ones before they could outgrow it).
   */
  private compact(now: number): boolean {
    this.forgetExpired(now);
    const pendingLines: string[] = [];
    for (const entry of this.pending.values()) {
      pendingLines.push(
        JSON.stringify({
          t: "accepted",
          key: entry.key,
          payload: entry.payload,
          reply: entry.reply,
          at: entry.acceptedAt,
          ...keepField(entry.keepUntil),
        } satisfies LedgerRecord),
      );
      if (entry.started) pendingLines.push(JSON.stringify({ t: "started", key: entry.key } satisfies LedgerRecord));
      if (entry.final !== undefined)
        pendingLines.push(
          JSON.stringify({
            t: "final",
            key: entry.key,
            reply: entry.reply,
            message: entry.final,
            at: entry.acceptedAt,
          } satisfies LedgerRecord),
        );
      if (entry.final !== undefined && entry.pid !== undefined)
        pendingLines.push(JSON.stringify({ t: "sent", key: entry.key, pid: entry.pid } satisfies LedgerRecord));
      if (entry.final !== undefined && entry.released)
        pendingLines.push(JSON.stringify({ t: "released", key: entry.key } satisfies LedgerRecord));
    }
    const budget = this.options.maxBytes / 2;
    let bytes = pendingLines.reduce((sum, line) => sum + line.length + 1, 0);
    const answeredLines = new Map<string, string>();
    for (const [key, answer] of this.answered) {
      const line = answeredLine(key, answer);
      answeredLines.set(key, line);
      bytes += line.length + 1;
    }
    // Oldest first: drop finals, then whole entries, until the file fits.
    for (const [key, answer] of this.answered) {
      if (bytes <= budget) break;
      const before = answeredLines.get(key) ?? "";
      if (answer.final !== undefined && answer.keepUntil !== undefined) {
        answer.final = undefined;
        const after = answeredLine(key, answer);
        answeredLines.set(key, after);
        bytes -= before.length - after.length;
      } else {
        this.answered.delete(key);
        answeredLines.delete(key);
        bytes -= before.length + 1;
      }
    }
    for (const [key, answer] of this.answered) {
      if (bytes <= budget) break;
      const before = answeredLines.get(key) ?? "";
      if (answer.keepUntil === undefined) continue;
      this.answered.delete(key);
      answeredLines.delete(key);
      bytes -= before.length + 1;
    }
    return this.file.rewrite([...answeredLines.values(), ...pendingLines]);
  }

  private enterDegraded(reason: string): void {
    if (this.degraded) return;
    this.degradedReason = reason || "unknown";
    this.options.log.error(
      { path: this.options.path, reason: this.degradedReason },
      "MQTT delivery ledger cannot be written: new MQTT requests stay with the broker (not acknowledged) until it can; WebSocket serving goes on",
    );
    this.probeTimer = setInterval(() => this.probe(), this.options.probeIntervalMs ?? 1000);
    this.probeTimer.unref();
    this.emit("degraded", this.degradedReason);
  }

  private probe(): void {
    const reason = this.degradedReason;
    this.file.prepareDirectory();
    // Still failing, or a disk so nearly full that the next append would fail again (no flapping):
    // stay degraded quietly (one log line on entering, one on leaving).
    if (this.file.freeBytes() < recoveryReserveBytes + this.pendingBytes) return;
    if (!this.compact(Date.now())) return;
    this.degradedReason = undefined;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    this.options.log.info(
      { path: this.options.path, was: reason },
      "MQTT delivery ledger writable again; taking MQTT requests",
    );
    this.emit("recovered");
  }
}

/** Free space a degraded ledger waits for (besides its own unanswered requests) before it takes requests again. */
const recoveryReserveBytes = 16 * 1024;

function keepField(keepUntil: number | null | undefined): { keep?: number | null } {
  return keepUntil === undefined ? {} : { keep: keepUntil };
}

function answeredLine(key: string, answer: AnsweredEntry): string {
  return JSON.stringify({
    t: "answered",
    key,
    at: answer.at,
    ...(answer.final === undefined ? {} : { final: answer.final }),
    ...keepField(answer.keepUntil),
  } satisfies LedgerRecord);
}
