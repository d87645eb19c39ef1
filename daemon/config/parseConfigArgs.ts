/**
 * The one command-line parser of every config-reading command (serve, config, doctor, ask): node:util
 * parseArgs, with an option for `--config`, for every setting (and its former names) and for the
 * command's own flags. The schema names the options, so there is no list kept by hand.
 */
import { parseArgs } from "node:util";
import { closestFlag } from "../../models/cli/closestFlag.js";
import { configSettings } from "./configSchema.js";

/** A command's own flags, as node:util parseArgs describes options (`{json: {type: "boolean"}}`). */
export type CommandOptions = Readonly<Record<string, { readonly type: "string" | "boolean" }>>;

/** A command line, read once. */
export interface CommandLine {
  /** The file named by `--config FILE` (or `--config=FILE`), if any. */
  readonly configFile: string | undefined;
  /** Settings given as flags: the name as typed (a key, or a former key) → text exactly as typed (the last one wins). */
  readonly settings: ReadonlyMap<string, string>;
  /** The command's own flags: a boolean flag → true, a string flag → its value. */
  readonly options: Readonly<Record<string, string | boolean>>;
  /** Arguments that are not options, such as the `serve` command or the words of `ask`'s prompt. */
  readonly positionals: readonly string[];
  /** Options that are neither settings nor the command's own, as typed. */
  readonly unknownFlags: readonly string[];
  /** Everything wrong with the line (unknown options with the closest real flag, missing values). */
  readonly problems: readonly string[];
}

const configFileOption = "config";
const booleanSettings = new Set(
  configSettings
    .filter((entry) => typeof entry.default === "boolean")
    .flatMap((entry) => [entry.key, ...entry.formerNames.map((former) => former.key)]),
);
const settingNames = configSettings.flatMap((entry) => [entry.key, ...entry.formerNames.map((former) => former.key)]);

/** Every setting flag, former names included, → the flag to suggest (the current name). */
const currentFlagFor = new Map(
  configSettings.flatMap((entry) => [
    [entry.flag, entry.flag] as const,
    ...entry.formerNames.map((former) => [former.flag, entry.flag] as const),
  ]),
);

/**
 * "unknown option --x", with the closest real flag when there is one: a command's own flag,
 * `--config`, or a setting's (a mistyped former name, `--ws.prot`, suggests the current `--http.port`).
 */
export function unknownFlagMessage(flag: string, commandFlags: readonly string[]): string {
  const closest = closestFlag(flag, [...commandFlags, `--${configFileOption}`, ...currentFlagFor.keys()]);
  const suggestion = closest === undefined ? undefined : (currentFlagFor.get(closest) ?? closest);
  return suggestion === undefined ? `unknown option ${flag}` : `unknown option ${flag} (did you mean ${suggestion}?)`;
}

/** A word that reads as the value of a boolean flag (`--ws.enabled false`). */
function isBooleanWord(word: string): boolean {
  return /^(true|false|1|0|yes|no|on|off)$/i.test(word);
}

/**
 * Reads `--<key> VALUE`, `--<key>=VALUE`, a bare boolean setting (`--ws.enabled` means true, or
 * `--ws.enabled false`), `--config FILE` and the command's own flags. Anything after `--` is
 * positional. A value may start with a single dash (`--backend.gpuLayers -1`) but not with two.
 * Never throws: loadConfig reports `problems` as a ConfigError; cli.ts answers `unknownFlags` with usage.
 */
export function parseCommandLine(argv: readonly string[], commandOptions: CommandOptions = {}): CommandLine {
  const settingOptions = Object.fromEntries(
    settingNames.map((name) => [name, { type: booleanSettings.has(name) ? "boolean" : "string" } as const]),
  );
  const { tokens } = parseArgs({
    args: [...argv],
    options: { ...settingOptions, [configFileOption]: { type: "string" }, ...commandOptions },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const commandFlags = Object.keys(commandOptions).map((name) => `--${name}`);
  const settings = new Map<string, string>();
  const options: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const unknownFlags: string[] = [];
  const problems: string[] = [];
  /** A bare boolean setting just read, which the next word may give a value to. */
  let bareBoolean: { name: string; index: number } | undefined;
  let afterTerminator = false;

  for (const token of tokens) {
    if (token.kind === "option-terminator") {
      afterTerminator = true;
      continue;
    }
    if (token.kind === "positional") {
      if (!afterTerminator && bareBoolean?.index === token.index - 1 && isBooleanWord(token.value))
        settings.set(bareBoolean.name, token.value);
      else positionals.push(token.value);
      bareBoolean = undefined;
      continue;
    }
    bareBoolean = undefined;
    const { name, rawName } = token;
    // parseArgs takes the next word as a string option's value even when it is `--another`.
    const value =
      token.value !== undefined && (token.inlineValue || !token.value.startsWith("--")) ? token.value : undefined;
    const isSetting = settingNames.includes(name) && rawName === `--${name}`;
    const isOwn = Object.hasOwn(commandOptions, name) && rawName.startsWith("--");
    if (name === configFileOption && rawName === `--${configFileOption}`) {
      if (value === undefined || value === "") problems.push(`option --${configFileOption} needs a file path`);
      else options[configFileOption] = value;
    } else if (isSetting && booleanSettings.has(name)) {
      settings.set(name, token.value ?? "true");
      if (token.value === undefined) bareBoolean = { name, index: token.index };
    } else if (isSetting) {
      if (value === undefined) problems.push(`option ${rawName} needs a value`);
      else settings.set(name, value);
    } else if (isOwn && commandOptions[name]?.type === "boolean") {
      options[name] = true;
    } else if (isOwn) {
      if (value === undefined) problems.push(`option ${rawName} needs a value`);
      else options[name] = value;
    } else {
      unknownFlags.push(rawName);
      problems.push(unknownFlagMessage(rawName, commandFlags));
    }
  }
  const configFile = options[configFileOption];
  delete options[configFileOption];
  return {
    configFile: typeof configFile === "string" ? configFile : undefined,
    settings,
    options,
    positionals,
    unknownFlags,
    problems,
  };
}
