/**
 * Prints docs/configuration.md, generated from the schema:
 *   node dist/daemon/config/writeConfigDocs.js > docs/configuration.md
 */
import { renderConfigurationMarkdown } from "./configDocs.js";

process.stdout.write(renderConfigurationMarkdown());
