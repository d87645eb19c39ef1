import os from "node:os";
import {
  absolutePathList,
  atLeast64KiB,
  boolean,
  fractionAboveZeroToOne,
  integerFromMinusOne,
  mqttBrokerUrlOrEmpty,
  mqttTopicLevel,
  mqttTopicPrefix,
  nonNegativeInteger,
  oneOf,
  port,
  positiveInteger,
  type SettingFormat,
  stringList,
  text,
} from "./settingFormats.js";
import { cliFlagFor, envVarNameFor } from "./settingNames.js";

export const backendKinds = ["auto", "cpu", "vulkan", "npu"] as const;
export type BackendKind = (typeof backendKinds)[number];

export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

export const flashAttentionModes = ["auto", "on", "off"] as const;
export type FlashAttentionMode = (typeof flashAttentionModes)[number];
export const kvCacheTypes = ["auto", "f16", "q8_0"] as const;
export type KvCacheTypeSetting = (typeof kvCacheTypes)[number];
export const mqttProtocolVersions = [4, 5] as const;
export type MqttProtocolVersion = (typeof mqttProtocolVersions)[number];

export const mqttQosLevels = [0, 1] as const;
export type MqttQos = (typeof mqttQosLevels)[number];

/** The daemon's configuration once loaded and validated. Matches configSchema key for key. */
export interface TinyllamadConfig {
  model: {
    path: string;
    contextSize: number;
    pullOnStart: boolean;
    mirrorUrl: string;
    allowUnverified: boolean;
    catalog: string;
  };
  backend: {
    kind: BackendKind;
    threads: number;
    gpuLayers: number;
    flashAttention: FlashAttentionMode;
    persistentThreadpool: boolean;
    useMmap: boolean;
    prefillChunkTokens: number;
    kvCacheType: KvCacheTypeSetting;
    batchSize: number;
    prefixReuse: boolean;
    pinThreads: boolean;
    sequenceStateMaxBytes: number;
    sequenceStateMinTokens: number;
  };
  npu: { libraryPath: string; modelPath: string };
  scheduler: {
    parallelSequences: number;
    maxQueue: number;
    shutdownGraceMs: number;
    stallTimeoutMs: number;
    maxQueueSharePerClient: number;
    prefillTokensPerSecond: number;
  };
  limits: { defaultMaxTokens: number; maxMaxTokens: number; maxMessageBytes: number; maxPromptChars: number };
  ws: { enabled: boolean; maxConnections: number; idleTimeoutMs: number };
  http: {
    host: string;
    port: number;
    token: string;
    allowedOrigins: string[];
    allowedHosts: string[];
    ui: boolean;
    compatibleApis: boolean;
  };
  state: { directory: string };
  admin: { token: string; modelDirectories: string[]; swapTimeoutMs: number };
  thermal: { limitCelsius: number; pollMs: number };
  hal: { root: string; calibrate: boolean };
  mqtt: {
    enabled: boolean;
    url: string;
    embeddedHost: string;
    embeddedPort: number;
    nodeId: string;
    baseTopic: string;
    username: string;
    password: string;
    passwordFile: string;
    caFile: string;
    certFile: string;
    keyFile: string;
    protocolVersion: MqttProtocolVersion;
    sessionExpirySeconds: number;
    tokenQos: MqttQos;
    statusIntervalMs: number;
    dedupeWindowSeconds: number;
    journalMaxBytes: number;
    fleet: boolean;
    fleetGroup: string;
  };
  homeassistant: {
    enabled: boolean;
    discoveryPrefix: string;
    configurationUrl: string;
    ask: boolean;
  };
  log: { level: LogLevel; componentLevels: string; prompts: boolean };
}

interface SettingSpec<Value> {
  doc: string;
  default: Value;
  format: SettingFormat;
  sensitive?: boolean;
  /** How docs describe the default, where the value itself depends on the machine. */
  defaultDescription?: string;
  /**
   * Keys this setting had before it was renamed: still read (flag, env var, config file) with a
   * one-line deprecation warning, so existing configurations keep working.
   */
  formerKeys?: readonly string[];
}

/** A setting in the schema tree: a leaf, told from a group by its `default`. */
interface SettingNode<Value> {
  readonly doc: string;
  readonly default: Value;
  readonly format: SettingFormat;
  readonly sensitive: boolean;
  readonly defaultDescription: string | undefined;
  readonly formerKeys: readonly string[];
}

/** The schema tree has the configuration's shape: a SettingNode where the configuration has a value. */
type SchemaOf<Config> = {
  [Name in keyof Config]: Config[Name] extends string | number | boolean | readonly unknown[]
    ? SettingNode<Config[Name]>
    : SchemaOf<Config[Name]>;
};

function setting<Value>(spec: SettingSpec<Value>): SettingNode<Value> {
  return {
    doc: spec.doc,
    default: spec.default,
    format: spec.format,
    sensitive: spec.sensitive ?? false,
    defaultDescription: spec.defaultDescription,
    formerKeys: spec.formerKeys ?? [],
  };
}

/** Every setting with its default, doc and format; env var and flag names come from the key. */
const configSchema: SchemaOf<TinyllamadConfig> = {
  model: {
    path: setting({
      doc: 'Path to the GGUF model file. Empty ("") means this board\'s default model: TinyLlama 1.1B Chat in the quantization `tinyllamad doctor` names (Q4_0 on ARM CPUs with dot-product, else Q4_K_M; smaller where memory needs it).',
      default: "",
      format: text,
    }),
    pullOnStart: setting({
      doc: "With model.path empty and the default model not in the store, pull it on start.",
      default: true,
      format: boolean,
    }),
    mirrorUrl: setting({
      doc: "A site's HTTP mirror of the model files (<mirrorUrl>/<file name>), used instead of the catalog's URLs.",
      default: "",
      format: text,
    }),
    allowUnverified: setting({
      doc: "Accept a pulled model whose sha256 the catalog does not know (it is recorded as unverified).",
      default: false,
      format: boolean,
    }),
    contextSize: setting({
      doc: "Context window of each parallel sequence, in tokens (prompt and answer together; TinyLlama was trained on 2048).",
      default: 2048,
      format: positiveInteger,
    }),
    catalog: setting({
      doc: "A model catalog JSON file (models/catalog/catalog.json's format) to use instead of the built-in one, e.g. a site's own files with their sha256; \"\" = the built-in catalog.",
      default: "",
      format: text,
    }),
  },
  backend: {
    kind: setting<BackendKind>({
      doc: `Inference backend: ${backendKinds.join(", ")}. "auto" picks the best one available.`,
      default: "auto",
      format: oneOf(backendKinds),
    }),
    threads: setting({
      doc: "CPU threads used for inference; 0 picks a number automatically.",
      default: 0,
      format: nonNegativeInteger,
    }),
    gpuLayers: setting({
      doc: "vulkan backend: model layers offloaded to the GPU; -1 offloads all of them, 0 none (the rest run on the CPU, e.g. where the GPU's memory is short). The cpu and npu backends ignore it. Read at load.",
      default: -1,
      format: integerFromMinusOne,
    }),
    flashAttention: setting<FlashAttentionMode>({
      doc: 'llama.cpp\'s flash attention for the cpu and vulkan backends: "auto" (the default of llama.cpp, llama-server and node-llama-cpp: on where the device supports it; on x86 CPUs ≈13 % faster decode than "off", bench/README.md), "on" or "off" (e.g. where a GPU driver handles it badly). It changes the arithmetic slightly, so greedy text can differ between settings.',
      default: "auto",
      format: oneOf(flashAttentionModes),
    }),
    persistentThreadpool: setting({
      doc: "Keep llama.cpp's CPU worker threads alive between tokens (one threadpool per context, as llama-server does) instead of the start-and-join on every decode that node-llama-cpp 3.22.1 does; needs the library npm run build compiles (see bench/README.md). Read at start.",
      default: true,
      format: boolean,
    }),
    useMmap: setting({
      doc: 'Map the GGUF file into memory instead of reading it in. Off by default: a mapped file truncated or overwritten in place kills the daemon with SIGBUS, and where the CPU backend repacks the weights (Q4_0) the mapping stays resident beside the copy, doubling the model\'s memory; reading it in costs no more memory for other types (docs/models.md, "Model file faults"). Read at load.',
      default: false,
      format: boolean,
    }),
    prefillChunkTokens: setting({
      doc: "cpu and vulkan backends: prompt tokens evaluated per prefill chunk. Between chunks a cancel or deadline_ms ends the request and the liveness check sees progress, so a long prompt is neither uninterruptible nor mistaken for a hang; smaller chunks react sooner and cost a little prefill speed. 0 means the context's batch size (512). Read at start.",
      default: 0,
      format: nonNegativeInteger,
    }),
    kvCacheType: setting<KvCacheTypeSetting>({
      doc: 'cpu and vulkan backends: the KV cache\'s element type. "auto" lets the memory plan choose: f16 where the configured context and sequences fit the board with room for the OS, else q8_0 (half the KV memory; needs flash attention, which the plan then asks for). "f16" or "q8_0" force one. q8_0 changes the arithmetic slightly, so greedy text can differ from f16 (bench/README.md measures how much). Read at load.',
      default: "auto",
      format: oneOf(kvCacheTypes),
    }),
    batchSize: setting({
      doc: "cpu and vulkan backends: tokens per llama.cpp batch (n_batch = n_ubatch). Its compute buffer holds a logit row per token (32,000 floats for TinyLlama): 512 costs ≈66 MiB, 128 ≈17 MiB. 0 lets the memory plan choose: 512, or 128 on a board where memory is tight. Read at load.",
      default: 0,
      format: nonNegativeInteger,
    }),
    prefixReuse: setting({
      doc: "Reuse the tokens a sequence already holds when a new prompt starts with them (the session's sequence first, then the best cached prefix). Off evaluates every prompt from its first token: for benchmarks against servers run without a prompt cache. Read at load.",
      default: true,
      format: boolean,
    }),
    pinThreads: setting({
      doc: "Pin the daemon's threads to the cores the plan chooses (`tinyllamad doctor` names them: the big cluster on big.LITTLE boards, else every core) before a model loads, so llama.cpp's inference threads never run on a little core. Planned cores this process may not use are left out; none left means no pinning. Read at load.",
      default: true,
      format: boolean,
    }),
    sequenceStateMaxBytes: setting({
      doc: "cpu and vulkan backends: most bytes of evaluated sequence states (a conversation's prompt, evaluated) kept on disk under state.directory/sequence-states, so that more conversations than scheduler.parallelSequences (NPC personas, chats re-sent turn by turn) are loaded back instead of evaluated again when they return; least recently used first out, another model's first of all. About 22 KB per token for TinyLlama 1.1B (f16 KV): the default holds ≈ 12,000 tokens. 0 turns saving off (docs/prefix-reuse.md). Read at load.",
      default: 268435456,
      format: nonNegativeInteger,
    }),
    sequenceStateMinTokens: setting({
      doc: "cpu and vulkan backends: the fewest tokens a conversation's cached prefix must have for it to be kept from being overwritten lightly, saved to disk when it is, or loaded back from disk (docs/prefix-reuse.md). Read at load.",
      default: 64,
      format: positiveInteger,
    }),
  },
  npu: {
    libraryPath: setting({
      doc: "Path of Rockchip's RKLLM runtime (librkllmrt.so, API 1.2.0) for the NPU backend; empty searches the system library paths.",
      default: "",
      format: text,
    }),
    modelPath: setting({
      doc: "The .rkllm model the NPU backend runs (converted with rkllm-toolkit, see docs/npu.md); empty means none, so the NPU is not used.",
      default: "",
      format: text,
    }),
  },
  scheduler: {
    parallelSequences: setting({
      doc: "Requests generated at the same time (sequences in the shared context); at least 1.",
      default: 4,
      format: positiveInteger,
    }),
    maxQueue: setting({
      doc: "Requests that may wait for a free sequence; more are refused with E_QUEUE_FULL.",
      default: 64,
      format: nonNegativeInteger,
    }),
    shutdownGraceMs: setting({
      doc: "On shutdown, milliseconds to let running requests finish before they are cancelled; then at most as long again to save the conversations resident in the sequences to disk (backend.sequenceStateMaxBytes), which a model swap allows the old model too. A second SIGTERM ends both at once.",
      default: 10000,
      format: nonNegativeInteger,
    }),
    stallTimeoutMs: setting({
      doc: "A running generation that makes no progress (a token, or a prefill chunk evaluated) for this long counts as hung: the liveness check (/healthz, systemd's watchdog) fails, so systemd restarts the service. When the tokens in flight (the prompt chunks being evaluated, one per sequence past its prefill) would take longer at the expected prefill rate (scheduler.prefillTokensPerSecond), the limit grows to 4× that.",
      default: 120000,
      format: positiveInteger,
    }),
    maxQueueSharePerClient: setting({
      doc: "The most one client (a WebSocket connection, an MQTT reply route; requests without one share one anonymous client) may have waiting and running at once, as a fraction of maxQueue + parallelSequences, rounded up, at least 1; more get E_QUEUE_FULL. A lone client gets only its share too; 1 turns the per-client limit off.",
      default: 0.5,
      format: fractionAboveZeroToOne,
    }),
    prefillTokensPerSecond: setting({
      doc: "The prefill rate (prompt tokens per second) the liveness check expects of this board, model and backend, to allow a prompt chunk (the whole prompt on the NPU, which cannot report within a prefill) time before it counts as a hang. 0 means a conservative estimate from the board and the model's size (the CPU's decode bound; the Pi 4's for a board without a figure; a tenth of that through Vulkan; 262 on the NPU). Set it to a measured rate (llama-bench's pp figure) to detect hangs sooner.",
      default: 0,
      format: nonNegativeInteger,
    }),
  },
  limits: {
    defaultMaxTokens: setting({
      doc: "max_tokens used when a request does not set it; at most limits.maxMaxTokens.",
      default: 128,
      format: positiveInteger,
    }),
    maxMaxTokens: setting({
      doc: "Largest max_tokens a request may ask for.",
      default: 2048,
      format: positiveInteger,
    }),
    maxMessageBytes: setting({
      doc: "Largest incoming message (WebSocket frame or MQTT payload) in bytes. A larger MQTT payload gets E_MESSAGE_TOO_LARGE; a larger WebSocket frame closes its connection with code 1009 before it is read.",
      default: 1048576,
      format: positiveInteger,
    }),
    maxPromptChars: setting({
      doc: "Longest prompt, in characters (all chat messages together).",
      default: 32768,
      format: positiveInteger,
    }),
  },
  ws: {
    enabled: setting({ doc: "Serve the WebSocket API.", default: true, format: boolean }),
    maxConnections: setting({
      doc: "Most WebSocket connections open at once; a further upgrade is refused with HTTP 503 (E_TOO_MANY_CONNECTIONS). The HTTP server takes at most 64 TCP connections more than this (health checks, scrapes) and closes further ones at once.",
      default: 64,
      format: positiveInteger,
    }),
    idleTimeoutMs: setting({
      doc: "A WebSocket connection that sends nothing and has no request in flight for this many milliseconds is closed (code 1000); 0 never closes idle connections.",
      default: 300000,
      format: nonNegativeInteger,
    }),
  },
  http: {
    host: setting({
      doc: "Address the HTTP server (WebSocket API, health, metrics) listens on; 0.0.0.0 listens on every interface.",
      default: "127.0.0.1",
      format: text,
      formerKeys: ["ws.host"],
    }),
    port: setting({
      doc: "Port of the HTTP server: the WebSocket API (when ws.enabled) and /healthz, /readyz, /metrics (always).",
      default: 8765,
      format: port,
      formerKeys: ["ws.port"],
    }),
    token: setting({
      doc: "Bearer token that WebSocket clients, and requests for the detail of /healthz and /metrics from beyond loopback, must present; empty means no authentication.",
      default: "",
      format: text,
      sensitive: true,
      formerKeys: ["ws.token"],
    }),
    allowedOrigins: setting<string[]>({
      doc: 'Web page origins (e.g. "https://dashboard.example:8443") whose browser requests and WebSocket upgrades are accepted, besides the daemon\'s own origin; "*" accepts any. A request carrying another Origin is refused with HTTP 403 (E_FORBIDDEN); requests without Origin (non-browser clients) are not affected.',
      default: [],
      format: stringList,
    }),
    allowedHosts: setting<string[]>({
      doc: 'Host names and addresses requests may name in their Host header, besides the daemon\'s own (localhost, 127.0.0.1, ::1, the bound address, the hostname and <hostname>.local, and every interface address when bound to 0.0.0.0 or ::); "*" accepts any. Another Host is refused with HTTP 421 (E_FORBIDDEN), which stops DNS-rebinding pages.',
      default: [],
      format: stringList,
    }),
    ui: setting({
      doc: "Serve the built-in web page at / of the HTTP port: the node's live status, charts and a chat playground (docs/web-page.md). It stays behind the Host/Origin checks, and its data (the status stream, the WebSocket API) behind http.token. false: / answers 404.",
      default: true,
      format: boolean,
    }),
    compatibleApis: setting({
      doc: "Serve the OpenAI-compatible API (/v1/models, /v1/chat/completions, /v1/completions) and the Ollama-compatible API (/api/tags, /api/chat, /api/generate, …) on the HTTP server (docs/http.md). They take http.token as their bearer token and, like the WebSocket API, refuse to start beyond loopback without one. Browser pages of http.allowedOrigins get CORS headers; no other origin does.",
      default: true,
      format: boolean,
    }),
  },
  thermal: {
    limitCelsius: setting({
      doc: "Above this CPU/SoC temperature (°C) batch-priority requests wait; they resume 5 °C below it.",
      default: 80,
      format: positiveInteger,
    }),
    pollMs: setting({ doc: "Milliseconds between temperature readings.", default: 10000, format: positiveInteger }),
  },
  hal: {
    root: setting({
      doc: 'Root under which the hardware probes read /proc, /sys and /dev ("/" on a board; a copy of a board\'s tree in tests or containers).',
      default: "/",
      format: text,
    }),
    calibrate: setting({
      doc: "With backend.kind auto and more than one viable backend, measure each once and run the fastest (cached per board, model and runtime).",
      default: true,
      format: boolean,
    }),
  },
  admin: {
    token: setting({
      doc: 'Token that operator requests ({"type":"admin",…}: swap the model, status) over WebSocket or MQTT must carry; empty refuses them all.',
      default: "",
      format: text,
      sensitive: true,
    }),
    modelDirectories: setting<string[]>({
      doc: 'Directories besides the model store from which an admin swap_model may load a model: absolute paths, a JSON array in the config file or "/a:/b" in a flag or the environment; symlinks are resolved before the check. Empty: only files in the model store.',
      default: [],
      format: absolutePathList,
    }),
    swapTimeoutMs: setting({
      doc: "Milliseconds an admin swap_model may take to check and load the new model before it is answered with E_TIMEOUT (the old model keeps serving; a late load is discarded).",
      default: 120000,
      format: positiveInteger,
    }),
  },
  state: {
    directory: setting({
      doc: "Directory for the daemon's own state (the MQTT delivery ledger, calibration results). Empty picks /var/lib/tinyllamad when writable, else ~/.local/state/tinyllamad.",
      default: "",
      format: text,
    }),
  },
  mqtt: {
    enabled: setting({ doc: "Serve the MQTT API.", default: true, format: boolean }),
    url: setting({
      doc: "Broker to connect to, e.g. mqtt://broker.local:1883. Empty starts an embedded broker on mqtt.embeddedPort.",
      default: "",
      format: mqttBrokerUrlOrEmpty,
    }),
    embeddedHost: setting({
      doc: "Address the embedded broker listens on (used only when mqtt.url is empty). 0.0.0.0 lets devices on the network connect; then set mqtt.username and mqtt.password, which the embedded broker requires.",
      default: "127.0.0.1",
      format: text,
    }),
    embeddedPort: setting({
      doc: "Port of the embedded broker (used only when mqtt.url is empty).",
      default: 1883,
      format: port,
    }),
    nodeId: setting({
      doc: "This node's name in topics (<baseTopic>/<nodeId>/...); defaults to the machine's hostname.",
      default: os.hostname() || "tinyllamad",
      format: mqttTopicLevel,
      defaultDescription: "the machine's hostname (`os.hostname()`)",
    }),
    baseTopic: setting({
      doc: "Topic prefix under which every tinyllamad topic lives.",
      default: "tinyllamad",
      format: mqttTopicPrefix,
    }),
    username: setting({
      doc: "User name for the broker; empty connects without one.",
      default: "",
      format: text,
    }),
    password: setting({
      doc: "Password for the broker; empty connects without one.",
      default: "",
      format: text,
      sensitive: true,
    }),
    passwordFile: setting({
      doc: "File holding the broker password (first line); used when mqtt.password is empty. Keeps the secret out of the environment.",
      default: "",
      format: text,
    }),
    caFile: setting({
      doc: "PEM file of the CA that signed the broker's certificate (for mqtts://); empty uses the system CAs.",
      default: "",
      format: text,
    }),
    certFile: setting({
      doc: "PEM client certificate for brokers that authenticate clients by certificate.",
      default: "",
      format: text,
    }),
    keyFile: setting({ doc: "PEM private key of mqtt.certFile.", default: "", format: text }),
    protocolVersion: setting<MqttProtocolVersion>({
      doc: "MQTT protocol version: 4 (MQTT 3.1.1) or 5 (MQTT 5.0). The embedded broker speaks 3.1.1 only, so 4 is used with it.",
      default: 5,
      format: oneOf(mqttProtocolVersions),
    }),
    sessionExpirySeconds: setting({
      doc: "How long the broker keeps this node's session (subscriptions and queued requests) while it is away (MQTT 5).",
      default: 3600,
      format: nonNegativeInteger,
    }),
    tokenQos: setting<MqttQos>({
      doc: "QoS of streamed token messages (0 or 1). Requests and final answers always use QoS 1.",
      default: 0,
      format: oneOf(mqttQosLevels),
    }),
    statusIntervalMs: setting({
      doc: "Milliseconds between periodic refreshes of the retained status topic (it is also refreshed on change).",
      default: 30000,
      format: positiveInteger,
    }),
    dedupeWindowSeconds: setting({
      doc: "A request redelivered within this many seconds of being answered is not served again: it gets the same final answer again.",
      default: 600,
      format: positiveInteger,
    }),
    journalMaxBytes: setting({
      doc: "Size bound of the MQTT delivery ledger (<state.directory>/mqtt/ledger-<nodeId>.jsonl). Past it the ledger is compacted, dropping the oldest answered entries first; unanswered requests may fill half of it, more wait at the broker.",
      default: 8388608,
      format: atLeast64KiB,
    }),
    fleet: setting({
      doc: "Take fleet-wide requests (<baseTopic>/fleet/request) through the shared subscription group mqtt.fleetGroup.",
      default: true,
      format: boolean,
    }),
    fleetGroup: setting({
      doc: "Shared-subscription group ($share/<fleetGroup>/...) through which nodes split fleet-wide requests.",
      default: "tinyllamad",
      format: mqttTopicLevel,
    }),
  },
  homeassistant: {
    enabled: setting({
      doc: "Announce this node to Home Assistant by MQTT discovery (docs/home-assistant.md): one device with sensors read from the retained status topic and a reload button. Needs mqtt.enabled. Off removes this node's discovery messages from the broker.",
      default: true,
      format: boolean,
    }),
    discoveryPrefix: setting({
      doc: "Home Assistant's MQTT discovery prefix (its MQTT integration setting of the same name).",
      default: "homeassistant",
      format: mqttTopicPrefix,
    }),
    configurationUrl: setting({
      doc: "The link Home Assistant shows on the device page. Empty: http://<host>:<port>/ of this node's HTTP listener (the machine's hostname when it listens on every address).",
      default: "",
      format: text,
    }),
    ask: setting({
      doc: "Also announce a text entity whose value is sent to the model as a prompt, with the answer on a sensor. Off by default: anyone who may publish to <baseTopic>/<nodeId>/homeassistant/ask on the broker can then spend this board's CPU (docs/home-assistant.md).",
      default: false,
      format: boolean,
    }),
  },
  log: {
    level: setting<LogLevel>({
      doc: `Log level: ${logLevels.join(", ")}.`,
      default: "info",
      format: oneOf(logLevels),
    }),
    componentLevels: setting({
      doc: 'Per-part log levels overriding log.level, e.g. "mqtt=debug,backend=warn". Parts: daemon, backend, scheduler, http, websocket, mqtt, systemd, llama.cpp.',
      default: "",
      format: text,
    }),
    prompts: setting({
      doc: "Log prompt text (at debug level). Off by default: prompts may hold private data.",
      default: false,
      format: boolean,
    }),
  },
};

type SchemaTree = { readonly [name: string]: SchemaTree | SettingNode<unknown> };

function isSetting(node: SchemaTree | SettingNode<unknown>): node is SettingNode<unknown> {
  return "default" in node;
}

/** One setting of the schema, flattened. */
export interface ConfigSetting {
  /** Dotted key, e.g. "mqtt.nodeId". */
  readonly key: string;
  readonly doc: string;
  readonly default: unknown;
  /** How docs describe the default where it depends on the machine (the hostname); else undefined. */
  readonly defaultDescription: string | undefined;
  readonly env: string;
  readonly flag: string;
  readonly sensitive: boolean;
  readonly format: SettingFormat;
  /** Earlier names of this setting, each with its env var and flag (read with a deprecation warning). */
  readonly formerNames: readonly { readonly key: string; readonly env: string; readonly flag: string }[];
}

function listSettings(node: SchemaTree | SettingNode<unknown>, path: readonly string[] = []): ConfigSetting[] {
  if (!isSetting(node)) {
    return Object.entries(node).flatMap(([name, child]) => listSettings(child, [...path, name]));
  }
  const key = path.join(".");
  return [
    {
      key,
      doc: node.doc,
      default: node.default,
      defaultDescription: node.defaultDescription,
      env: envVarNameFor(key),
      flag: cliFlagFor(key),
      sensitive: node.sensitive,
      format: node.format,
      formerNames: node.formerKeys.map((former) => ({
        key: former,
        env: envVarNameFor(former),
        flag: cliFlagFor(former),
      })),
    },
  ];
}

/** Every setting in schema order: the single source of defaults, docs, formats, env var names and flags. */
export const configSettings: readonly ConfigSetting[] = listSettings(configSchema as unknown as SchemaTree);

const settingsByKey = new Map(configSettings.map((entry) => [entry.key, entry]));
const settingsByFormerKey = new Map(
  configSettings.flatMap((entry) => entry.formerNames.map((former) => [former.key, entry] as const)),
);

/** The setting a key names: its own key, or a former one (renamed settings keep working). */
export function settingForKey(key: string): ConfigSetting | undefined {
  return settingsByKey.get(key) ?? settingsByFormerKey.get(key);
}

/** True when `key` names a group of settings, like "mqtt" or "limits". */
export function isSettingGroup(key: string): boolean {
  return (
    settingForKey(key) === undefined &&
    [...settingsByKey.keys(), ...settingsByFormerKey.keys()].some((name) => name.startsWith(`${key}.`))
  );
}
