/**
 * A small append-only journal of MQTT requests that were accepted (acknowledged to the broker) but
 * not yet answered, so that after a crash (kill -9) each of them is answered exactly once after the
 * restart, and a redelivered duplicate of an answered request is not served twice.
 *
 * One JSON record per line: accepted (with the raw request and where to answer), started (the first
 * token went out), answered. A torn last line (crash mid-write) is ignored. Writes are plain
 * appends: they survive a process crash (the kernel has the data); surviving power loss would
 * need an fsync per request, which an SD card makes slow, so it is not done.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

export interface ReplyTarget {
  topic: string;
  /** MQTT v5 correlation data, base64. */
  correlationData?: string | undefined;
}

export interface JournalEntry {
  key: string;
  payload: string;
  reply: ReplyTarget;
  acceptedAt: number;
  started: boolean;
}

type JournalRecord =
  | { t: "accepted"; key: string; payload: string; reply: ReplyTarget; at: number }
  | { t: "started"; key: string }
  | { t: "answered"; key: string; at: number };

export class RequestJournal {
  private readonly pending = new Map<string, JournalEntry>();
  /** key → when it was answered, for duplicate detection. */
  private readonly answered = new Map<string, number>();

  constructor(
    private readonly path: string,
    private readonly dedupeWindowMs: number,
  ) {}

  /** Reads the journal left by the previous run and compacts it. Returns the requests left unanswered. */
  open(now = Date.now()): JournalEntry[] {
    if (existsSync(this.path)) {
      for (const line of readFileSync(this.path, "utf8").split("\n")) {
        if (line.length === 0) continue;
        let record: JournalRecord;
        try {
          record = JSON.parse(line) as JournalRecord;
        } catch {
          continue; // a line torn by a crash mid-write
        }
        if (record.t === "accepted")
          this.pending.set(record.key, {
            key: record.key,
            payload: record.payload,
            reply: record.reply,
            acceptedAt: record.at,
            started: false,
          });
        else if (record.t === "started") {
          const entry = this.pending.get(record.key);
          if (entry) entry.started = true;
        } else if (record.t === "answered") {
          this.pending.delete(record.key);
          this.answered.set(record.key, record.at);
        }
      }
    }
    this.forgetOldAnswers(now);
    this.compact();
    return [...this.pending.values()];
  }

  isPending(key: string): boolean {
    return this.pending.has(key);
  }

  /** Whether `key` was answered within the dedupe window. */
  wasAnswered(key: string, now = Date.now()): boolean {
    const at = this.answered.get(key);
    return at !== undefined && now - at < this.dedupeWindowMs;
  }

  accepted(key: string, payload: string, reply: ReplyTarget, now = Date.now()): void {
    this.pending.set(key, { key, payload, reply, acceptedAt: now, started: false });
    this.append({ t: "accepted", key, payload, reply, at: now });
  }

  started(key: string): void {
    const entry = this.pending.get(key);
    if (!entry || entry.started) return;
    entry.started = true;
    this.append({ t: "started", key });
  }

  answeredNow(key: string, now = Date.now()): void {
    if (!this.pending.delete(key)) return;
    this.answered.set(key, now);
    this.append({ t: "answered", key, at: now });
    if (this.answered.size > 10_000) this.forgetOldAnswers(now);
  }

  private forgetOldAnswers(now: number): void {
    for (const [key, at] of this.answered) if (now - at >= this.dedupeWindowMs) this.answered.delete(key);
  }

  private compact(): void {
    const lines: string[] = [];
    for (const [key, at] of this.answered) lines.push(JSON.stringify({ t: "answered", key, at }));
    for (const entry of this.pending.values()) {
      lines.push(
        JSON.stringify({
          t: "accepted",
          key: entry.key,
          payload: entry.payload,
          reply: entry.reply,
          at: entry.acceptedAt,
        }),
      );
      if (entry.started) lines.push(JSON.stringify({ t: "started", key: entry.key }));
    }
    const temporary = `${this.path}.compact`;
    writeFileSync(temporary, lines.length > 0 ? `${lines.join("\n")}\n` : "");
    renameSync(temporary, this.path);
  }

  private append(record: JournalRecord): void {
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
