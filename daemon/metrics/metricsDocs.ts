/**
 * docs/metrics.md, generated from the metrics the daemon registers, so that the list can never drift
 * from the code.
 */
import { NodeStatus } from "../NodeStatus.js";
import { DaemonMetrics } from "./DaemonMetrics.js";

interface DescribedMetric {
  name: string;
  type: string;
  help: string;
  labelNames?: readonly string[];
  upperBounds?: readonly number[];
}

const header = `# Metrics and health

Generated from \`daemon/metrics/DaemonMetrics.ts\` by
\`node dist/daemon/metrics/writeMetricsDocs.js > docs/metrics.md\`; a test keeps them equal.

The daemon's HTTP server (\`http.host\`:\`http.port\`, see [configuration.md](configuration.md)) serves, besides
the WebSocket API:

- \`GET /healthz\` — liveness: 200 (\`"status": "ok"\`) unless generation has made no progress (a
  token, or a prompt chunk evaluated) for \`scheduler.stallTimeoutMs\`, or for longer than the tokens in
  flight take at the expected prefill rate where that is longer (503, \`"stalled"\`), whether or not a
  model is loaded yet; the JSON body
  carries the state — backend, model, threads, CPU threadpool, fallbacks taken, calibration, model
  pull/load progress, temperature and thermal pause, queue;
- \`GET /readyz\` — readiness: 200 while a model is loaded and requests are served, else 503 with the
  state (\`loading\`, \`pulling\`, \`stopping\`, …) and the same body;
- \`GET /metrics\` — Prometheus text format: the metrics below, plus prom-client's default process and
  Node.js metrics (\`process_resident_memory_bytes\`, \`process_cpu_seconds_total\`,
  \`nodejs_eventloop_lag_seconds\`, …).

On a loopback \`http.host\` (the default, 127.0.0.1) all three are open. Beyond loopback (e.g.
\`http.host\` 0.0.0.0, where \`http.token\` is required) the detail is for holders of \`http.token\` only,
sent as \`Authorization: Bearer <token>\` (or \`?token=<token>\`): without it \`/healthz\` and \`/readyz\`
answer only their status (\`{"status":"ok"}\` or \`{"status":"stalled"}\`, with the same HTTP status —
enough for a liveness or readiness probe) and \`/metrics\` answers 401. A Prometheus scrape job:

\`\`\`yaml
scrape_configs:
  - job_name: tinyllamad
    authorization:
      type: Bearer
      credentials_file: /etc/prometheus/tinyllamad-token   # holds http.token (or: credentials: <token>)
    static_configs:
      - targets: ["board.local:8765"]
\`\`\`

(Prometheus before 2.26 spells it \`bearer_token_file: /etc/prometheus/tinyllamad-token\`.) Requests
from browsers must also pass the \`Host\` and \`Origin\` checks (\`http.allowedHosts\`,
\`http.allowedOrigins\`, see [protocol.md](protocol.md#websocket-transport)); a scraper sends no
\`Origin\`, and names the board as one of its own names or addresses in \`Host\`.

| metric | type | labels | meaning |
|---|---|---|---|
`;

function describeRow(metric: DescribedMetric): string {
  const labels = metric.labelNames?.length ? metric.labelNames.map((label) => `\`${label}\``).join(", ") : "—";
  const buckets =
    metric.type === "histogram" && metric.upperBounds !== undefined
      ? ` Buckets: ${metric.upperBounds.join(", ")}.`
      : "";
  return `| \`${metric.name}\` | ${metric.type} | ${labels} | ${metric.help.replaceAll("|", "\\|")}${buckets} |`;
}

export function renderMetricsMarkdown(): string {
  const metrics = new DaemonMetrics(new NodeStatus()).registry
    .getMetricsAsArray()
    .map((metric) => metric as unknown as DescribedMetric)
    .filter((metric) => metric.name.startsWith("tinyllamad_"));
  return `${header}${metrics.map(describeRow).join("\n")}\n`;
}
