/** Flags for a daemon that serves only MQTT with the tiny test model: the set-up the MQTT suites share. */
import { testModelPath } from "./testModels.js";

export interface MqttNodeOptions {
  nodeId: string;
  stateDirectory: string;
  /** Omitted: the test passes --mqtt.url itself (e.g. once its broker has a port). */
  brokerUrl?: string;
  parallelSequences?: number;
  maxQueue?: number;
  /** More flags, appended (later flags win). */
  extra?: string[];
}

export function mqttNodeFlags(options: MqttNodeOptions): string[] {
  return [
    "--model.path",
    testModelPath(),
    "--model.contextSize",
    "256",
    "--backend.threads",
    "1",
    "--scheduler.parallelSequences",
    String(options.parallelSequences ?? 2),
    ...(options.maxQueue === undefined ? [] : ["--scheduler.maxQueue", String(options.maxQueue)]),
    "--ws.enabled",
    "false",
    "--http.port",
    "0",
    ...(options.brokerUrl === undefined ? [] : ["--mqtt.url", options.brokerUrl]),
    "--mqtt.nodeId",
    options.nodeId,
    "--state.directory",
    options.stateDirectory,
    ...(options.extra ?? []),
  ];
}
