/**
 * Every input that once crashed the daemon or was wrongly accepted (issue 15, and whatever the
 * fuzzer of parseClientMessage.fuzz.test.ts finds later) stays in regressionCorpus.json as the raw
 * text a client sent; each must be refused with an E_ code, as a string and as a Buffer.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseClientMessage } from "../../daemon/protocol/parseClientMessage.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { assertWellFormedResult } from "./parseResultInvariants.js";

const limits = { maxPromptChars: 4000, defaultMaxTokens: 64, maxMaxTokens: 256 };
const corpus: unknown = JSON.parse(
  readFileSync(join(projectRoot(), "test", "protocol", "regressionCorpus.json"), "utf8"),
);

describe("the parser's regression corpus", () => {
  it("is a list of raw messages", () => {
    assert.ok(Array.isArray(corpus) && corpus.length > 0 && corpus.every((entry) => typeof entry === "string"));
  });

  for (const [index, raw] of (corpus as string[]).entries()) {
    it(`refuses entry ${index} (${raw.length} chars: ${raw.slice(0, 60)})`, () => {
      for (const input of [raw, Buffer.from(raw)]) {
        let result: ReturnType<typeof parseClientMessage> | undefined;
        assert.doesNotThrow(() => {
          result = parseClientMessage(input, limits);
        });
        assert.ok(result !== undefined && !result.ok, "refused");
        assert.match(result.error.code, /^E_[A-Z_]+$/);
        assertWellFormedResult(result, limits);
      }
    });
  }
});
