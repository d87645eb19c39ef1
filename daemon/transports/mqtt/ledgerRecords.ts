/** The delivery ledger's records (one JSON object per line) and the check each line read back must pass. */

export interface ReplyTarget {
  topic: string;
  /** MQTT v5 correlation data, base64. */
  correlationData?: string | undefined;
}

export type LedgerRecord =
  | { t: "accepted"; key: string; payload: string; reply: ReplyTarget; at: number; keep?: number | null }
  | { t: "started"; key: string }
  | { t: "final"; key: string; reply: ReplyTarget; message: string; at: number }
  /** The final answer's QoS 2 PUBLISH went out with this packet id (resent with it after a restart). */
  | { t: "sent"; key: string; pid: number }
  /** The broker has the final answer (PUBREC came, PUBREL went out): after a restart only PUBREL is resent. */
  | { t: "released"; key: string }
  | { t: "delivered"; key: string; at: number }
  /** Compacted answered entries; older versions wrote it without final or keep. */
  | { t: "answered"; key: string; at: number; final?: string; keep?: number | null };

/** Whether a parsed line is a record this version understands (anything else is corruption). */
export function isLedgerRecord(value: object): boolean {
  const record = value as Record<string, unknown>;
  if (typeof record.key !== "string" || record.key.length === 0) return false;
  const at = typeof record.at === "number" && Number.isFinite(record.at);
  const keep = record.keep === undefined || record.keep === null || typeof record.keep === "number";
  switch (record.t) {
    case "accepted":
      return typeof record.payload === "string" && isReplyTarget(record.reply) && at && keep;
    case "started":
    case "released":
      return true;
    case "sent":
      return Number.isInteger(record.pid) && (record.pid as number) > 0 && (record.pid as number) < 65_536;
    case "final":
      return typeof record.message === "string" && isReplyTarget(record.reply) && at;
    case "delivered":
      return at;
    case "answered":
      return at && keep && (record.final === undefined || typeof record.final === "string");
    default:
      return false;
  }
}

function isReplyTarget(value: unknown): value is ReplyTarget {
  if (value === null || typeof value !== "object") return false;
  const target = value as Record<string, unknown>;
  return (
    typeof target.topic === "string" &&
    (target.correlationData === undefined || typeof target.correlationData === "string")
  );
}
