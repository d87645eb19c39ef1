/** docs/protocol.md's request-field tables are generated from the message schemas. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { adminRequestSchema, generateRequestSchema } from "../../daemon/protocol/clientMessageSchema.js";
import {
  generatedRequestTables,
  renderRequestFieldTable,
  withGeneratedRequestTables,
} from "../../daemon/protocol/protocolDocs.js";
import { defaultSampling } from "../../daemon/scheduler/toGenerationJob.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

const docs = readFileSync(join(projectRoot(), "docs", "protocol.md"), "utf8");

describe("docs/protocol.md request fields", () => {
  it("holds the generated tables of generate and admin", () => {
    assert.deepEqual(generatedRequestTables(docs), ["generate", "admin"]);
  });

  it("equals its tables regenerated from the schema", () => {
    assert.equal(
      docs,
      withGeneratedRequestTables(docs),
      "regenerate the tables: npm run build && node dist/daemon/protocol/writeProtocolDocs.js",
    );
  });

  it("has a row with type, default and meaning for every field but type", () => {
    for (const schema of [generateRequestSchema, adminRequestSchema]) {
      const table = renderRequestFieldTable(schema.properties.type.const);
      for (const [field, property] of Object.entries(schema.properties)) {
        if (field === "type") continue;
        assert.ok("description" in property && property.description.length > 0, `${field} has a description`);
        assert.match(table, new RegExp(`^\\| \`${field}\` \\| [^|]+ \\| [^|]+ \\| .+ \\|$`, "m"), field);
      }
    }
  });

  it("documents the sampling defaults the scheduler applies", () => {
    const fields = generateRequestSchema.properties;
    assert.equal(fields.temperature.default, defaultSampling.temperature);
    assert.equal(fields.top_p.default, defaultSampling.topP);
    assert.equal(fields.top_k.default, defaultSampling.topK);
    assert.equal(fields.min_p.default, defaultSampling.minP);
    assert.match(fields.repeat_penalty["x-default"], new RegExp(`^${defaultSampling.repeatPenalty}\\b`));
  });

  it("renders a table when the markers hold a stale one", () => {
    const stale = [
      "before",
      "<!-- Generated request fields: admin. Regenerate. -->",
      "| old |",
      "<!-- End of generated request fields. -->",
      "after",
    ].join("\n");
    const regenerated = withGeneratedRequestTables(stale);
    assert.ok(!regenerated.includes("| old |"));
    assert.ok(regenerated.includes(renderRequestFieldTable("admin")));
    assert.ok(regenerated.startsWith("before\n") && regenerated.endsWith("\nafter"));
  });
});
