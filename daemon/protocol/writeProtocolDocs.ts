/**
 * Regenerates the request-field tables of docs/protocol.md from the message schemas, in place:
 *   node dist/daemon/protocol/writeProtocolDocs.js
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { withGeneratedRequestTables } from "./protocolDocs.js";

const docsPath = join(projectRoot(), "docs", "protocol.md");
writeFileSync(docsPath, withGeneratedRequestTables(readFileSync(docsPath, "utf8")));
