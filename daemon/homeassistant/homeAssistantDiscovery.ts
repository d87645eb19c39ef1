/**
 * The Home Assistant MQTT discovery messages of one node (docs/home-assistant.md): one device, and
 * entities whose state is read from the node's retained status topic through a value_template, so
 * nothing but the status the MQTT transport already publishes is needed to keep them current.
 *
 * Templates are kept to a form that renders the same in Home Assistant's Jinja and in
 * @huggingface/jinja (which the tests use to check them): a figure that may be null or missing
 * renders the string "None", which Home Assistant's MQTT sensors take as "unknown" — never a raw
 * null, which Python renders as "None" but JavaScript Jinja as "".
 */
import { createHash } from "node:crypto";
import { nodeTopics } from "../transports/mqtt/mqttTopics.js";

export type DiscoveryComponent = "sensor" | "binary_sensor" | "button" | "text";

export interface DiscoveryOptions {
  prefix: string;
  baseTopic: string;
  nodeId: string;
  version: string;
  /** The node's web page; omitted from the device block when undefined. */
  configurationUrl: string | undefined;
  /** Announce the ask text entity and its answer sensor. */
  ask: boolean;
  /** The longest prompt the node takes (limits.maxPromptChars); the text entity allows at most 255. */
  maxPromptChars: number;
}

export interface DiscoveryMessage {
  component: DiscoveryComponent;
  objectId: string;
  topic: string;
  payload: Record<string, unknown>;
}

/** The states the status topic's `state` takes (the transport's, plus the last will's "offline"). */
export const statusStates = ["online", "degraded", "pulling", "loading", "offline"] as const;

/** The press payload of the reload button. */
export const reloadPayload = "RELOAD";

/** Home Assistant's longest text entity value and sensor state. */
export const homeAssistantMaxState = 255;

/**
 * The node id as a discovery topic level and id part: Home Assistant accepts only [a-zA-Z0-9_-]
 * there. A node id with other characters gets them replaced and a short hash of the original, so
 * two node ids never share a device.
 */
export function homeAssistantNodeId(nodeId: string): string {
  const safe = nodeId.replace(/[^a-zA-Z0-9_-]/g, "_");
  if (safe === nodeId) return nodeId;
  return `${safe}_${createHash("sha256").update(nodeId).digest("hex").slice(0, 6)}`;
}

/** The command and answer topics of the node's Home Assistant entities (under the node's own tree). */
export function homeAssistantTopics(
  baseTopic: string,
  nodeId: string,
): { reload: string; ask: string; answer: string } {
  const node = `${baseTopic}/${nodeId}/homeassistant`;
  return { reload: `${node}/reload`, ask: `${node}/ask`, answer: `${node}/answer` };
}

/** Matches every discovery topic of this node's device, whatever the component and entity. */
export function discoveryFilter(prefix: string, nodeId: string): string {
  return `${prefix}/+/${homeAssistantNodeId(nodeId)}/+/config`;
}

export function discoveryTopic(
  prefix: string,
  component: DiscoveryComponent,
  nodeId: string,
  objectId: string,
): string {
  return `${prefix}/${component}/${homeAssistantNodeId(nodeId)}/${objectId}/config`;
}

/** `{{ value_json.a.b }}`, or 'None' where a level is missing or the figure is null. */
export function figureTemplate(path: string): string {
  const levels = path.split(".");
  const checks = levels.map((_, index) => `value_json.${levels.slice(0, index + 1).join(".")} is defined`);
  return `{{ value_json.${path} if ${checks.join(" and ")} and value_json.${path} is not none else 'None' }}`;
}

/** The status topic's JSON says "offline" (the last will, a clean stop); any other state is available. */
export const availabilityTemplate = "{{ 'offline' if value_json.state == 'offline' else 'online' }}";

interface EntitySpec {
  component: DiscoveryComponent;
  objectId: string;
  fields: Record<string, unknown>;
}

/** An entity: its name, then its own fields in the order they are published. */
function entity(
  component: DiscoveryComponent,
  objectId: string,
  name: string,
  fields: Record<string, unknown>,
): EntitySpec {
  return { component, objectId, fields: { name, ...fields } };
}

function entities(options: DiscoveryOptions): EntitySpec[] {
  const status = nodeTopics(options.baseTopic, options.nodeId).status;
  const topics = homeAssistantTopics(options.baseTopic, options.nodeId);
  /** A sensor showing one figure of the status topic's JSON ('None' while it is missing or null). */
  const figure = (objectId: string, name: string, path: string, fields: Record<string, unknown>) =>
    entity("sensor", objectId, name, { value_template: figureTemplate(path), state_topic: status, ...fields });
  const list: EntitySpec[] = [
    entity("sensor", "state", "State", {
      state_topic: status,
      value_template: "{{ value_json.state }}",
      device_class: "enum",
      options: [...statusStates],
      icon: "mdi:robot-outline",
    }),
    figure("tokens_per_second", "Tokens per second", "tokens_per_s", {
      unit_of_measurement: "tok/s",
      state_class: "measurement",
      suggested_display_precision: 1,
      icon: "mdi:speedometer",
    }),
    figure("queue_depth", "Queue depth", "queue.queued", { state_class: "measurement", icon: "mdi:tray-full" }),
    figure("requests_completed", "Requests completed", "requests.completed", {
      state_class: "total_increasing",
      icon: "mdi:check-circle-outline",
    }),
    figure("requests_failed", "Requests failed", "requests.failed", {
      state_class: "total_increasing",
      icon: "mdi:alert-circle-outline",
    }),
    figure("temperature", "Temperature", "temperature_celsius", {
      device_class: "temperature",
      unit_of_measurement: "°C",
      state_class: "measurement",
    }),
    entity("binary_sensor", "throttled", "Throttled", {
      state_topic: status,
      value_template:
        "{{ 'None' if value_json.throttled is not defined else ('ON' if value_json.throttled else 'OFF') }}",
      payload_on: "ON",
      payload_off: "OFF",
      device_class: "problem",
    }),
    figure("model", "Model", "model", { entity_category: "diagnostic", icon: "mdi:brain" }),
    figure("backend", "Backend", "backend", { entity_category: "diagnostic", icon: "mdi:chip" }),
    entity("button", "reload", "Reload configuration", {
      command_topic: topics.reload,
      payload_press: reloadPayload,
      entity_category: "config",
      icon: "mdi:reload",
    }),
  ];
  if (options.ask)
    list.push(
      entity("text", "ask", "Ask", {
        command_topic: topics.ask,
        min: 1,
        max: Math.min(homeAssistantMaxState, options.maxPromptChars),
        mode: "text",
        icon: "mdi:chat-question-outline",
      }),
      entity("sensor", "answer", "Answer", {
        state_topic: topics.answer,
        value_template: "{{ value_json.state }}",
        json_attributes_topic: topics.answer,
        icon: "mdi:chat-outline",
      }),
    );
  return list;
}

/** Every discovery message the node announces with these options, in a stable order. */
export function discoveryMessages(options: DiscoveryOptions): DiscoveryMessage[] {
  const haNode = homeAssistantNodeId(options.nodeId);
  const status = nodeTopics(options.baseTopic, options.nodeId).status;
  const device = {
    identifiers: [`tinyllamad_${haNode}`],
    name: `tinyllamad ${options.nodeId}`,
    manufacturer: "tinyllamad",
    model: "tinyllamad LLM node",
    sw_version: options.version,
    ...(options.configurationUrl === undefined ? {} : { configuration_url: options.configurationUrl }),
  };
  const origin = { name: "tinyllamad", sw_version: options.version };
  const availability = [
    {
      topic: status,
      value_template: availabilityTemplate,
      payload_available: "online",
      payload_not_available: "offline",
    },
  ];
  return entities(options).map((entity) => ({
    component: entity.component,
    objectId: entity.objectId,
    topic: discoveryTopic(options.prefix, entity.component, options.nodeId, entity.objectId),
    payload: {
      ...entity.fields,
      unique_id: `tinyllamad_${haNode}_${entity.objectId}`,
      availability,
      device,
      origin,
    },
  }));
}
