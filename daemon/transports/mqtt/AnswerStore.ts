/**
 * MQTT.js's store of outgoing packets awaiting acknowledgement, for the node's connection, with the
 * final answers' QoS 2 exchanges kept in the delivery ledger so they survive a crash.
 *
 * Final answers go out at QoS 2: the broker recognises a PUBLISH resent with the same packet id
 * within the session and forwards it once (Mosquitto releases it to subscribers on PUBREL). MQTT.js
 * resends what this store holds on every connection, with the original packet ids, so:
 *
 * - put(PUBLISH): the ledger records the packet id before the bytes are written;
 * - put(PUBREL) (MQTT.js's answer to PUBREC): the broker has the answer; after a crash only the PUBREL
 *   is resent, never the answer;
 * - del (PUBCOMP, or a refusal code from the broker): the answer is delivered.
 *
 * After a restart the store starts with the ledger's answers still in flight (`restore`), and
 * MQTT.js resends them (PUBLISH with DUP set, or PUBREL) on connecting: a crash at any point, and
 * a half-open link before it, ends with the answer delivered exactly once, provided the broker kept
 * the node's session (mqtt.sessionExpirySeconds > 0; a broker restart without persistence loses it,
 * and the resent answer may then be a second copy).
 */
import { Store } from "mqtt";
import type { Packet } from "mqtt-packet";
import type { DeliveryLedger, LedgerEntry } from "./DeliveryLedger.js";

type DoneCallback = (error?: Error) => void;

export class AnswerStore extends Store {
  /** topic + NUL + payload of finals about to be published → their ledger key. */
  private readonly awaiting = new Map<string, string>();
  /** Packet id → ledger key, for finals in flight. */
  private readonly keyByPid = new Map<number, string>();

  constructor(private readonly ledger: DeliveryLedger) {
    super();
  }

  /** Announces a final answer that is about to be published at QoS 2 (see put). */
  expect(key: string, topic: string, payload: string): void {
    this.awaiting.set(`${topic}\u0000${payload}`, key);
  }

  /** Answers in flight when the previous run ended: MQTT.js resends them on connecting. */
  restore(entries: LedgerEntry[]): void {
    for (const entry of entries) {
      if (entry.final === undefined || entry.pid === undefined) continue;
      this.keyByPid.set(entry.pid, entry.key);
      const packet: Packet = entry.released
        ? { cmd: "pubrel", messageId: entry.pid }
        : {
            cmd: "publish",
            topic: entry.reply.topic,
            payload: entry.final,
            qos: 2,
            retain: false,
            dup: true,
            messageId: entry.pid,
            ...(entry.reply.correlationData !== undefined
              ? { properties: { correlationData: Buffer.from(entry.reply.correlationData, "base64") } }
              : {}),
          };
      super.put(packet, () => undefined);
    }
  }

  override put(packet: Packet, cb: DoneCallback): this {
    const pid = packet.messageId;
    if (pid !== undefined) {
      if (packet.cmd === "publish" && packet.qos === 2) {
        const payload = typeof packet.payload === "string" ? packet.payload : packet.payload.toString("utf8");
        const match = `${packet.topic}\u0000${payload}`;
        const key = this.awaiting.get(match);
        if (key !== undefined) {
          this.awaiting.delete(match);
          this.keyByPid.set(pid, key);
          this.ledger.sent(key, pid);
        }
      } else if (packet.cmd === "pubrel") {
        const key = this.keyByPid.get(pid);
        if (key !== undefined) this.ledger.released(key);
      }
    }
    return super.put(packet, cb);
  }

  override del(packet: Pick<Packet, "messageId">, cb: (error?: Error, packet?: Packet) => void): this {
    const pid = packet.messageId;
    const key = pid === undefined ? undefined : this.keyByPid.get(pid);
    if (pid !== undefined && key !== undefined) {
      this.keyByPid.delete(pid);
      this.ledger.delivered(key);
    }
    return super.del(packet, cb);
  }
}
