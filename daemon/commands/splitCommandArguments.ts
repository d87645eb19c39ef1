/**
 * Takes a client command's own flags (`--url URL`, `--json`, also as `--url=URL`) out of its arguments;
 * the rest (settings such as --ws.port and the prompt's words) goes to the config parser. Shared by
 * `run`/`ask` and `chat`.
 */
export class CommandUsageError extends Error {}

export interface SplitArguments {
  values: Map<string, string>;
  switches: Set<string>;
  rest: string[];
}

export function splitCommandArguments(
  args: readonly string[],
  valueFlags: readonly string[],
  switchFlags: readonly string[],
): SplitArguments {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  const rest: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    if (arg === "--") {
      rest.push(...args.slice(index));
      break;
    }
    const equalsAt = arg.indexOf("=");
    const flag = equalsAt === -1 ? arg : arg.slice(0, equalsAt);
    if (switchFlags.includes(flag)) switches.add(flag);
    else if (valueFlags.includes(flag)) {
      const value = equalsAt === -1 ? args[++index] : arg.slice(equalsAt + 1);
      if (value === undefined) throw new CommandUsageError(`option ${flag} needs a value`);
      values.set(flag, value);
    } else rest.push(arg);
  }
  return { values, switches, rest };
}
