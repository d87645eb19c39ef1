import { unknownOptionMessage } from "../../models/cli/closestFlag.js";
import { ConfigError } from "./ConfigError.js";
import { type ConfigSetting, configSettings } from "./configSchema.js";

/** The config-related part of a command line. */
export interface ConfigArgs {
  /** The file named by `--config FILE` (or `--config=FILE`), if any. */
  readonly configFile: string | undefined;
  /** Settings given as flags: key → text exactly as typed (the last one wins when repeated). */
  readonly values: ReadonlyMap<string, string>;
  /** Arguments that are not options, such as the `serve` command. */
  readonly positionals: readonly string[];
}

const configFileFlag = "--config";
const settingsByFlag = new Map(configSettings.map((entry) => [entry.flag, entry]));
/** Every flag a config-reading command accepts: `--config` and one per setting. */
export const configFlags: readonly string[] = [configFileFlag, ...settingsByFlag.keys()];

function isBooleanSetting(entry: ConfigSetting): boolean {
  return typeof entry.default === "boolean";
}

/** A word that reads as the value of a boolean flag (`--ws.enabled false`). */
function isBooleanWord(word: string | undefined): word is string {
  return word !== undefined && /^(true|false|1|0|yes|no|on|off)$/i.test(word);
}

/**
 * Reads `--<key> VALUE`, `--<key>=VALUE`, a bare boolean flag (`--ws.enabled` means true), and
 * `--config FILE`. Anything after `--` is positional. A value may start with a single dash
 * (`--backend.gpuLayers -1`) but not with two. Throws ConfigError for an option that is not a
 * setting and for a flag that is missing its value.
 */
export function parseConfigArgs(argv: readonly string[]): ConfigArgs {
  const problems: string[] = [];
  const values = new Map<string, string>();
  const positionals: string[] = [];
  let configFile: string | undefined;

  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }

    const equalsAt = arg.indexOf("=");
    const flag = equalsAt === -1 ? arg : arg.slice(0, equalsAt);
    const inlineValue = equalsAt === -1 ? undefined : arg.slice(equalsAt + 1);
    const next = argv[index + 1];
    const nextIsValue = next !== undefined && !next.startsWith("--");

    if (flag === configFileFlag) {
      const file = inlineValue ?? (nextIsValue ? next : undefined);
      if (inlineValue === undefined && nextIsValue) index++;
      if (file === undefined || file === "") problems.push(`option ${configFileFlag} needs a file path`);
      else configFile = file;
      continue;
    }

    const entry = settingsByFlag.get(flag);
    if (entry === undefined) {
      problems.push(unknownOptionMessage(flag, configFlags));
      continue;
    }
    if (inlineValue !== undefined) {
      values.set(entry.key, inlineValue);
    } else if (isBooleanSetting(entry)) {
      if (isBooleanWord(next)) {
        values.set(entry.key, next);
        index++;
      } else {
        values.set(entry.key, "true");
      }
    } else if (nextIsValue) {
      values.set(entry.key, next);
      index++;
    } else {
      problems.push(`option ${flag} needs a value`);
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return { configFile, values, positionals };
}
