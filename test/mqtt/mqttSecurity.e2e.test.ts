/**
 * Secured brokers: username + password (from a file, never printed) and mqtts:// with a site CA and
 * a client certificate, against a real Mosquitto configured that way.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { testModelPath } from "../support/testModels.js";

const state = mkdtempSync(join(tmpdir(), "tinyllamad-secure-"));
after(() => rmSync(state, { recursive: true, force: true }));

function daemonArgs(extra: string[]): string[] {
  return [
    "--model.path",
    testModelPath(),
    "--model.contextSize",
    "256",
    "--ws.enabled",
    "false",
    "--http.port",
    "0",
    "--mqtt.nodeId",
    "secure",
    "--state.directory",
    state,
    ...extra,
  ];
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "ignore" });
}

/** A site CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
function makeCertificates(directory: string): void {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=site-ca",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    ],
    directory,
  );
  writeFileSync(join(directory, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const name of ["server", "client"]) {
    openssl(
      ["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`],
      directory,
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        `${name}.pem`,
        ...(name === "server" ? ["-extfile", "server.ext"] : []),
      ],
      directory,
    );
  }
}

/** Ids differ per test: the node's journal (same state directory) would rightly refuse a repeated one. */
async function roundTrip(
  brokerUrl: string,
  id: string,
  clientOptions: Parameters<typeof MqttProbeClient.connect>[1],
): Promise<void> {
  const client = await MqttProbeClient.connect(brokerUrl, clientOptions);
  try {
    await client.subscribe("secure-replies/#");
    await client.publish(
      "tinyllamad/secure/request",
      { type: "generate", id, prompt: "Hi", max_tokens: 3, temperature: 0 },
      { properties: { responseTopic: `secure-replies/${id}` } },
    );
    assert.equal((await client.final(id)).type, "done");
  } finally {
    await client.end();
  }
}

/** Connects to the embedded broker as an MQTT 3.1.1 device would; rejects when the broker refuses the login. */
function connectDevice(url: string, login: { username?: string; password?: string }): Promise<MqttProbeClient> {
  return MqttProbeClient.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...login });
}

describe("MQTT security", () => {
  it("logs in with a username and a password read from mqtt.passwordFile, never printing it", async () => {
    const password = "pa55-w0rd-xyz";
    const broker = new MosquittoBroker({ listenerLines: ["allow_anonymous false", "password_file PASSWORDS"] });
    const passwords = join(broker.workDirectory, "passwords");
    writeFileSync(passwords, "");
    execFileSync("mosquitto_passwd", ["-b", passwords, "board", password]);
    execFileSync("mosquitto_passwd", ["-b", passwords, "tester", "tester-pw"]);
    (broker as unknown as { options: { listenerLines: string[] } }).options.listenerLines[1] =
      `password_file ${passwords}`;
    const passwordFile = join(broker.workDirectory, "board.pass");
    writeFileSync(passwordFile, `${password}\n`);
    await broker.start();
    const daemon = new DaemonProcess(
      daemonArgs(["--mqtt.url", broker.url, "--mqtt.username", "board", "--mqtt.passwordFile", passwordFile]),
    );
    try {
      await daemon.start();
      await daemon.waitForLog((l) => l.msg === "MQTT connected", 10_000);
      await roundTrip(broker.url, "with-password", { username: "tester", password: "tester-pw" });
      assert.ok(!JSON.stringify(daemon.logLines).includes(password));
      assert.ok(!daemon.stderr.includes(password));
    } finally {
      await daemon.stop();
      await broker.dispose();
    }
  });

  it("connects over mqtts:// with the site CA and a client certificate", async () => {
    const broker = new MosquittoBroker({ scheme: "mqtts", listenerLines: [] });
    const dir = broker.workDirectory;
    makeCertificates(dir);
    (broker as unknown as { options: { listenerLines: string[] } }).options.listenerLines.push(
      "allow_anonymous true",
      `cafile ${join(dir, "ca.pem")}`,
      `certfile ${join(dir, "server.pem")}`,
      `keyfile ${join(dir, "server.key")}`,
      "require_certificate true",
    );
    await broker.start();
    const daemon = new DaemonProcess(
      daemonArgs([
        "--mqtt.url",
        broker.url,
        "--mqtt.caFile",
        join(dir, "ca.pem"),
        "--mqtt.certFile",
        join(dir, "client.pem"),
        "--mqtt.keyFile",
        join(dir, "client.key"),
      ]),
    );
    try {
      await daemon.start();
      await daemon.waitForLog((l) => l.msg === "MQTT connected", 10_000);
      const { readFileSync } = await import("node:fs");
      await roundTrip(broker.url, "with-certificate", {
        ca: readFileSync(join(dir, "ca.pem")),
        cert: readFileSync(join(dir, "client.pem")),
        key: readFileSync(join(dir, "client.key")),
      });
    } finally {
      await daemon.stop();
      await broker.dispose();
    }
  });

  describe("the embedded broker's logins", () => {
    for (const [name, flags, names] of [
      [
        "0.0.0.0 with a username and no password",
        ["--mqtt.embeddedHost", "0.0.0.0", "--mqtt.username", "board"],
        /mqtt\.embeddedHost is 0\.0\.0\.0, beyond loopback.*mqtt\.username.*mqtt\.password/,
      ],
      ["0.0.0.0 without any login", ["--mqtt.embeddedHost", "0.0.0.0"], /mqtt\.username.*mqtt\.password/],
      [
        "a username without a password on loopback",
        ["--mqtt.username", "board"],
        /mqtt\.username and mqtt\.password together/,
      ],
    ] as const) {
      it(`refuses to start with ${name}: exit 78 naming the settings`, async () => {
        const result = spawnSync(
          process.execPath,
          [cliPath, "serve", ...daemonArgs(["--mqtt.embeddedPort", "0", ...flags])],
          {
            encoding: "utf8",
            timeout: 60_000,
          },
        );
        assert.equal(result.status, 78, result.stderr);
        assert.match(result.stderr, names);
      });
    }

    it("with a username and a password on 0.0.0.0: only that login gets in, and the node's own client serves", async () => {
      const password = "emb3dded-s3cret";
      const passwordFile = join(state, "embedded.pass");
      writeFileSync(passwordFile, `${password}\n`);
      const daemon = new DaemonProcess(
        daemonArgs([
          "--mqtt.embeddedHost",
          "0.0.0.0",
          "--mqtt.embeddedPort",
          "0",
          "--mqtt.username",
          "board",
          "--mqtt.passwordFile",
          passwordFile,
          "--mqtt.nodeId",
          "embedded-secure",
        ]),
      );
      try {
        await daemon.start();
        const url = daemon.mqttUrl!;
        for (const login of [
          {},
          { username: "board" },
          { username: "board", password: "" },
          { username: "board", password: "wrong" },
          { username: "board", password: `${password}x` },
          { username: "someone", password },
          { username: "tinyllamad_embedded-secure", password },
        ])
          await assert.rejects(
            connectDevice(url, login),
            /Bad username or password|Not authorized/i,
            JSON.stringify(login),
          );
        const device = await connectDevice(url, { username: "board", password });
        try {
          await device.subscribe("emb-secure/answers");
          await device.publish("tinyllamad/embedded-secure/request", {
            type: "generate",
            id: "emb-login",
            prompt: "Hi",
            max_tokens: 3,
            reply_to: "emb-secure/answers",
          });
          assert.equal((await device.final("emb-login")).type, "done");
        } finally {
          await device.end();
        }
        assert.ok(!JSON.stringify(daemon.logLines).includes(password));
      } finally {
        await daemon.stop();
      }
    });
  });
});
