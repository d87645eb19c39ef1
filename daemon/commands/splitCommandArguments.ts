/**
 * Reads a client command's arguments (`run`/`ask`, `chat`) with the one command-line parser: its own
 * flags (`--url URL`, `--json`, also as `--url=URL`) beside the settings (--http.port …) and the
 * prompt's words, read once and handed to loadConfig as they are.
 */
import { type CommandLine, type CommandOptions, parseCommandLine } from "../config/parseConfigArgs.js";

export class CommandUsageError extends Error {}

export interface SplitArguments {
  /** The command's value flags, by flag (`--url` → URL). */
  values: Map<string, string>;
  /** The command's switches that were given (`--json`). */
  switches: Set<string>;
  /** The whole line, read once: for loadConfig, and its positionals (the prompt). */
  commandLine: CommandLine;
}

export function splitCommandArguments(
  args: readonly string[],
  valueFlags: readonly string[],
  switchFlags: readonly string[],
): SplitArguments {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const flag of valueFlags) options[flag.replace(/^--/, "")] = { type: "string" };
  for (const flag of switchFlags) options[flag.replace(/^--/, "")] = { type: "boolean" };
  const commandLine = parseCommandLine(args, options as CommandOptions);
  const ownProblem = commandLine.problems.find((problem) =>
    [...valueFlags, ...switchFlags].some((flag) => problem === `option ${flag} needs a value`),
  );
  if (ownProblem !== undefined) throw new CommandUsageError(ownProblem);
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (const [name, value] of Object.entries(commandLine.options)) {
    if (typeof value === "string") values.set(`--${name}`, value);
    else if (value) switches.add(`--${name}`);
  }
  return { values, switches, commandLine };
}
