import fs from "node:fs";
import { ConfigError } from "./ConfigError.js";
import { isSettingGroup, settingForKey } from "./configSchema.js";

/** A config file, parsed and checked against the schema's shape (values are checked later). */
export interface ConfigFileContent {
  readonly path: string;
  /** The file's object as written. */
  readonly document: Record<string, unknown>;
  /** Each setting the file sets: dotted key → value as written. */
  readonly values: ReadonlyMap<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readText(path: string): string {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError(`config file ${path} does not exist`);
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
}

function parseJson(path: string, content: string): unknown {
  if (content.trim() === "") return {};
  try {
    return JSON.parse(content);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Walks the file's object, recording settings and reporting keys the schema does not have. */
function collectSettings(
  node: Record<string, unknown>,
  prefix: string,
  path: string,
  values: Map<string, unknown>,
  problems: string[],
): void {
  for (const [name, value] of Object.entries(node)) {
    const key = prefix === "" ? name : `${prefix}.${name}`;
    if (settingForKey(key) !== undefined) {
      values.set(key, value);
    } else if (!isSettingGroup(key)) {
      problems.push(`unknown key "${key}" in config file ${path}`);
    } else if (!isPlainObject(value)) {
      problems.push(`"${key}" in config file ${path} must be an object of settings`);
    } else {
      collectSettings(value, key, path, values, problems);
    }
  }
}

/** Reads a JSON config file. Throws ConfigError if it is missing, unreadable, not JSON, or has unknown keys. */
export function readConfigFile(path: string): ConfigFileContent {
  const document = parseJson(path, readText(path));
  if (!isPlainObject(document)) {
    throw new ConfigError(`config file ${path} must hold a JSON object, not ${JSON.stringify(document)}`);
  }
  const values = new Map<string, unknown>();
  const problems: string[] = [];
  collectSettings(document, "", path, values, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { path, document, values };
}
