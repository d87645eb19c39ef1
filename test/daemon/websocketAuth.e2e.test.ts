/**
 * With http.token set, only clients presenting it (header or query) get a WebSocket.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WebSocket } from "ws";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const token = "s3cret-token";

function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once("open", () => {
      socket.close();
      resolve(101);
    });
    socket.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
    socket.once("error", (error) => reject(error));
  });
}

describe("WebSocket bearer token", () => {
  const { daemon, url } = daemonForSuite(testDaemonFlags(), { TINYLLAMAD_HTTP_TOKEN: token });

  it("refuses a client without a token or with a wrong one (401)", async () => {
    assert.equal(await upgradeStatus(url()), 401);
    assert.equal(await upgradeStatus(url(), { authorization: "Bearer wrong" }), 401);
    assert.equal(await upgradeStatus(`${url()}?token=wrong`), 401);
  });

  it("accepts the token in the Authorization header or the query, and serves", async () => {
    assert.equal(await upgradeStatus(url(), { authorization: `Bearer ${token}` }), 101);
    const client = await ProtocolClient.connect(`${url()}?token=${token}`);
    try {
      const answer = await client.request({ id: "a", prompt: "Hi", max_tokens: 3, temperature: 0 });
      assert.equal(answer.final.type, "done");
    } finally {
      await client.close();
    }
  });

  it("never logs the token", () => {
    assert.ok(!JSON.stringify(daemon.logLines).includes(token));
  });
});
