/**
 * The daemon's plugins, in start order (stopped in reverse). The order is a guarantee
 * (ARCHITECTURE.md, "Start-up"): systemd's watchdog first; HTTP health before anything can fail
 * slowly; MQTT before the pull and load, so its status topic shows them; the WebSocket API on the
 * HTTP server, before the load, so requests wait for it, and the OpenAI-/Ollama-compatible HTTP APIs
 * beside it; the web page on the HTTP server (it reads the status the others report); Home Assistant
 * discovery on MQTT's connection and HTTP's address, before the load, so its dashboard shows the pull
 * and the load; the thermal guard once a model serves.
 * A new transport is one file and one line here.
 */

import { CompatibleApisPlugin } from "./CompatibleApisPlugin.js";
import type { DaemonPlugin } from "./DaemonPlugin.js";
import { HomeAssistantPlugin } from "./HomeAssistantPlugin.js";
import { HttpPlugin } from "./HttpPlugin.js";
import { MqttPlugin } from "./MqttPlugin.js";
import { SystemdPlugin } from "./SystemdPlugin.js";
import { ThermalPlugin } from "./ThermalPlugin.js";
import { WebPagePlugin } from "./WebPagePlugin.js";
import { WebSocketPlugin } from "./WebSocketPlugin.js";

export function daemonPlugins(): DaemonPlugin[] {
  return [
    new SystemdPlugin(),
    new HttpPlugin(),
    new MqttPlugin(),
    new WebSocketPlugin(),
    new CompatibleApisPlugin(),
    new WebPagePlugin(),
    new HomeAssistantPlugin(),
    new ThermalPlugin(),
  ];
}
