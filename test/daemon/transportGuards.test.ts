/**
 * The guards of the HTTP server and the WebSocket transport, in process, with a real HttpServer,
 * WebSocketTransport, Scheduler and ws clients: an exception (or a rejection) from handling one
 * message or one route answers E_INTERNAL (with the message's id), is logged with its stack, and
 * everything keeps serving; the idle timer waits for work in flight. The admin hook is the seam that
 * makes a handler fail on purpose: it is an injected function in the daemon too.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { createLogger } from "../../daemon/logging/createLogger.js";
import type { AdminRequest, ServerMessage } from "../../daemon/protocol/messages.js";
import { Scheduler } from "../../daemon/scheduler/Scheduler.js";
import { HttpServer } from "../../daemon/transports/http/HttpServer.js";
import { WebSocketTransport } from "../../daemon/transports/websocket/WebSocketTransport.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";

const lines: Array<Record<string, unknown>> = [];
const log = createLogger({
  level: "debug",
  journald: false,
  destination: { write: (line) => lines.push(JSON.parse(line)) },
});

/** What the admin hook does, by the request's action and model_path. */
async function admin(request: AdminRequest): Promise<ServerMessage> {
  if (request.model_path === "throw-now") throw new Error("admin hook threw synchronously");
  if (request.model_path === "reject") return Promise.reject(new Error("admin hook rejected"));
  if (request.model_path === "slow") await new Promise((resolve) => setTimeout(resolve, 900));
  return { type: "admin_result", id: request.id, action: request.action, result: { fine: true } };
}

/** An admin hook that throws before returning a promise: written without async on purpose. */
function adminThrowingSynchronously(request: AdminRequest): Promise<ServerMessage> {
  if (request.model_path === "throw-now") throw new Error("admin hook threw synchronously");
  return admin(request);
}

describe("transport guards (in process)", () => {
  const http = new HttpServer({ host: "127.0.0.1", port: 0, log });
  const scheduler = new Scheduler({ maxQueue: 4, concurrency: 0, log, logPrompts: false });
  let transport: WebSocketTransport;
  let url = "";

  before(async () => {
    http.get("/boom", () => {
      throw new Error("route threw");
    });
    http.get("/fine", (_request, response) => {
      response.end("fine");
    });
    await http.start();
    scheduler.start();
    transport = new WebSocketTransport({
      http,
      host: "127.0.0.1",
      token: "",
      maxMessageBytes: 4096,
      maxConnections: 8,
      idleTimeoutMs: 300,
      limits: { maxPromptChars: 1000, defaultMaxTokens: 4, maxMaxTokens: 8 },
      scheduler,
      log,
      admin: adminThrowingSynchronously,
    });
    transport.start();
    url = transport.address();
  });

  after(async () => {
    await transport.stop();
    await scheduler.stop(0);
    await http.stop();
  });

  const adminMessage = (id: string, modelPath: string) => ({
    type: "admin",
    id,
    token: "t",
    action: "swap_model",
    model_path: modelPath,
  });

  it("a handler that throws answers E_INTERNAL with the message's id, logs the stack, and the connection serves on", async () => {
    const client = await ProtocolClient.connect(url);
    try {
      client.send(adminMessage("sync-1", "throw-now"));
      const { final } = await client.answer("sync-1", 5000);
      assert.equal(final.type, "error");
      if (final.type === "error") assert.equal(final.error.code, "E_INTERNAL");
      assert.doesNotMatch(JSON.stringify(final), /threw synchronously/, "the exception's text stays in the log");
      const logged = lines.find((line) => line.level === "error" && line.id === "sync-1");
      assert.match(String((logged?.err as { stack?: string })?.stack), /admin hook threw synchronously\n\s+at /);

      client.send(adminMessage("fine-1", "ok"));
      const next = await client.firstMessage((message) => message.id === "fine-1", 5000);
      assert.equal(next.type, "admin_result");
    } finally {
      await client.close();
    }
  });

  it("a rejected admin promise answers E_INTERNAL for that id instead of an unhandled rejection", async () => {
    const client = await ProtocolClient.connect(url);
    try {
      client.send(adminMessage("rej-1", "reject"));
      const { final } = await client.answer("rej-1", 5000);
      assert.equal(final.type === "error" && final.error.code, "E_INTERNAL");
      client.send({ type: "cancel", id: "nobody" });
      const { final: next } = await client.answer("nobody", 5000);
      assert.equal(next.type === "error" && next.error.code, "E_NOT_FOUND");
    } finally {
      await client.close();
    }
  });

  it("a route that throws answers 500 E_INTERNAL and the server serves the next request", async () => {
    const base = url.replace("ws://", "http://");
    const failed = await fetch(`${base}boom`);
    assert.equal(failed.status, 500);
    assert.deepEqual(((await failed.json()) as { error: { code: string } }).error.code, "E_INTERNAL");
    assert.ok(lines.some((line) => (line.err as { stack?: string })?.stack?.includes("route threw")));
    assert.equal(await (await fetch(`${base}fine`)).text(), "fine");
  });

  it("an idle connection is closed with 1000 and a reason, but not while a request is in flight", async () => {
    const socket = new WebSocket(url);
    await once(socket, "open");
    const received: ServerMessage[] = [];
    socket.on("message", (data) => received.push(JSON.parse(data.toString()) as ServerMessage));
    // The admin request takes three idle periods to answer; the connection must stay for its answer.
    socket.send(JSON.stringify(adminMessage("slow-1", "slow")));
    const [code, reason] = (await once(socket, "close")) as [number, Buffer];
    assert.deepEqual(
      received.map((message) => [message.id, message.type]),
      [["slow-1", "admin_result"]],
    );
    assert.equal(code, 1000);
    assert.match(reason.toString(), /idle for 300 ms/);
  });
});
