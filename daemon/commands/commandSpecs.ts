/**
 * What each top-level command accepts: its usage text (for `--help`/`-h`) and its own flags, so that
 * cli.ts answers help and names the closest real flag for a mistyped one before a command runs.
 * `models` parses its own options (models/cli/modelsCommand.ts).
 */
import { type CommandOptions, parseCommandLine } from "../config/parseConfigArgs.js";

export interface CommandSpec {
  readonly usage: string;
  /** The command's own flags, besides `--help`/`-h`, as node:util parseArgs options. */
  readonly options: CommandOptions;
}

const configNote = `Settings: --config FILE and --<key> VALUE for every key of \`tinyllamad config --print\`
(docs/configuration.md), e.g. --http.port 9000 --model.path FILE.`;

export const commandSpecs: Readonly<Record<string, CommandSpec>> = {
  serve: {
    usage: `Usage: tinyllamad serve [--config FILE] [--<key> VALUE…]

Runs the daemon: loads the model (the board's default from the model store when model.path is empty,
pulled on first start unless model.pullOnStart is false), then serves WebSocket and MQTT.
SIGTERM/SIGINT stop it gracefully, SIGHUP reloads the configuration.

${configNote}`,
    options: {},
  },
  config: {
    usage: `Usage: tinyllamad config --print [--json] [--config FILE] [--<key> VALUE…]

Shows the effective configuration and where each value came from (default, file, environment, flag);
secrets are redacted.
  --print   required: print the configuration
  --json    machine-readable output

${configNote}`,
    options: { print: { type: "boolean" }, json: { type: "boolean" } },
  },
  doctor: {
    usage: `Usage: tinyllamad doctor [--json] [--root DIR] [--arch ARCH] [--recalibrate] [--config FILE] [--<key> VALUE…]

What the board has, which backend would run and why, which catalog models fit (docs/doctor.md).
  --json          machine-readable output
  --root DIR      read a copy of /proc and /sys under DIR instead of this machine's
  --arch ARCH     the CPU architecture to plan for with --root (arm64, x64 …)
  --recalibrate   measure every viable backend again and keep the fastest

${configNote}`,
    options: {
      json: { type: "boolean" },
      root: { type: "string" },
      arch: { type: "string" },
      recalibrate: { type: "boolean" },
    },
  },
  ask: {
    usage: `Usage: tinyllamad ask [--url URL] [--max-tokens N] [--system TEXT] [--json] [--config FILE] PROMPT…

Sends one chat message to a running daemon over WebSocket and prints the answer as it streams.
The address and token come from the configuration (http.host, http.port, http.token) unless --url is given.
  --url URL          the daemon's WebSocket URL (default ws://127.0.0.1:<http.port>/)
  --max-tokens N     longest answer in tokens (default 256)
  --system TEXT      a system message before the prompt
  --json             print the protocol messages as JSON lines instead of the text`,
    options: {
      url: { type: "string" },
      "max-tokens": { type: "string" },
      system: { type: "string" },
      json: { type: "boolean" },
    },
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

/** The command's own flags and `--help` (the settings' flags come with every config-reading command). */
export function commandFlags(spec: CommandSpec): string[] {
  return [...Object.keys(spec.options).map((name) => `--${name}`), "--help"];
}

/** The first `--flag` the command does not accept, if any, as the command's own parse sees it. */
export function firstUnknownFlag(args: readonly string[], spec: CommandSpec): string | undefined {
  return parseCommandLine(args, spec.options).unknownFlags.find((flag) => flag.startsWith("--"));
}
