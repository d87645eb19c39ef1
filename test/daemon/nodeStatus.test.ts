/**
 * NodeStatus is the one place the node's figures are assembled: /healthz (health()), the MQTT status
 * topic (mqttFigures()) and systemd's STATUS= line (statusLine()) read the same figures from it, so
 * fed once they agree (one tokens/s mean, one model, one queue).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonMetrics } from "../../daemon/metrics/DaemonMetrics.js";
import { NodeStatus } from "../../daemon/NodeStatus.js";
import type { BackendInfo } from "../../hal/backends/Backend.js";

const info: BackendInfo = {
  kind: "cpu",
  modelPath: "/models/tinyllama.gguf",
  contextSize: 2048,
  parallelSequences: 2,
  threads: 4,
  devices: [],
  gpuLayers: 0,
};
const queue = { queued: 3, running: 1, accepted: 9, completed: 4, failed: 1, cancelled: 0, tokensGenerated: 80 };

function fedStatus(): NodeStatus {
  const status = new NodeStatus();
  status.readFrom({
    backend: () => info,
    queue: () => queue,
    thermal: () => ({ celsius: 61.4, hot: false, throttled: true }),
    fallbacks: () => [{ from: "vulkan", reason: "no device" }],
    calibration: () => undefined,
    liveness: () => ({ alive: true }),
  });
  status.state = "serving";
  for (const rate of [10, 12.5, 14]) status.recordRate(rate);
  return status;
}

describe("NodeStatus", () => {
  it("feeds /metrics too: its state, queue and model are read at each scrape", async () => {
    const status = fedStatus();
    const metrics = new DaemonMetrics(status);
    const scrape = async () => await metrics.render();
    const serving = await scrape();
    assert.match(serving, /^tinyllamad_ready 1$/m);
    assert.match(serving, /^tinyllamad_queue_depth 3$/m);
    assert.match(serving, /^tinyllamad_running_requests 1$/m);
    assert.match(serving, /^tinyllamad_backend_info\{backend="cpu",model="tinyllama.gguf",version="[^"]+"\} 1$/m);
    status.state = "stopping";
    const stopping = await scrape();
    assert.match(stopping, /^tinyllamad_ready 0$/m);
    assert.doesNotMatch(stopping, /^tinyllamad_backend_info\{/m, "no model is served while stopping");
  });

  it("feeds /healthz, the MQTT status and systemd's line the same figures", () => {
    const status = fedStatus();
    const health = status.health();
    const mqtt = status.mqttFigures();
    const line = status.statusLine();
    assert.equal(health.tokens_per_s, 12.2);
    assert.equal(mqtt.tokens_per_s, health.tokens_per_s, "one tokens/s mean");
    assert.match(line, /12\.2 tok\/s/);
    for (const key of ["model", "backend", "threads", "temperature_celsius", "throttled", "thermal_pause"] as const)
      assert.deepEqual(mqtt[key], health[key], key);
    assert.equal(mqtt.model, "tinyllama.gguf");
    assert.equal(mqtt.fallbacks, (health.fallbacks as unknown[]).length);
    assert.deepEqual(mqtt.queue, { queued: 3, running: 1 });
    assert.deepEqual(health.queue, queue);
    assert.equal(mqtt.uptime_s, health.uptime_s);
    assert.equal(mqtt.state, "online");
    assert.equal(health.ready, true);
    assert.equal(line, "serving on cpu ×4, running 1, queue 3, 12.2 tok/s, 61 °C, throttled");
  });

  it("names the node, the quantization, the plan's reasons and cores, and the MQTT connection (the web page's figures)", () => {
    const status = fedStatus();
    assert.deepEqual(status.health().mqtt, { enabled: false, connected: false, fleet: false }, "MQTT off");
    assert.equal(status.health().node_id, null);
    status.readFrom({
      nodeId: () => "pi-kitchen",
      quantization: () => "Q4_0",
      plan: () => ({ reasons: ["auto → cpu"], cores: [4, 5, 6, 7], candidates: ["cpu"] }),
      mqtt: () => ({ connected: true, fleet: true }),
    });
    const health = status.health();
    assert.equal(health.node_id, "pi-kitchen");
    assert.equal(health.quantization, "Q4_0");
    assert.deepEqual(health.plan, { reasons: ["auto → cpu"], cores: [4, 5, 6, 7], candidates: ["cpu"] });
    assert.deepEqual(health.mqtt, { enabled: true, connected: true, fleet: true });
    status.state = "loading";
    assert.equal(status.health().quantization, null, "not while no model serves");
    assert.equal(status.health().plan, null);
    assert.equal(status.health().node_id, "pi-kitchen");
  });

  it("reports no model while loading, and a swap in progress to every reader", () => {
    const status = fedStatus();
    status.state = "loading";
    assert.equal(status.health().model, null);
    assert.equal(status.mqttFigures().model, null);
    assert.equal(status.mqttFigures().state, "loading");
    status.state = "serving";
    const changes: string[] = [];
    status.on("change", () => changes.push("change"));
    status.swap = { mode: "unload-first", from: "a.gguf", to: "b.gguf", need_bytes: 300, have_bytes: 200 };
    assert.deepEqual(status.health().swap, status.mqttFigures().swap);
    assert.match(status.statusLine(), /swapping a\.gguf → b\.gguf \(old model unloaded first/);
    status.swap = null;
    assert.equal(status.mqttFigures().swap, undefined);
    assert.equal(changes.length, 2, "a swap's start and end are changes worth telling at once");
  });
});
