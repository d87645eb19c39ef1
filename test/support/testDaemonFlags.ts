/**
 * The `serve` flags of a test daemon: the generated test model, a 256-token context, a free port,
 * no MQTT — each overridable, plus any other setting, by its configuration key.
 */
import { testModelPath } from "./testModels.js";

export function testDaemonFlags(settings: Record<string, string | number | boolean> = {}): string[] {
  const merged = {
    "model.path": testModelPath(),
    "model.contextSize": 256,
    "http.port": 0,
    "mqtt.enabled": false,
    ...settings,
  };
  return Object.entries(merged).flatMap(([key, value]) => [`--${key}`, String(value)]);
}
