/** docs/metrics.md lists exactly the metrics the daemon registers. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { renderMetricsMarkdown } from "../../daemon/metrics/metricsDocs.js";

describe("docs/metrics.md", () => {
  it("is the output of writeMetricsDocs", () => {
    const docs = readFileSync(new URL("../../../docs/metrics.md", import.meta.url), "utf8");
    assert.equal(docs, renderMetricsMarkdown(), "regenerate docs/metrics.md with writeMetricsDocs");
  });

  it("names every tinyllamad_ metric with its type and meaning", () => {
    const rendered = renderMetricsMarkdown();
    for (const name of ["tinyllamad_requests_total", "tinyllamad_decode_batch_sequences", "tinyllamad_ready"])
      assert.match(rendered, new RegExp(`\\| \`${name}\` \\| (counter|gauge|histogram) \\|`));
  });
});
