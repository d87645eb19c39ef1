/**
 * Prints docs/metrics.md, generated from the registered metrics:
 *   node dist/daemon/metrics/writeMetricsDocs.js > docs/metrics.md
 */
import { renderMetricsMarkdown } from "./metricsDocs.js";

process.stdout.write(renderMetricsMarkdown());
