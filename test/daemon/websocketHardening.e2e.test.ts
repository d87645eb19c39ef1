/**
 * What a hostile page, network neighbour or greedy client can do to a real daemon over WebSocket and
 * HTTP, and that it keeps serving afterwards: Host and Origin checks, frame size (close 1009 before
 * buffering), the connection cap, the idle timeout, hostile frames, the token beyond loopback for
 * /metrics and the health detail, and URL credentials kept out of logs and `config --print`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { networkInterfaces } from "node:os";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { freePort } from "../../harness/freePort.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { errorCodeOf, httpGet, upgradeAttempt } from "../support/httpProbe.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const maxMessageBytes = 65536;
const maxConnections = 4;
const idleTimeoutMs = 3000;
const dashboard = "http://dash.example:8080";

/** Generates a few tokens on `client`: the daemon (and this connection) still serve. */
async function stillServes(client: ProtocolClient, id: string): Promise<void> {
  const answer = await client.request({ id, prompt: "Still there?", max_tokens: 3, temperature: 0 }, 30_000);
  assert.equal(answer.final.type, "done", `the daemon serves ${id}`);
}

async function closeOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  const [code, reason] = (await once(socket, "close")) as [number, Buffer];
  return { code, reason: reason.toString() };
}

describe("WebSocket and HTTP hardening on loopback", () => {
  const daemon = new DaemonProcess(
    testDaemonFlags({
      "limits.maxMessageBytes": maxMessageBytes,
      "ws.maxConnections": maxConnections,
      "ws.idleTimeoutMs": idleTimeoutMs,
      "http.allowedOrigins": dashboard,
    }),
  );
  let url = "";
  let hostHeader = "";
  before(async () => {
    url = await daemon.start();
    hostHeader = new URL(url).host;
  });
  after(async () => {
    const { code } = await daemon.stop();
    assert.equal(code, 0, `daemon exit code; stderr: ${daemon.stderr}`);
  });

  it("refuses an upgrade from a foreign page with 403 E_FORBIDDEN, and a plain request too", async () => {
    const upgrade = await upgradeAttempt(url, { origin: "https://evil.example" });
    assert.equal(upgrade.status, 403);
    assert.equal(errorCodeOf(upgrade), "E_FORBIDDEN");
    const health = await httpGet(`${url.replace("ws", "http")}healthz`, { origin: "https://evil.example" });
    assert.equal(health.status, 403);
    assert.equal(errorCodeOf(health), "E_FORBIDDEN");
    assert.equal((await upgradeAttempt(url, { origin: "null" })).status, 403);
  });

  it("refuses a Host that is not the daemon's (DNS rebinding) with 421", async () => {
    const upgrade = await upgradeAttempt(url, { host: "rebind.evil.example:8765" });
    assert.equal(upgrade.status, 421);
    assert.equal(errorCodeOf(upgrade), "E_FORBIDDEN");
    const metrics = await httpGet(`${url.replace("ws", "http")}metrics`, { host: "rebind.evil.example" });
    assert.equal(metrics.status, 421);
    assert.equal(errorCodeOf(metrics), "E_FORBIDDEN");
  });

  it("accepts the daemon's own page and an allowed origin, which are then served", async () => {
    assert.equal((await upgradeAttempt(url, { origin: `http://${hostHeader}` })).status, 101);
    const client = await ProtocolClient.connect(url, { origin: dashboard });
    try {
      await stillServes(client, "from-dashboard");
    } finally {
      await client.close();
    }
    const page = await httpGet(`${url.replace("ws", "http")}readyz`, { origin: dashboard });
    assert.equal(page.status, 200);
  });

  it("closes on an oversized frame with 1009, accepts one of exactly the limit, and serves on", async () => {
    const exact = await ProtocolClient.connect(url);
    try {
      const prefix = '{"type":"generate","id":"exact","max_tokens":2,"prompt":"';
      const prompt = "x".repeat(maxMessageBytes - prefix.length - 2);
      const frame = `${prefix}${prompt}"}`;
      assert.equal(Buffer.byteLength(frame), maxMessageBytes);
      const answer = exact.answer("exact", 30_000);
      exact.send(frame);
      const { final } = await answer;
      assert.equal(final.type, "error", "answered (the prompt is over limits.maxPromptChars), not closed");
    } finally {
      await exact.close();
    }

    const greedy = await ProtocolClient.connect(url);
    const closed = closeOf(greedy.socket);
    greedy.send(JSON.stringify({ type: "generate", id: "big", prompt: "x".repeat(maxMessageBytes) }));
    assert.equal((await closed).code, 1009);

    const next = await ProtocolClient.connect(url);
    try {
      await stillServes(next, "after-big");
    } finally {
      await next.close();
    }
  });

  describe("hostile frames: each gets an E_ answer, and the connection serves a generate after it", () => {
    const deep = (depth: number, inner: string) => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
    const deepObject = (depth: number) => `${'{"items":'.repeat(depth)}{}${"}".repeat(depth)}`;
    const prototypeNames = [
      "valueOf",
      "__proto__",
      "hasOwnProperty",
      "propertyIsEnumerable",
      "toLocaleString",
      "__defineGetter__",
      "__lookupGetter__",
      "constructor",
      "toString",
      "isPrototypeOf",
    ];
    /**
     * `ids`: the ids the refusal may carry; null where the message may be refused before its id is read
     * (nesting too deep to parse, not JSON).
     */
    const cases: Array<{ name: string; send: string | Buffer; ids: Array<string | null>; codes: string[] }> = [
      ...prototypeNames.map((name) => ({
        name: `cancel with a field named ${name}`,
        send: `{"type":"cancel","id":"x-${name}","${name}":1}`,
        ids: [`x-${name}`],
        codes: ["E_BAD_REQUEST"],
      })),
      ...prototypeNames.map((name) => ({
        name: `generate with a field named ${name}`,
        send: `{"type":"generate","id":"g-${name}","prompt":"hi","${name}":{"a":1}}`,
        ids: [`g-${name}`],
        codes: ["E_BAD_REQUEST"],
      })),
      {
        name: "a wrong-typed field nested 5,000 deep",
        send: `{"type":"generate","id":"deep-1","prompt":"hi","max_tokens":${deep(5000, "1")}}`,
        ids: ["deep-1", null],
        codes: ["E_BAD_REQUEST"],
      },
      {
        name: "a chat message content nested 5,000 deep",
        send: `{"type":"generate","id":"deep-2","messages":[{"role":"user","content":${deep(5000, '"x"')}}]}`,
        ids: ["deep-2", null],
        codes: ["E_BAD_REQUEST"],
      },
      {
        name: "a json_schema nested 5,000 deep",
        send: `{"type":"generate","id":"deep-3","prompt":"hi","json_schema":${deepObject(5000)}}`,
        ids: ["deep-3", null],
        codes: ["E_BAD_REQUEST", "E_BAD_SCHEMA"],
      },
      {
        name: "binary garbage",
        send: Buffer.from([0xff, 0x00, 0xfe, 0x7b, 0x22, 0x80, 0x81]),
        ids: [null],
        codes: ["E_BAD_JSON"],
      },
      { name: "text garbage", send: '\u0000{"type":\uffff', ids: [null], codes: ["E_BAD_JSON"] },
      { name: "a JSON array", send: "[1,2,3]", ids: [null], codes: ["E_BAD_REQUEST", "E_BAD_JSON"] },
    ];
    for (const testCase of cases) {
      it(`${testCase.name} → ${testCase.codes.join(" or ")}`, async () => {
        const client = await ProtocolClient.connect(url);
        try {
          const answer = client.firstMessage(
            (message) => (message.type === "error" || message.type === "done") && testCase.ids.includes(message.id),
            10_000,
          );
          assert.ok(Buffer.byteLength(testCase.send) <= maxMessageBytes, "the frame is within the size limit");
          client.socket.send(testCase.send);
          const final = await answer;
          // First that the daemon survived and this connection still serves, then that the refusal was the right one.
          await stillServes(client, "after");
          assert.equal(final.type, "error", `refused, not served: ${JSON.stringify(final).slice(0, 200)}`);
          if (final.type === "error")
            assert.ok(
              testCase.codes.includes(final.error.code),
              `got ${final.error.code} (${final.error.message.slice(0, 200)}), expected ${testCase.codes.join(" or ")}`,
            );
        } finally {
          await client.close();
        }
      });
    }

    it("a text frame that is not UTF-8 closes the connection (1007), and the daemon serves on", async () => {
      const socket = new WebSocket(url);
      await once(socket, "open");
      const closed = closeOf(socket);
      socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
      assert.equal((await closed).code, 1007);
      const next = await ProtocolClient.connect(url);
      try {
        await stillServes(next, "after-utf8");
      } finally {
        await next.close();
      }
    });
  });

  it("caps connections: one over ws.maxConnections gets 503 E_TOO_MANY_CONNECTIONS, and a freed slot is taken again", async () => {
    const clients = await Promise.all(Array.from({ length: maxConnections }, () => ProtocolClient.connect(url)));
    try {
      const refused = await upgradeAttempt(url);
      assert.equal(refused.status, 503);
      assert.equal(errorCodeOf(refused), "E_TOO_MANY_CONNECTIONS");
      assert.equal(refused.headers["retry-after"], "5");
      await stillServes(clients[0] as ProtocolClient, "while-full");
      await (clients.pop() as ProtocolClient).close();
      // The server counts the connection gone once its side of the close is done: wait for the log-free
      // signal that matters, an upgrade that succeeds (a few tries at most).
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 101; attempt++) {
        status = (await upgradeAttempt(url)).status;
        if (status !== 101) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(status, 101);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it("closes a connection idle for ws.idleTimeoutMs with 1000 and a reason; new ones are served", async () => {
    const socket = new WebSocket(url);
    await once(socket, "open");
    const { code, reason } = await closeOf(socket);
    assert.equal(code, 1000);
    assert.match(reason, /idle/);
    const next = await ProtocolClient.connect(url);
    try {
      await stillServes(next, "after-idle");
    } finally {
      await next.close();
    }
  });

  it("never answered a client message with E_INTERNAL nor logged an unexpected error", () => {
    const unexpected = daemon.logLines.filter((line) => line.level === "error" || line.level === "fatal");
    assert.deepEqual(unexpected, []);
  });
});

describe("beyond loopback: the token guards /metrics and the health detail", () => {
  const token = "hardening-token";
  const urlSecret = "hunter2-in-the-url";
  let daemon: DaemonProcess;
  let base = "";
  before(async () => {
    const closedPort = await freePort();
    daemon = new DaemonProcess(
      testDaemonFlags({
        "http.host": "0.0.0.0",
        // MQTT on, to a broker that is not there: the URL's password must not leak either.
        "mqtt.enabled": true,
        "mqtt.url": `mqtt://tester:${urlSecret}@127.0.0.1:${closedPort}`,
        "mqtt.protocolVersion": 4,
      }),
      { TINYLLAMAD_HTTP_TOKEN: token },
    );
    const url = await daemon.start();
    base = `http://127.0.0.1:${new URL(url).port}/`;
  });
  after(async () => {
    assert.equal((await daemon.stop()).code, 0);
  });

  it("/metrics answers 401 without the token and 200 with it (header or query)", async () => {
    const refused = await httpGet(`${base}metrics`);
    assert.equal(refused.status, 401);
    assert.equal(errorCodeOf(refused), "E_UNAUTHORIZED");
    assert.equal(refused.headers["www-authenticate"], "Bearer");
    assert.equal((await httpGet(`${base}metrics`, { authorization: "Bearer wrong" })).status, 401);
    const scraped = await httpGet(`${base}metrics`, { authorization: `Bearer ${token}` });
    assert.equal(scraped.status, 200);
    assert.match(scraped.body, /^tinyllamad_ready 1$/m);
    assert.equal((await httpGet(`${base}metrics?token=${token}`)).status, 200);
  });

  it("/healthz and /readyz say only their status without the token, and the detail with it", async () => {
    const liveness = await httpGet(`${base}healthz`);
    assert.equal(liveness.status, 200);
    assert.deepEqual(JSON.parse(liveness.body), { status: "ok" });
    assert.deepEqual(JSON.parse((await httpGet(`${base}readyz`)).body), { status: "ready" });
    const detail = JSON.parse((await httpGet(`${base}healthz`, { authorization: `Bearer ${token}` })).body);
    assert.equal(detail.status, "ok");
    assert.equal(detail.state, "serving");
    assert.equal(detail.backend, "cpu");
  });

  it("accepts the machine's own interface address as Host, and refuses a foreign one (421)", async (t) => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry !== undefined && entry.family === "IPv4" && !entry.internal)?.address;
    assert.equal((await httpGet(`${base}healthz`, { host: "board.evil.example" })).status, 421);
    if (address === undefined) {
      t.skip("this machine has no non-loopback IPv4 address");
      return;
    }
    const port = new URL(base).port;
    assert.equal((await httpGet(`http://${address}:${port}/healthz`)).status, 200);
  });

  it("never shows the password in the MQTT URL, in the log or on stderr", async () => {
    const serving = await daemon.waitForLog((line) => line.msg === "serving");
    assert.match(String(serving.mqtt), /^mqtt:\/\/redacted:redacted@127\.0\.0\.1:\d+$/);
    assert.ok(!JSON.stringify(daemon.logLines).includes(urlSecret));
    assert.ok(!daemon.stderr.includes(urlSecret));
    assert.ok(!JSON.stringify(daemon.logLines).includes(token));
  });
});

describe("config --print with credentials in URLs", () => {
  it("redacts them in text and JSON", () => {
    for (const format of [[], ["--json"]]) {
      const result = spawnSync(
        process.execPath,
        [cliPath, "config", "--print", ...format, "--mqtt.url", "mqtt://node:s3cr3t-pass@broker.lan:1883"],
        { encoding: "utf8", env: { ...process.env, TINYLLAMAD_MODEL_MIRROR_URL: "https://u:s3cr3t-mirror@m.lan/" } },
      );
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /broker\.lan:1883/);
      assert.doesNotMatch(`${result.stdout}${result.stderr}`, /s3cr3t/);
    }
  });
});
