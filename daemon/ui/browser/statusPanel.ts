/** Fills the status list from one status event (NodeStatus.health(), the object /healthz answers). */

export interface NodeHealth {
  state?: string;
  alive?: boolean;
  node_id?: string | null;
  version?: string;
  model?: string | null;
  quantization?: string | null;
  backend?: string | null;
  threads?: number | null;
  plan?: { reasons: string[]; cores: number[]; candidates: string[] } | null;
  tokens_per_s?: number | null;
  queue?: { queued: number; running: number } | null;
  temperature_celsius?: number | null;
  thermal_pause?: boolean;
  throttled?: boolean;
  uptime_s?: number;
  mqtt?: { enabled: boolean; connected: boolean; fleet: boolean };
  model_progress?: { phase: string; model: string; bytes: number | null; total_bytes: number | null } | null;
  swap?: { from: string; to: string; mode: string } | null;
}

type Tone = "good" | "warn" | "bad" | "";

function field(name: string, text: string, tone: Tone = ""): void {
  const element = document.querySelector<HTMLElement>(`[data-field="${name}"]`);
  if (!element) return;
  element.textContent = text;
  element.className = tone;
}

export function showStatus(health: NodeHealth): void {
  const progress = health.model_progress;
  const state = health.state ?? "unknown";
  let stateText = state;
  if (health.swap) stateText += ` (swapping ${health.swap.from} → ${health.swap.to})`;
  else if (progress && progress.phase !== "ready" && progress.phase !== "failed") {
    const share = progress.total_bytes ? ` ${Math.floor(((progress.bytes ?? 0) / progress.total_bytes) * 100)}%` : "";
    stateText += ` (${progress.phase} ${progress.model}${share})`;
  } else if (progress?.phase === "failed") stateText += ` (${progress.model} failed)`;
  field(
    "state",
    stateText,
    state === "serving" && health.alive !== false ? "good" : state === "stopping" ? "bad" : "warn",
  );
  field("node_id", health.node_id ?? "–");
  field("version", health.version ?? "–");
  field("model", health.model ?? "–");
  field("quantization", health.quantization ?? "–");
  field("backend", health.backend ?? "–");
  const cores = health.plan?.cores ?? [];
  field(
    "threads",
    health.threads == null ? "–" : `${health.threads}${cores.length > 0 ? ` on cores ${cores.join(",")}` : ""}`,
  );
  field("tokens_per_s", health.tokens_per_s == null ? "–" : health.tokens_per_s.toFixed(1));
  field("queue", health.queue ? `${health.queue.queued} queued, ${health.queue.running} running` : "–");
  const celsius = health.temperature_celsius;
  const heat = [celsius == null ? "no sensor" : `${celsius.toFixed(1)} °C`];
  if (health.throttled) heat.push("throttled");
  if (health.thermal_pause) heat.push("hot: batch work paused");
  field("temperature", heat.join(", "), health.thermal_pause ? "bad" : health.throttled ? "warn" : "");
  field("uptime", health.uptime_s == null ? "–" : formatDuration(health.uptime_s));
  const mqtt = health.mqtt;
  field(
    "mqtt",
    !mqtt?.enabled ? "off" : mqtt.connected ? "connected" : "disconnected",
    mqtt?.enabled && !mqtt.connected ? "warn" : "",
  );
  field("fleet", !mqtt?.enabled ? "–" : mqtt.fleet ? "member" : "not a member");

  const bar = document.getElementById("model-progress") as HTMLProgressElement;
  const total = progress?.phase === "ready" || progress?.phase === "failed" ? null : progress?.total_bytes;
  bar.hidden = !total;
  if (total) bar.value = (progress?.bytes ?? 0) / total;

  const reasons = document.getElementById("plan-reasons") as HTMLUListElement;
  const lines = health.plan?.reasons ?? [];
  if (reasons.childElementCount !== lines.length || reasons.dataset.text !== lines.join("\n")) {
    reasons.replaceChildren(
      ...lines.map((line) => {
        const item = document.createElement("li");
        item.textContent = line;
        return item;
      }),
    );
    reasons.dataset.text = lines.join("\n");
  }
  const title = document.getElementById("node-title");
  if (title) title.textContent = health.node_id ?? "";
}

export function formatDuration(seconds: number): string {
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${seconds % 60} s`;
  return `${seconds} s`;
}
