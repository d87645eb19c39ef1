/** The pure parts of Home Assistant discovery: topic matching for lent subscriptions, node ids, templates. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Template } from "@huggingface/jinja";
import { figureTemplate, homeAssistantNodeId } from "../../daemon/homeassistant/homeAssistantDiscovery.js";
import { topicMatches } from "../../daemon/transports/mqtt/NodeMqttLink.js";

describe("Home Assistant discovery helpers", () => {
  it("matches MQTT topic filters with + and #", () => {
    assert.ok(topicMatches("homeassistant/+/board/+/config", "homeassistant/sensor/board/state/config"));
    assert.ok(!topicMatches("homeassistant/+/board/+/config", "homeassistant/sensor/other/state/config"));
    assert.ok(!topicMatches("homeassistant/+/board/+/config", "homeassistant/sensor/board/state/config/x"));
    assert.ok(!topicMatches("homeassistant/status", "homeassistant/status/x"));
    assert.ok(topicMatches("tinyllamad/#", "tinyllamad/board/status"));
    assert.ok(topicMatches("homeassistant/status", "homeassistant/status"));
  });

  it("keeps a safe node id and makes any other one safe and distinct", () => {
    assert.equal(homeAssistantNodeId("board-1_a"), "board-1_a");
    const dotted = homeAssistantNodeId("board.1");
    const underscored = homeAssistantNodeId("board_1");
    assert.match(dotted, /^board_1_[0-9a-f]{6}$/);
    assert.notEqual(dotted, underscored);
    assert.equal(homeAssistantNodeId("board.1"), dotted);
  });

  it("renders a figure, and 'None' for a null or missing one", () => {
    const template = new Template(figureTemplate("queue.queued"));
    assert.equal(template.render({ value_json: { queue: { queued: 0 } } }), "0");
    assert.equal(template.render({ value_json: { queue: { queued: null } } }), "None");
    assert.equal(template.render({ value_json: { state: "offline" } }), "None");
  });
});
