/**
 * What each top-level command accepts: its usage text (for `--help`/`-h`) and its own flags, so that
 * cli.ts answers help and names the closest real flag for a mistyped one before a command runs.
 * `models` parses its own options (models/cli/modelsCommand.ts).
 */
import { configFlags } from "../config/parseConfigArgs.js";

export interface CommandSpec {
  readonly usage: string;
  /** The command's own flags, besides `--help`/`-h`. */
  readonly flags: readonly string[];
  /** Whether the command also takes `--config FILE` and every `--<setting> VALUE`. */
  readonly readsConfig: boolean;
}

const configNote = `Settings: --config FILE and --<key> VALUE for every key of \`tinyllamad config --print\`
(docs/configuration.md), e.g. --ws.port 9000 --model.path FILE.`;

export const commandSpecs: Readonly<Record<string, CommandSpec>> = {
  serve: {
    usage: `Usage: tinyllamad serve [--config FILE] [--<key> VALUE…]

Runs the daemon: loads the model (the board's default from the model store when model.path is empty,
pulled on first start unless model.pullOnStart is false), then serves WebSocket and MQTT.
SIGTERM/SIGINT stop it gracefully, SIGHUP reloads the configuration.

${configNote}`,
    flags: [],
    readsConfig: true,
  },
  config: {
    usage: `Usage: tinyllamad config --print [--json] [--config FILE] [--<key> VALUE…]

Shows the effective configuration and where each value came from (default, file, environment, flag);
secrets are redacted.
  --print   required: print the configuration
  --json    machine-readable output

${configNote}`,
    flags: ["--print", "--json"],
    readsConfig: true,
  },
  doctor: {
    usage: `Usage: tinyllamad doctor [--json] [--root DIR] [--arch ARCH] [--recalibrate] [--config FILE] [--<key> VALUE…]

What the board has, which backend would run and why, which catalog models fit (docs/doctor.md).
  --json          machine-readable output
  --root DIR      read a copy of /proc and /sys under DIR instead of this machine's
  --arch ARCH     the CPU architecture to plan for with --root (arm64, x64 …)
  --recalibrate   measure every viable backend again and keep the fastest

${configNote}`,
    flags: ["--json", "--root", "--arch", "--recalibrate"],
    readsConfig: true,
  },
  ask: {
    usage: `Usage: tinyllamad ask [--url URL] [--max-tokens N] [--system TEXT] [--json] [--config FILE] PROMPT…

Sends one chat message to a running daemon over WebSocket and prints the answer as it streams.
The address and token come from the configuration (ws.host, ws.port, ws.token) unless --url is given.
  --url URL          the daemon's WebSocket URL (default ws://127.0.0.1:<ws.port>/)
  --max-tokens N     longest answer in tokens (default 256)
  --system TEXT      a system message before the prompt
  --json             print the protocol messages as JSON lines instead of the text`,
    flags: ["--url", "--max-tokens", "--system", "--json"],
    readsConfig: true,
  },
  homeassistant: {
    usage: `Usage: tinyllamad homeassistant remove [--config FILE] [--<key> VALUE…]

Removes this node's device and entities from Home Assistant: publishes an empty retained message on
each of its MQTT discovery topics (homeassistant.discoveryPrefix) on the configured broker (mqtt.url).
Stop the node, or set homeassistant.enabled=false, first: a running node with it on announces itself
again. See docs/home-assistant.md.

${configNote}`,
    flags: [],
    readsConfig: true,
  },
};

export const helpFlags: readonly string[] = ["--help", "-h"];

/** Whether the arguments ask for help (`--help` or `-h` anywhere before a `--`). */
export function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false;
    if (helpFlags.includes(arg)) return true;
  }
  return false;
}

/** Every flag the command accepts. */
export function knownFlags(spec: CommandSpec): string[] {
  return [...spec.flags, "--help", ...(spec.readsConfig ? configFlags : [])];
}

/** The first `--flag` the command does not accept, if any (values after `--` and `-x` words are left alone). */
export function firstUnknownFlag(args: readonly string[], spec: CommandSpec): string | undefined {
  const known = new Set(knownFlags(spec));
  for (const arg of args) {
    if (arg === "--") return undefined;
    if (!arg.startsWith("--")) continue;
    const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (!known.has(flag)) return flag;
  }
  return undefined;
}
