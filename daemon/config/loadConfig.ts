import fs from "node:fs";
import { ConfigError } from "./ConfigError.js";
import { type ConfigSetting, configSettings, type TinyllamadConfig } from "./configSchema.js";
import { type CommandLine, parseCommandLine } from "./parseConfigArgs.js";
import { shownValue } from "./printConfig.js";
import { type ConfigFileContent, readConfigFile } from "./readConfigFile.js";

export { ConfigError } from "./ConfigError.js";

/** Where a setting's value came from; later ones override earlier ones. */
export type ConfigSource = "default" | "file" | "env" | "arg";

export interface LoadedConfig {
  config: TinyllamadConfig;
  /** For every dotted key, where its value came from. */
  sources: Record<string, ConfigSource>;
  /** The config file that was read, if any. */
  configFile: string | undefined;
  /** One line per deprecated name in use (a renamed setting's former flag, env var or file key). */
  warnings: string[];
}

export interface LoadConfigOptions {
  /** Command-line arguments without node and the script (default: process.argv.slice(2)). */
  argv?: string[];
  /** The command line already read (by a command with flags of its own); takes the place of argv. */
  commandLine?: CommandLine;
  /** Environment (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** A config file that must exist; `--config FILE` in argv takes its place. */
  configFile?: string | undefined;
  /** Read when no file is named, and only if it exists. */
  defaultConfigFile?: string;
}

export const defaultConfigFilePath = "/etc/tinyllamad/config.json";

interface ValueOrigin {
  readonly source: ConfigSource;
  /** The value as given: text for env and flags, the JSON value for the file. */
  readonly given: unknown;
  /** E.g. "env TINYLLAMAD_HTTP_PORT", for error messages. */
  readonly where: string;
}

function chooseConfigFile(named: string | undefined, fallback: string): string | undefined {
  if (named !== undefined) return named;
  return fs.existsSync(fallback) ? fallback : undefined;
}

/**
 * Flag, then environment, then file, then default. In each place the current name wins over a
 * former one; a former one in use adds a deprecation warning.
 */
function originOf(
  entry: ConfigSetting,
  commandLine: CommandLine,
  env: NodeJS.ProcessEnv,
  file: ConfigFileContent | undefined,
  warnings: string[],
): ValueOrigin {
  for (const former of entry.formerNames) {
    if (commandLine.settings.has(former.key)) warnings.push(`${former.flag} is deprecated; use ${entry.flag}`);
    if (env[former.env] !== undefined) warnings.push(`${former.env} is deprecated; use ${entry.env}`);
    if (file?.values.has(former.key))
      warnings.push(`"${former.key}" in ${file.path} is deprecated; use "${entry.key}"`);
  }
  const names = [{ key: entry.key, env: entry.env, flag: entry.flag }, ...entry.formerNames];
  for (const name of names) {
    if (commandLine.settings.has(name.key))
      return { source: "arg", given: commandLine.settings.get(name.key), where: `flag ${name.flag}` };
  }
  for (const name of names) {
    if (env[name.env] !== undefined) return { source: "env", given: env[name.env], where: `env ${name.env}` };
  }
  for (const name of names) {
    if (file?.values.has(name.key))
      return { source: "file", given: file.values.get(name.key), where: `file ${file.path}` };
  }
  return { source: "default", given: structuredClone(entry.default), where: "default" };
}

/** Text (a flag, an env var, a string in the file) read by the setting's format; other values as given. */
function readValue(entry: ConfigSetting, origin: ValueOrigin): unknown {
  if (typeof origin.given !== "string" || entry.format.fromString === undefined) return origin.given;
  return entry.format.fromString(origin.given);
}

function setAt(config: Record<string, unknown>, key: string, value: unknown): void {
  const names = key.split(".");
  const last = names.pop() as string;
  let node = config;
  for (const name of names) {
    node[name] ??= {};
    node = node[name] as Record<string, unknown>;
  }
  node[last] = value;
}

function describeGiven(entry: ConfigSetting, given: unknown): string {
  return JSON.stringify(shownValue(entry.sensitive, given));
}

function valueAt(config: TinyllamadConfig, key: string): unknown {
  return key.split(".").reduce<unknown>((node, name) => (node as Record<string, unknown>)[name], config);
}

function findBadValues(config: TinyllamadConfig, origins: ReadonlyMap<string, ValueOrigin>): string[] {
  const problems: string[] = [];
  const problemFor = (entry: ConfigSetting, expected: string): string => {
    const origin = origins.get(entry.key) as ValueOrigin;
    return `${entry.key} = ${describeGiven(entry, origin.given)} (from ${origin.where}): ${expected}`;
  };
  const badKeys = new Set<string>();
  for (const entry of configSettings) {
    if (!entry.format.accepts(valueAt(config, entry.key))) {
      problems.push(problemFor(entry, entry.format.expected));
      badKeys.add(entry.key);
    }
  }
  const { defaultMaxTokens, maxMaxTokens } = config.limits;
  if (!badKeys.has("limits.defaultMaxTokens") && !badKeys.has("limits.maxMaxTokens")) {
    if (defaultMaxTokens > maxMaxTokens) {
      const entry = configSettings.find((candidate) => candidate.key === "limits.defaultMaxTokens");
      if (entry) problems.push(problemFor(entry, `must not exceed limits.maxMaxTokens (${maxMaxTokens})`));
    }
  }
  return problems;
}

/**
 * Loads the configuration: defaults < config file < environment < command-line flags.
 * The file is `--config FILE` from argv, else options.configFile, else options.defaultConfigFile
 * (default /etc/tinyllamad/config.json) if it exists. Throws ConfigError for a missing named file,
 * bad JSON, an unknown key or option, or a value the schema does not accept.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const commandLine = options.commandLine ?? parseCommandLine(options.argv ?? process.argv.slice(2));
  if (commandLine.problems.length > 0) throw new ConfigError([...commandLine.problems]);
  const configFile = chooseConfigFile(
    commandLine.configFile ?? options.configFile,
    options.defaultConfigFile ?? defaultConfigFilePath,
  );
  const file = configFile === undefined ? undefined : readConfigFile(configFile);

  const warnings: string[] = [];
  const origins = new Map(
    configSettings.map((entry) => [entry.key, originOf(entry, commandLine, env, file, warnings)]),
  );
  const config: Record<string, unknown> = {};
  for (const entry of configSettings) setAt(config, entry.key, readValue(entry, origins.get(entry.key) as ValueOrigin));
  const problems = findBadValues(config as unknown as TinyllamadConfig, origins);
  if (problems.length > 0) throw new ConfigError(problems);

  const sources: Record<string, ConfigSource> = {};
  for (const [key, origin] of origins) sources[key] = origin.source;
  return { config: config as unknown as TinyllamadConfig, sources, configFile, warnings };
}
