/**
 * How a setting's key (`mqtt.nodeId`) is spelled in the environment (`TINYLLAMAD_MQTT_NODE_ID`)
 * and on the command line (`--mqtt.nodeId`). Every setting follows the same rule; nothing is
 * spelled by hand.
 */

const envVarPrefix = "TINYLLAMAD_";

export function envVarNameFor(key: string): string {
  const snakeCaseParts = key.split(".").map((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1_$2"));
  return `${envVarPrefix}${snakeCaseParts.join("_").toUpperCase()}`;
}

export function cliFlagFor(key: string): string {
  return `--${key}`;
}
