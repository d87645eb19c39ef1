/**
 * `tinyllamad/client/mqtt`: the MQTT helper for devices, over the device's own mqtt.js connection.
 *
 *   const llm = new TinyllamadMqttClient(await mqtt.connectAsync(url, { protocolVersion: 5 }), { node: "kitchen-pi" });
 *   for await (const piece of llm.generate({ prompt: "Hello", max_tokens: 32 })) process.stdout.write(piece);
 */

export * from "./clientExports.js";
export { TinyllamadMqttClient, type TinyllamadMqttOptions } from "./TinyllamadMqttClient.js";
