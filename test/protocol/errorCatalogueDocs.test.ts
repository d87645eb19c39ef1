import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { errorCatalogue } from "../../daemon/protocol/errorCodes.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

it("docs/protocol.md documents every error code of the catalogue, and no other", () => {
  const docs = readFileSync(join(projectRoot(), "docs", "protocol.md"), "utf8");
  const documented = new Set([...docs.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), Object.keys(errorCatalogue).sort());
});
