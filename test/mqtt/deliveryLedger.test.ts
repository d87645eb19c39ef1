/**
 * The delivery ledger's file on its own: private modes, prompts gone once answered, a bounded size
 * with the oldest answers dropped first, duplicates answered from it, and a restart that gets back
 * exactly what is still owed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { createLogger } from "../../daemon/logging/createLogger.js";
import { DeliveryLedger } from "../../daemon/transports/mqtt/DeliveryLedger.js";

const log = createLogger({ level: "silent" });
const reply = { topic: "replies/x" };

describe("delivery ledger", () => {
  const root = mkdtempSync(join(tmpdir(), "tinyllamad-ledger-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const ledgerAt = (name: string, maxBytes = 1 << 20) =>
    new DeliveryLedger({ path: join(root, name, "ledger.jsonl"), dedupeWindowMs: 600_000, maxBytes, log });

  it("keeps its file 0600 in a 0700 directory and drops each prompt once its answer is delivered", () => {
    const ledger = ledgerAt("modes");
    assert.deepEqual(ledger.open(), []);
    assert.equal(ledger.accept("k1", '{"prompt":"secret words"}', reply), "recorded");
    const path = join(root, "modes", "ledger.jsonl");
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, "modes")).mode & 0o777, 0o700);
    ledger.finished("k1", reply, '{"type":"done","id":"x"}');
    ledger.delivered("k1");
    ledger.close();
    const reopened = ledgerAt("modes");
    assert.deepEqual(reopened.open(), [], "nothing is owed");
    assert.ok(!readFileSync(path, "utf8").includes("secret words"), "the prompt is gone after compaction");
    assert.deepEqual(reopened.lookup("k1"), { kind: "answered", final: '{"type":"done","id":"x"}', retained: false });
    reopened.close();
  });

  it("after a restart returns what is owed: unanswered requests and answers the broker had not completed", () => {
    const ledger = ledgerAt("owed");
    ledger.open();
    ledger.accept("a", "{}", reply);
    ledger.accept("b", "{}", reply);
    ledger.started("b");
    ledger.finished("b", reply, '{"type":"done"}');
    ledger.sent("b", 7);
    ledger.accept("c", "{}", reply);
    ledger.finished("c", reply, '{"type":"done"}');
    ledger.delivered("c");
    ledger.close();
    const owed = ledgerAt("owed").open();
    assert.deepEqual(
      owed.map((e) => [e.key, e.started, e.pid ?? null]),
      [
        ["a", false, null],
        ["b", true, 7],
      ],
    );
  });

  it("stays within journalMaxBytes while running: the oldest answered entries go first, unanswered ones never", () => {
    const maxBytes = 64 * 1024;
    const ledger = ledgerAt("bounded", maxBytes);
    ledger.open();
    const prompt = "p".repeat(3000);
    ledger.accept("keep-me", prompt, reply);
    for (let i = 0; i < 200; i++) {
      const key = `r${i}`;
      assert.equal(ledger.accept(key, prompt, reply), "recorded");
      ledger.finished(key, reply, `{"type":"done","text":"${"t".repeat(500)}"}`);
      ledger.delivered(key);
      assert.ok(statSync(join(root, "bounded", "ledger.jsonl")).size <= maxBytes + 8 * 1024, `bounded after ${i}`);
    }
    assert.equal(ledger.lookup("r0"), undefined, "the oldest answer was dropped");
    assert.equal(ledger.lookup("r199")?.kind, "answered", "the newest is kept");
    assert.equal(ledger.lookup("keep-me")?.kind, "pending", "the unanswered request is kept");
    // Unanswered requests may fill half of the bound; past that the ledger refuses (the broker keeps them).
    let outcome = "recorded";
    for (let i = 0; outcome === "recorded" && i < 100; i++) outcome = ledger.accept(`w${i}`, prompt, reply);
    assert.equal(outcome, "full");
    ledger.close();
  });
});
