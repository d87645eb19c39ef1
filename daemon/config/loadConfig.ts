import fs from "node:fs";
import convict from "convict";
import { ConfigError } from "./ConfigError.js";
import { type ConfigSetting, configSchema, configSettings, type TinyllamadConfig } from "./configSchema.js";
import { type ConfigArgs, parseConfigArgs } from "./parseConfigArgs.js";
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
}

export interface LoadConfigOptions {
  /** Command-line arguments without node and the script (default: process.argv.slice(2)). */
  argv?: string[];
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
  /** E.g. "env TINYLLAMAD_WS_PORT", for error messages. */
  readonly where: string;
}

function chooseConfigFile(named: string | undefined, fallback: string): string | undefined {
  if (named !== undefined) return named;
  return fs.existsSync(fallback) ? fallback : undefined;
}

/** The same precedence convict applies: flag, then environment, then file, then default. */
function originOf(
  entry: ConfigSetting,
  args: ConfigArgs,
  env: NodeJS.ProcessEnv,
  file: ConfigFileContent | undefined,
): ValueOrigin {
  if (args.values.has(entry.key)) {
    return { source: "arg", given: args.values.get(entry.key), where: `flag ${entry.flag}` };
  }
  if (env[entry.env] !== undefined) {
    return { source: "env", given: env[entry.env], where: `env ${entry.env}` };
  }
  if (file?.values.has(entry.key)) {
    return { source: "file", given: file.values.get(entry.key), where: `file ${file.path}` };
  }
  return { source: "default", given: entry.default, where: "default" };
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
  const args = parseConfigArgs(options.argv ?? process.argv.slice(2));
  const configFile = chooseConfigFile(
    args.configFile ?? options.configFile,
    options.defaultConfigFile ?? defaultConfigFilePath,
  );
  const file = configFile === undefined ? undefined : readConfigFile(configFile);

  // convict reads env and args itself and applies them over the file, in its own precedence.
  const convictArgs = [...args.values].map(([key, value]) => `--${key}=${value}`);
  const convictConfig = convict<TinyllamadConfig>(configSchema, { env, args: convictArgs });
  if (file !== undefined) convictConfig.load(file.document);
  // convict parses flags with yargs-parser, which turns number-like text into numbers ("0x1f" → 31,
  // "1e3" → 1000) and strips quotes; set each flag again from the text exactly as typed.
  for (const [key, value] of args.values) convictConfig.set(key, value);
  const config = convictConfig.getProperties();

  const origins = new Map(configSettings.map((entry) => [entry.key, originOf(entry, args, env, file)]));
  const problems = findBadValues(config, origins);
  if (problems.length > 0) throw new ConfigError(problems);
  try {
    convictConfig.validate({ allowed: "strict" });
  } catch (error) {
    throw new ConfigError((error as Error).message.split("\n"));
  }

  const sources: Record<string, ConfigSource> = {};
  for (const [key, origin] of origins) sources[key] = origin.source;
  return { config, sources, configFile };
}
