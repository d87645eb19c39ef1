/**
 * Home Assistant MQTT discovery (docs/home-assistant.md), on the node's own MQTT connection: the
 * device and its entities are announced (retained) on every connect and whenever Home Assistant
 * says it came online (its birth message on `<prefix>/status`); their states come from the retained
 * status topic, read through templates, so the status is never assembled here. Any retained
 * discovery message of this node that the configuration no longer announces (homeassistant.enabled
 * off, homeassistant.ask off) is cleared with an empty retained message as soon as the broker
 * hands it over.
 */
import os from "node:os";
import type { TinyllamadConfig } from "../config/configSchema.js";
import { HomeAssistantAsk } from "../homeassistant/HomeAssistantAsk.js";
import {
  discoveryFilter,
  discoveryMessages,
  homeAssistantTopics,
  reloadPayload,
} from "../homeassistant/homeAssistantDiscovery.js";
import { packageVersion } from "../packageVersion.js";
import type { DaemonContext, DaemonPlugin } from "./DaemonPlugin.js";

/** Presses closer together than this reload once: a held-down or scripted button cannot keep the node reloading. */
const reloadIntervalMs = 10_000;

export class HomeAssistantPlugin implements DaemonPlugin {
  readonly name = "homeassistant";
  readonly phase = "before-model";
  private lastReload = Number.NEGATIVE_INFINITY;

  /** Started whenever MQTT is: when homeassistant.enabled is off it removes what an earlier run announced. */
  enabled(config: TinyllamadConfig): boolean {
    return config.mqtt.enabled;
  }

  async start(context: DaemonContext): Promise<void> {
    const link = context.shared.mqtt;
    if (link === undefined) return;
    const config = context.config();
    const { homeassistant: ha, mqtt } = config;
    const log = context.logFor("homeassistant");
    const announced = ha.enabled
      ? discoveryMessages({
          prefix: ha.discoveryPrefix,
          baseTopic: mqtt.baseTopic,
          nodeId: mqtt.nodeId,
          version: packageVersion(),
          configurationUrl: configurationUrl(context, config),
          ask: ha.ask,
          maxPromptChars: config.limits.maxPromptChars,
        })
      : [];
    const payloads = new Map(announced.map((message) => [message.topic, JSON.stringify(message.payload)]));
    // QoS 0, like the status: republished on every connect and Home Assistant birth, and a QoS 1
    // message left in MQTT.js's store could be resent over a newer one after a reconnect.
    const announce = () => {
      for (const [topic, payload] of payloads) link.publish(topic, payload, { qos: 0, retain: true });
    };
    link.subscribe(discoveryFilter(ha.discoveryPrefix, mqtt.nodeId), (topic, payload) => {
      if (payload.length === 0 || payloads.has(topic)) return;
      log.info({ topic }, "removing a Home Assistant discovery message this configuration no longer announces");
      link.publish(topic, "", { qos: 0, retain: true });
    });
    if (!ha.enabled) return;
    const topics = homeAssistantTopics(mqtt.baseTopic, mqtt.nodeId);
    link.subscribe(`${ha.discoveryPrefix}/status`, (_topic, payload) => {
      if (payload.toString("utf8") === "online") announce();
    });
    link.subscribe(topics.reload, (_topic, payload) => {
      if (payload.toString("utf8") !== reloadPayload) return;
      const now = Date.now();
      if (now - this.lastReload < reloadIntervalMs) {
        log.info("Home Assistant reload pressed again within 10 s; ignored");
        return;
      }
      this.lastReload = now;
      log.info("Home Assistant reload pressed; reloading the configuration as SIGHUP does");
      context.reload();
    });
    if (ha.ask) {
      const ask = new HomeAssistantAsk({
        scheduler: context.scheduler,
        limits: context.limits,
        log,
        publishAnswer: (answer) => link.publish(topics.answer, JSON.stringify(answer), { qos: 0, retain: false }),
      });
      link.subscribe(topics.ask, (_topic, payload) => ask.onPrompt(payload));
    }
    link.onConnect(announce);
    log.info({ entities: announced.length, prefix: ha.discoveryPrefix }, "Home Assistant discovery on");
  }

  async stop(): Promise<void> {
    // Nothing to release: the MQTT plugin ends the connection, and its last will marks the entities unavailable.
  }
}

/** homeassistant.configurationUrl, else the node's HTTP listener; a wildcard address becomes the hostname. */
function configurationUrl(context: DaemonContext, config: TinyllamadConfig): string | undefined {
  if (config.homeassistant.configurationUrl !== "") return config.homeassistant.configurationUrl;
  const address = context.shared.http?.address();
  if (!address) return undefined;
  const bound = config.http.host;
  const host = bound === "" || bound === "0.0.0.0" || bound === "::" ? os.hostname() : bound;
  return `http://${host.includes(":") ? `[${host}]` : host}:${address.port}/`;
}
