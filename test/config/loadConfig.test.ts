/**
 * The configuration: defaults < config file < TINYLLAMAD_* env < --flags, one schema for all of
 * them, and errors that name the key, the value, its origin and what was expected.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { renderConfigurationMarkdown } from "../../daemon/config/configDocs.js";
import { ConfigError, type LoadConfigOptions, loadConfig } from "../../daemon/config/loadConfig.js";
import { describeSchema, formatConfig } from "../../daemon/config/printConfig.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-config-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const absentDefaultFile = join(scratch, "absent-default.json");
let fileCount = 0;

function writeConfigFile(content: unknown): string {
  const path = join(scratch, `config-${++fileCount}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

/** Loads with an empty environment and no default file, so the machine running the tests can't leak in. */
function load(options: LoadConfigOptions = {}) {
  return loadConfig({ argv: [], env: {}, defaultConfigFile: absentDefaultFile, ...options });
}

function configErrorFrom(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, "E_CONFIG");
    return error;
  }
  assert.fail("expected a ConfigError, but loading succeeded");
}

/** For every key: its environment variable, a valid non-default value as text, and that value loaded. */
const everySetting: ReadonlyArray<[key: string, env: string, text: string, loaded: unknown]> = [
  ["model.path", "TINYLLAMAD_MODEL_PATH", "/models/tiny.gguf", "/models/tiny.gguf"],
  ["model.pullOnStart", "TINYLLAMAD_MODEL_PULL_ON_START", "false", false],
  ["model.mirrorUrl", "TINYLLAMAD_MODEL_MIRROR_URL", "http://mirror.site/models", "http://mirror.site/models"],
  ["model.allowUnverified", "TINYLLAMAD_MODEL_ALLOW_UNVERIFIED", "true", true],
  ["model.contextSize", "TINYLLAMAD_MODEL_CONTEXT_SIZE", "4096", 4096],
  ["model.catalog", "TINYLLAMAD_MODEL_CATALOG", "/etc/tinyllamad/catalog.json", "/etc/tinyllamad/catalog.json"],
  ["backend.kind", "TINYLLAMAD_BACKEND_KIND", "vulkan", "vulkan"],
  ["backend.threads", "TINYLLAMAD_BACKEND_THREADS", "3", 3],
  ["backend.gpuLayers", "TINYLLAMAD_BACKEND_GPU_LAYERS", "10", 10],
  ["backend.flashAttention", "TINYLLAMAD_BACKEND_FLASH_ATTENTION", "off", "off"],
  ["backend.persistentThreadpool", "TINYLLAMAD_BACKEND_PERSISTENT_THREADPOOL", "false", false],
  ["backend.useMmap", "TINYLLAMAD_BACKEND_USE_MMAP", "true", true],
  ["backend.prefillChunkTokens", "TINYLLAMAD_BACKEND_PREFILL_CHUNK_TOKENS", "128", 128],
  ["backend.kvCacheType", "TINYLLAMAD_BACKEND_KV_CACHE_TYPE", "q8_0", "q8_0"],
  ["backend.batchSize", "TINYLLAMAD_BACKEND_BATCH_SIZE", "128", 128],
  ["backend.prefixReuse", "TINYLLAMAD_BACKEND_PREFIX_REUSE", "false", false],
  ["backend.pinThreads", "TINYLLAMAD_BACKEND_PIN_THREADS", "false", false],
  ["backend.sequenceStateMaxBytes", "TINYLLAMAD_BACKEND_SEQUENCE_STATE_MAX_BYTES", "0", 0],
  ["backend.sequenceStateMinTokens", "TINYLLAMAD_BACKEND_SEQUENCE_STATE_MIN_TOKENS", "32", 32],
  ["npu.libraryPath", "TINYLLAMAD_NPU_LIBRARY_PATH", "/usr/lib/librkllmrt.so", "/usr/lib/librkllmrt.so"],
  ["npu.modelPath", "TINYLLAMAD_NPU_MODEL_PATH", "/models/tinyllama.rkllm", "/models/tinyllama.rkllm"],
  ["scheduler.parallelSequences", "TINYLLAMAD_SCHEDULER_PARALLEL_SEQUENCES", "2", 2],
  ["scheduler.maxQueue", "TINYLLAMAD_SCHEDULER_MAX_QUEUE", "8", 8],
  ["scheduler.shutdownGraceMs", "TINYLLAMAD_SCHEDULER_SHUTDOWN_GRACE_MS", "500", 500],
  ["scheduler.stallTimeoutMs", "TINYLLAMAD_SCHEDULER_STALL_TIMEOUT_MS", "5000", 5000],
  ["scheduler.maxQueueSharePerClient", "TINYLLAMAD_SCHEDULER_MAX_QUEUE_SHARE_PER_CLIENT", "0.25", 0.25],
  ["scheduler.prefillTokensPerSecond", "TINYLLAMAD_SCHEDULER_PREFILL_TOKENS_PER_SECOND", "40", 40],
  ["limits.defaultMaxTokens", "TINYLLAMAD_LIMITS_DEFAULT_MAX_TOKENS", "64", 64],
  ["limits.maxMaxTokens", "TINYLLAMAD_LIMITS_MAX_MAX_TOKENS", "4096", 4096],
  ["limits.maxMessageBytes", "TINYLLAMAD_LIMITS_MAX_MESSAGE_BYTES", "2048", 2048],
  ["limits.maxPromptChars", "TINYLLAMAD_LIMITS_MAX_PROMPT_CHARS", "1000", 1000],
  ["ws.enabled", "TINYLLAMAD_WS_ENABLED", "false", false],
  ["ws.maxConnections", "TINYLLAMAD_WS_MAX_CONNECTIONS", "8", 8],
  ["ws.idleTimeoutMs", "TINYLLAMAD_WS_IDLE_TIMEOUT_MS", "0", 0],
  ["http.host", "TINYLLAMAD_HTTP_HOST", "0.0.0.0", "0.0.0.0"],
  ["http.port", "TINYLLAMAD_HTTP_PORT", "9000", 9000],
  ["http.token", "TINYLLAMAD_HTTP_TOKEN", "tok", "tok"],
  [
    "http.allowedOrigins",
    "TINYLLAMAD_HTTP_ALLOWED_ORIGINS",
    "https://dash.example, http://x:1",
    ["https://dash.example", "http://x:1"],
  ],
  ["http.allowedHosts", "TINYLLAMAD_HTTP_ALLOWED_HOSTS", "board.example", ["board.example"]],
  ["http.ui", "TINYLLAMAD_HTTP_UI", "false", false],
  ["http.compatibleApis", "TINYLLAMAD_HTTP_COMPATIBLE_APIS", "false", false],
  ["thermal.limitCelsius", "TINYLLAMAD_THERMAL_LIMIT_CELSIUS", "75", 75],
  ["thermal.pollMs", "TINYLLAMAD_THERMAL_POLL_MS", "2000", 2000],
  ["hal.root", "TINYLLAMAD_HAL_ROOT", "/srv/fixture", "/srv/fixture"],
  ["hal.calibrate", "TINYLLAMAD_HAL_CALIBRATE", "false", false],
  ["admin.token", "TINYLLAMAD_ADMIN_TOKEN", "op-secret", "op-secret"],
  ["admin.modelDirectories", "TINYLLAMAD_ADMIN_MODEL_DIRECTORIES", "/srv/models:/mnt/usb", ["/srv/models", "/mnt/usb"]],
  ["admin.swapTimeoutMs", "TINYLLAMAD_ADMIN_SWAP_TIMEOUT_MS", "5000", 5000],
  ["state.directory", "TINYLLAMAD_STATE_DIRECTORY", "/srv/tinyllamad", "/srv/tinyllamad"],
  ["mqtt.enabled", "TINYLLAMAD_MQTT_ENABLED", "false", false],
  ["mqtt.url", "TINYLLAMAD_MQTT_URL", "mqtt://broker.local:1883", "mqtt://broker.local:1883"],
  ["mqtt.embeddedHost", "TINYLLAMAD_MQTT_EMBEDDED_HOST", "0.0.0.0", "0.0.0.0"],
  ["mqtt.embeddedPort", "TINYLLAMAD_MQTT_EMBEDDED_PORT", "1884", 1884],
  ["mqtt.nodeId", "TINYLLAMAD_MQTT_NODE_ID", "kitchen-pi", "kitchen-pi"],
  ["mqtt.baseTopic", "TINYLLAMAD_MQTT_BASE_TOPIC", "home/llm", "home/llm"],
  ["mqtt.username", "TINYLLAMAD_MQTT_USERNAME", "alice", "alice"],
  ["mqtt.password", "TINYLLAMAD_MQTT_PASSWORD", "pw", "pw"],
  ["mqtt.passwordFile", "TINYLLAMAD_MQTT_PASSWORD_FILE", "/etc/tinyllamad/mqtt.pass", "/etc/tinyllamad/mqtt.pass"],
  ["mqtt.caFile", "TINYLLAMAD_MQTT_CA_FILE", "/etc/ssl/site-ca.pem", "/etc/ssl/site-ca.pem"],
  ["mqtt.certFile", "TINYLLAMAD_MQTT_CERT_FILE", "/etc/tinyllamad/client.pem", "/etc/tinyllamad/client.pem"],
  ["mqtt.keyFile", "TINYLLAMAD_MQTT_KEY_FILE", "/etc/tinyllamad/client.key", "/etc/tinyllamad/client.key"],
  ["mqtt.protocolVersion", "TINYLLAMAD_MQTT_PROTOCOL_VERSION", "4", 4],
  ["mqtt.sessionExpirySeconds", "TINYLLAMAD_MQTT_SESSION_EXPIRY_SECONDS", "60", 60],
  ["mqtt.tokenQos", "TINYLLAMAD_MQTT_TOKEN_QOS", "1", 1],
  ["mqtt.statusIntervalMs", "TINYLLAMAD_MQTT_STATUS_INTERVAL_MS", "5000", 5000],
  ["mqtt.dedupeWindowSeconds", "TINYLLAMAD_MQTT_DEDUPE_WINDOW_SECONDS", "60", 60],
  ["mqtt.journalMaxBytes", "TINYLLAMAD_MQTT_JOURNAL_MAX_BYTES", "1048576", 1048576],
  ["mqtt.fleet", "TINYLLAMAD_MQTT_FLEET", "false", false],
  ["mqtt.fleetGroup", "TINYLLAMAD_MQTT_FLEET_GROUP", "pis", "pis"],
  ["homeassistant.enabled", "TINYLLAMAD_HOMEASSISTANT_ENABLED", "false", false],
  ["homeassistant.discoveryPrefix", "TINYLLAMAD_HOMEASSISTANT_DISCOVERY_PREFIX", "ha", "ha"],
  [
    "homeassistant.configurationUrl",
    "TINYLLAMAD_HOMEASSISTANT_CONFIGURATION_URL",
    "http://pi.local:8765/",
    "http://pi.local:8765/",
  ],
  ["homeassistant.ask", "TINYLLAMAD_HOMEASSISTANT_ASK", "true", true],
  ["log.level", "TINYLLAMAD_LOG_LEVEL", "debug", "debug"],
  ["log.componentLevels", "TINYLLAMAD_LOG_COMPONENT_LEVELS", "mqtt=debug", "mqtt=debug"],
  ["log.prompts", "TINYLLAMAD_LOG_PROMPTS", "true", true],
];

function valueAt(config: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, name) => (node as Record<string, unknown>)[name], config);
}

describe("defaults", () => {
  it("with no file, env or flags every setting has its documented default", () => {
    const loaded = load();
    assert.deepEqual(loaded.config, {
      model: { path: "", contextSize: 2048, pullOnStart: true, mirrorUrl: "", allowUnverified: false, catalog: "" },
      backend: {
        kind: "auto",
        threads: 0,
        gpuLayers: -1,
        flashAttention: "auto",
        persistentThreadpool: true,
        useMmap: false,
        prefillChunkTokens: 0,
        kvCacheType: "auto",
        batchSize: 0,
        prefixReuse: true,
        pinThreads: true,
        sequenceStateMaxBytes: 268435456,
        sequenceStateMinTokens: 64,
      },
      npu: { libraryPath: "", modelPath: "" },
      scheduler: {
        parallelSequences: 4,
        maxQueue: 64,
        shutdownGraceMs: 10000,
        stallTimeoutMs: 120000,
        maxQueueSharePerClient: 0.5,
        prefillTokensPerSecond: 0,
      },
      limits: { defaultMaxTokens: 128, maxMaxTokens: 2048, maxMessageBytes: 1048576, maxPromptChars: 32768 },
      ws: { enabled: true, maxConnections: 64, idleTimeoutMs: 300000 },
      http: {
        host: "127.0.0.1",
        port: 8765,
        token: "",
        allowedOrigins: [],
        allowedHosts: [],
        ui: true,
        compatibleApis: true,
      },
      thermal: { limitCelsius: 80, pollMs: 10000 },
      hal: { root: "/", calibrate: true },
      admin: { token: "", modelDirectories: [], swapTimeoutMs: 120000 },
      state: { directory: "" },
      mqtt: {
        enabled: true,
        url: "",
        embeddedHost: "127.0.0.1",
        embeddedPort: 1883,
        nodeId: hostname(),
        baseTopic: "tinyllamad",
        username: "",
        password: "",
        passwordFile: "",
        caFile: "",
        certFile: "",
        keyFile: "",
        protocolVersion: 5,
        sessionExpirySeconds: 3600,
        tokenQos: 0,
        statusIntervalMs: 30000,
        dedupeWindowSeconds: 600,
        journalMaxBytes: 8388608,
        fleet: true,
        fleetGroup: "tinyllamad",
      },
      homeassistant: { enabled: true, discoveryPrefix: "homeassistant", configurationUrl: "", ask: false },
      log: { level: "info", componentLevels: "", prompts: false },
    });
    assert.equal(loaded.configFile, undefined);
    assert.deepEqual(new Set(Object.values(loaded.sources)), new Set(["default"]));
    assert.equal(Object.keys(loaded.sources).length, everySetting.length);
  });

  it("every setting has a doc string, and only the tokens and the password are sensitive", () => {
    const settings = describeSchema();
    for (const setting of settings) assert.ok(setting.doc.length > 10, `${setting.key} needs a doc`);
    assert.deepEqual(
      settings.filter((setting) => setting.sensitive).map((setting) => setting.key),
      ["http.token", "admin.token", "mqtt.password"],
    );
  });
});

describe("names derived from keys", () => {
  it("the table in this test covers every key of the schema", () => {
    assert.deepEqual(
      describeSchema().map((setting) => setting.key),
      everySetting.map(([key]) => key),
    );
  });

  it("env is TINYLLAMAD_ + the key in upper snake case, and the flag is --<key>", () => {
    const settings = new Map(describeSchema().map((setting) => [setting.key, setting]));
    for (const [key, env] of everySetting) {
      assert.equal(settings.get(key)?.env, env);
      assert.equal(settings.get(key)?.flag, `--${key}`);
    }
  });

  for (const [key, env, text, loaded] of everySetting) {
    it(`${env} sets ${key}; --${key} sets it too`, () => {
      const fromEnv = load({ env: { [env]: text } });
      assert.deepEqual(valueAt(fromEnv.config, key), loaded);
      assert.equal(fromEnv.sources[key], "env");

      const fromFlag = load({ argv: ["serve", `--${key}`, text] });
      assert.deepEqual(valueAt(fromFlag.config, key), loaded);
      assert.equal(fromFlag.sources[key], "arg");
    });
  }
});

describe("precedence and sources", () => {
  it("a flag overrides env, which overrides the file, which overrides the default", () => {
    const file = writeConfigFile({ http: { port: 1111 } });
    const env = { TINYLLAMAD_HTTP_PORT: "2222" };
    const flags = ["--config", file, "--http.port", "3333"];

    assert.equal(load({ argv: flags, env }).config.http.port, 3333);
    assert.equal(load({ argv: flags, env }).sources["http.port"], "arg");
    assert.equal(load({ argv: ["--config", file], env }).config.http.port, 2222);
    assert.equal(load({ argv: ["--config", file], env }).sources["http.port"], "env");
    assert.equal(load({ argv: ["--config", file] }).config.http.port, 1111);
    assert.equal(load({ argv: ["--config", file] }).sources["http.port"], "file");
    assert.equal(load().sources["http.port"], "default");
  });

  it("reports each key's own source when values come from everywhere at once", () => {
    const file = writeConfigFile({ model: { path: "/from/file.gguf" }, http: { host: "10.0.0.1" } });
    const loaded = load({
      argv: ["serve", "--config", file, "--log.level=debug"],
      env: { TINYLLAMAD_HTTP_HOST: "0.0.0.0", TINYLLAMAD_MQTT_NODE_ID: "pi-4", UNRELATED: "x" },
    });
    assert.equal(loaded.config.model.path, "/from/file.gguf");
    assert.equal(loaded.config.http.host, "0.0.0.0");
    assert.equal(loaded.config.mqtt.nodeId, "pi-4");
    assert.equal(loaded.config.log.level, "debug");
    const notDefault = Object.entries(loaded.sources).filter(([, source]) => source !== "default");
    assert.deepEqual(Object.fromEntries(notDefault), {
      "model.path": "file",
      "http.host": "env",
      "mqtt.nodeId": "env",
      "log.level": "arg",
    });
  });

  it("keeps flag text exactly as typed, negative numbers included", () => {
    const loaded = load({
      argv: ["--http.token", "0x10", "--mqtt.username", "1e3", "--backend.gpuLayers", "-1", "--log.prompts"],
      env: { TINYLLAMAD_BACKEND_GPU_LAYERS: "5" },
    });
    assert.equal(loaded.config.http.token, "0x10");
    assert.equal(loaded.config.mqtt.username, "1e3");
    assert.equal(loaded.config.backend.gpuLayers, -1);
    assert.equal(loaded.config.log.prompts, true);
  });

  it("reads booleans as true/false, 1/0, yes/no or on/off", () => {
    assert.equal(load({ env: { TINYLLAMAD_WS_ENABLED: "0" } }).config.ws.enabled, false);
    assert.equal(load({ env: { TINYLLAMAD_MQTT_ENABLED: "OFF" } }).config.mqtt.enabled, false);
    assert.equal(load({ argv: ["--ws.enabled", "no"] }).config.ws.enabled, false);
    assert.equal(load({ argv: ["--ws.enabled=yes"] }).config.ws.enabled, true);
  });
});

describe("config file", () => {
  it("--config FILE and --config=FILE are read, and reported as the config file", () => {
    const file = writeConfigFile({ mqtt: { baseTopic: "lab/llm", protocolVersion: 4 } });
    for (const argv of [
      ["serve", "--config", file],
      [`--config=${file}`, "serve"],
    ]) {
      const loaded = load({ argv });
      assert.equal(loaded.configFile, file);
      assert.equal(loaded.config.mqtt.baseTopic, "lab/llm");
      assert.equal(loaded.config.mqtt.protocolVersion, 4);
      assert.equal(loaded.sources["mqtt.protocolVersion"], "file");
    }
  });

  it("options.configFile is read, and --config takes its place", () => {
    const optionFile = writeConfigFile({ http: { port: 4000 } });
    const flagFile = writeConfigFile({ http: { port: 5000 } });
    assert.equal(load({ configFile: optionFile }).config.http.port, 4000);
    const loaded = load({ configFile: optionFile, argv: ["--config", flagFile] });
    assert.equal(loaded.configFile, flagFile);
    assert.equal(loaded.config.http.port, 5000);
  });

  it("the default file is read when it exists and skipped when it does not", () => {
    const defaultFile = writeConfigFile({ log: { level: "warn" } });
    const loaded = load({ defaultConfigFile: defaultFile });
    assert.equal(loaded.configFile, defaultFile);
    assert.equal(loaded.config.log.level, "warn");
    assert.equal(load().configFile, undefined);
  });

  it("a missing explicitly named file is an error naming the path", () => {
    const missing = join(scratch, "missing.json");
    const error = configErrorFrom(() => load({ argv: ["--config", missing] }));
    assert.equal(error.message, `Invalid config: config file ${missing} does not exist`);
    configErrorFrom(() => load({ configFile: missing }));
  });

  it("rejects an unknown key, naming it and the file", () => {
    const file = writeConfigFile({ http: { prot: 9000 } });
    const error = configErrorFrom(() => load({ argv: ["--config", file] }));
    assert.equal(error.message, `Invalid config: unknown key "http.prot" in config file ${file}`);

    const topLevel = writeConfigFile({ websocket: { port: 9000 } });
    assert.match(configErrorFrom(() => load({ configFile: topLevel })).message, /unknown key "websocket"/);
  });

  it("rejects a group given as a plain value", () => {
    const file = writeConfigFile({ mqtt: "mqtt://broker" });
    assert.match(configErrorFrom(() => load({ configFile: file })).message, /"mqtt" .* must be an object/);
  });

  it("rejects a file that is not valid JSON", () => {
    const file = writeConfigFile('{"http": {"port": 9000,}}');
    const error = configErrorFrom(() => load({ configFile: file }));
    assert.match(error.message, new RegExp(`config file ${file} is not valid JSON`));
  });
});

describe("bad values", () => {
  it("a bad port from env names the key, the value, the variable and what was expected", () => {
    const error = configErrorFrom(() => load({ env: { TINYLLAMAD_HTTP_PORT: "abc" } }));
    assert.equal(
      error.message,
      'Invalid config: http.port = "abc" (from env TINYLLAMAD_HTTP_PORT): must be a port number 0-65535',
    );
  });

  it("a bad value from the file or a flag names where it came from", () => {
    const file = writeConfigFile({ mqtt: { embeddedPort: 70000 } });
    const fromFile = configErrorFrom(() => load({ configFile: file }));
    assert.equal(
      fromFile.message,
      `Invalid config: mqtt.embeddedPort = 70000 (from file ${file}): must be a port number 0-65535`,
    );
    const fromFlag = configErrorFrom(() => load({ argv: ["--backend.kind", "cuda"] }));
    assert.equal(
      fromFlag.message,
      'Invalid config: backend.kind = "cuda" (from flag --backend.kind): must be one of "auto", "cpu", "vulkan", "npu"',
    );
  });

  it("numbers are read strictly: trailing junk, fractions and values below the minimum are rejected", () => {
    assert.match(configErrorFrom(() => load({ env: { TINYLLAMAD_HTTP_PORT: "80abc" } })).message, /http\.port/);
    assert.match(
      configErrorFrom(() => load({ argv: ["--model.contextSize", "1.5"] })).message,
      /model\.contextSize = "1\.5"/,
    );
    assert.match(
      configErrorFrom(() => load({ argv: ["--scheduler.parallelSequences", "0"] })).message,
      /scheduler\.parallelSequences = "0" \(from flag --scheduler\.parallelSequences\): must be an integer >= 1/,
    );
    assert.match(
      configErrorFrom(() => load({ argv: ["--backend.gpuLayers", "-2"] })).message,
      /must be an integer >= -1/,
    );
    for (const share of ["0", "1.5", "-0.5", "half", "0.5x"])
      assert.match(
        configErrorFrom(() => load({ argv: ["--scheduler.maxQueueSharePerClient", share] })).message,
        /scheduler\.maxQueueSharePerClient = .*must be a number greater than 0 and at most 1/,
        share,
      );
  });

  it("reports every bad value at once", () => {
    const error = configErrorFrom(() =>
      load({
        env: { TINYLLAMAD_WS_ENABLED: "maybe", TINYLLAMAD_MQTT_PROTOCOL_VERSION: "3", TINYLLAMAD_LOG_LEVEL: "loud" },
      }),
    );
    assert.deepEqual(
      error.problems.map((problem) => problem.split(" = ")[0]),
      ["ws.enabled", "mqtt.protocolVersion", "log.level"],
    );
  });

  it("rejects MQTT names that would break topics and URLs that are not brokers", () => {
    assert.match(configErrorFrom(() => load({ env: { TINYLLAMAD_MQTT_NODE_ID: "a/b" } })).message, /mqtt\.nodeId/);
    assert.match(configErrorFrom(() => load({ argv: ["--mqtt.baseTopic", "x/#"] })).message, /mqtt\.baseTopic/);
    assert.match(configErrorFrom(() => load({ argv: ["--mqtt.url", "http://x"] })).message, /mqtt\.url/);
  });

  it("rejects a default max_tokens above the maximum", () => {
    const error = configErrorFrom(() => load({ argv: ["--limits.defaultMaxTokens", "4096"] }));
    assert.match(error.message, /limits\.defaultMaxTokens = "4096" .*must not exceed limits\.maxMaxTokens \(2048\)/);
  });

  it("never shows a sensitive value in an error", () => {
    const file = writeConfigFile({ http: { token: 987654321 } });
    const error = configErrorFrom(() => load({ configFile: file }));
    assert.match(error.message, /http\.token = "\[redacted\]" .*must be a string/);
    assert.doesNotMatch(error.message, /987654321/);
  });
});

describe("renamed settings (ws.host/port/token → http.host/port/token)", () => {
  it("the former flag, env var and file key still set the setting, each with a one-line warning", () => {
    const file = writeConfigFile({ ws: { host: "10.0.0.2", enabled: false } });
    const loaded = load({
      argv: ["--config", file, "--ws.port", "9001"],
      env: { TINYLLAMAD_WS_TOKEN: "old-secret" },
    });
    assert.equal(loaded.config.http.host, "10.0.0.2");
    assert.equal(loaded.config.http.port, 9001);
    assert.equal(loaded.config.http.token, "old-secret");
    assert.equal(loaded.config.ws.enabled, false);
    assert.deepEqual(
      [loaded.sources["http.host"], loaded.sources["http.port"], loaded.sources["http.token"]],
      ["file", "arg", "env"],
    );
    assert.deepEqual(loaded.warnings.sort(), [
      `"ws.host" in ${file} is deprecated; use "http.host"`,
      "--ws.port is deprecated; use --http.port",
      "TINYLLAMAD_WS_TOKEN is deprecated; use TINYLLAMAD_HTTP_TOKEN",
    ]);
    assert.ok(loaded.warnings.every((warning) => !warning.includes("\n") && !warning.includes("old-secret")));
  });

  it("the current name wins over the former one in the same place; precedence between places is kept", () => {
    assert.equal(load({ argv: ["--ws.port", "1", "--http.port", "2"] }).config.http.port, 2);
    assert.equal(load({ argv: ["--http.port", "2", "--ws.port", "1"] }).config.http.port, 2);
    assert.equal(load({ env: { TINYLLAMAD_WS_PORT: "1", TINYLLAMAD_HTTP_PORT: "2" } }).config.http.port, 2);
    assert.equal(load({ argv: ["--ws.port", "3"], env: { TINYLLAMAD_HTTP_PORT: "2" } }).config.http.port, 3);
    assert.deepEqual(load({ argv: ["--http.port", "2"] }).warnings, []);
  });

  it("a bad value under a former name is reported with that name", () => {
    assert.match(
      configErrorFrom(() => load({ env: { TINYLLAMAD_WS_PORT: "80abc" } })).message,
      /http\.port = "80abc" \(from env TINYLLAMAD_WS_PORT\)/,
    );
  });
});

describe("command line", () => {
  it("ignores positional arguments but rejects options that are not settings", () => {
    assert.equal(load({ argv: ["serve", "extra"] }).config.http.port, 8765);
    assert.equal(
      configErrorFrom(() => load({ argv: ["serve", "--foo"] })).message,
      "Invalid config: unknown option --foo",
    );
    assert.match(configErrorFrom(() => load({ argv: ["--http.Port=1"] })).message, /unknown option --http\.Port/);
  });

  it("names the closest real flag for a mistyped one", () => {
    assert.match(configErrorFrom(() => load({ argv: ["--http.prot", "1"] })).message, /did you mean --http\.port\?/);
    assert.match(configErrorFrom(() => load({ argv: ["--port", "1"] })).message, /did you mean --http\.port\?/);
  });

  it("rejects a flag without its value", () => {
    assert.match(configErrorFrom(() => load({ argv: ["--http.port"] })).message, /option --http\.port needs a value/);
    assert.match(configErrorFrom(() => load({ argv: ["--config"] })).message, /option --config needs a file path/);
  });
});

describe("printing", () => {
  const secretEnv = { TINYLLAMAD_HTTP_TOKEN: "hunter2-token", TINYLLAMAD_MQTT_PASSWORD: "hunter2-password" };

  it("text lists every key with its value, source and env var, redacting secrets", () => {
    const text = formatConfig(load({ env: secretEnv, argv: ["--http.port", "9000"] }), "text");
    const lines = text.split("\n");
    assert.equal(lines.length, everySetting.length);
    assert.doesNotMatch(text, /hunter2/);
    assert.match(text, /^http\.token = "\[redacted\]" +# from env; env TINYLLAMAD_HTTP_TOKEN$/m);
    assert.match(text, /^mqtt\.password = "\[redacted\]" +# from env; env TINYLLAMAD_MQTT_PASSWORD$/m);
    assert.match(text, /^http\.port = 9000 +# from arg; env TINYLLAMAD_HTTP_PORT$/m);
    assert.match(text, /^model\.path = "" +# from default; env TINYLLAMAD_MODEL_PATH$/m);
  });

  it("json gives value, source, env and flag per key, redacting secrets", () => {
    const json = JSON.parse(formatConfig(load({ env: secretEnv }), "json")) as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(json),
      everySetting.map(([key]) => key),
    );
    assert.deepEqual(json["http.token"], {
      value: "[redacted]",
      source: "env",
      env: "TINYLLAMAD_HTTP_TOKEN",
      flag: "--http.token",
    });
    assert.equal((json["mqtt.password"] as { value: unknown }).value, "[redacted]");
    assert.deepEqual(json["http.port"], {
      value: 8765,
      source: "default",
      env: "TINYLLAMAD_HTTP_PORT",
      flag: "--http.port",
    });
  });

  it("credentials in a URL (mqtt.url, model.mirrorUrl) never print, in text, json or an error", () => {
    const env = {
      TINYLLAMAD_MQTT_URL: "mqtt://node:hunter2-url@broker.lan:1883",
      TINYLLAMAD_MODEL_MIRROR_URL: "https://site:hunter2-mirror@mirror.lan/models",
    };
    const text = formatConfig(load({ env }), "text");
    assert.doesNotMatch(text, /hunter2/);
    assert.match(text, /^mqtt\.url = "mqtt:\/\/redacted:redacted@broker\.lan:1883" /m);
    assert.doesNotMatch(formatConfig(load({ env }), "json"), /hunter2/);
    const error = configErrorFrom(() => load({ env: { TINYLLAMAD_MQTT_URL: "http://node:hunter2-bad@broker" } }));
    assert.match(error.message, /mqtt\.url/);
    assert.doesNotMatch(error.message, /hunter2/);
  });

  it("an empty secret shows as empty, so an unset token is visible", () => {
    const json = JSON.parse(formatConfig(load(), "json")) as Record<string, { value: unknown }>;
    assert.equal(json["http.token"]?.value, "");
  });

  it("docs/configuration.md is the output of writeConfigDocs", () => {
    const docs = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
    assert.equal(docs, renderConfigurationMarkdown(), "regenerate docs/configuration.md with writeConfigDocs");
    for (const setting of describeSchema()) assert.ok(docs.includes(`| \`${setting.key}\` |`), setting.key);
  });
});
