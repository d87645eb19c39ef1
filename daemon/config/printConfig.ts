import { configSettings } from "./configSchema.js";
import type { LoadedConfig } from "./loadConfig.js";
import { redactUrlCredentials } from "./redactUrlCredentials.js";

const redacted = "[redacted]";

/** One setting as docs and `config --print` describe it. */
export interface SettingDescription {
  key: string;
  doc: string;
  default: unknown;
  /** How docs describe the default where it depends on the machine (the hostname); else undefined. */
  defaultDescription: string | undefined;
  env: string;
  flag: string;
  sensitive: boolean;
}

export function describeSchema(): SettingDescription[] {
  return configSettings.map(({ key, doc, default: defaultValue, defaultDescription, env, flag, sensitive }) => ({
    key,
    doc,
    default: defaultValue,
    defaultDescription,
    env,
    flag,
    sensitive,
  }));
}

function valueAt(config: object, key: string): unknown {
  return key.split(".").reduce<unknown>((node, name) => (node as Record<string, unknown>)[name], config);
}

/**
 * A sensitive value is shown only as "[redacted]", or as "" when it is not set; any other text has
 * the credentials of a URL in it redacted (mqtt://user:secret@broker).
 */
export function shownValue(sensitive: boolean, value: unknown): unknown {
  if (sensitive && value !== "") return redacted;
  if (typeof value === "string") return redactUrlCredentials(value);
  if (Array.isArray(value)) return value.map((item) => shownValue(false, item));
  return value;
}

function formatAsJson(loaded: LoadedConfig): string {
  const described = Object.fromEntries(
    configSettings.map(({ key, sensitive, env, flag }) => [
      key,
      { value: shownValue(sensitive, valueAt(loaded.config, key)), source: loaded.sources[key], env, flag },
    ]),
  );
  return JSON.stringify(described, null, 2);
}

function formatAsText(loaded: LoadedConfig): string {
  const assignments = configSettings.map(
    ({ key, sensitive }) => `${key} = ${JSON.stringify(shownValue(sensitive, valueAt(loaded.config, key)))}`,
  );
  const width = Math.max(...assignments.map((assignment) => assignment.length));
  return configSettings
    .map(({ key, env }, index) => {
      const source = loaded.sources[key] ?? "default";
      const from = source === "file" && loaded.configFile !== undefined ? `file ${loaded.configFile}` : source;
      return `${(assignments[index] as string).padEnd(width)}  # from ${from}; env ${env}`;
    })
    .join("\n");
}

/**
 * The effective configuration, one line per setting with its value and where it came from
 * ("text"), or `{key: {value, source, env, flag}}` ("json"). Sensitive values are redacted.
 */
export function formatConfig(loaded: LoadedConfig, format: "text" | "json"): string {
  return format === "json" ? formatAsJson(loaded) : formatAsText(loaded);
}
