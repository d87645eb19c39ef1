/**
 * What each top-level command accepts: its usage text (for `--help`/`-h`) and its own flags, so that
 * cli.ts answers help and names the closest real flag for a mistyped one before a command runs.
 * `models` parses its own options (models/cli/modelsCommand.ts).
 */
import { configFlags } from "../config/parseConfigArgs.js";
import { chatHelp } from "./ChatSession.js";

export interface CommandSpec {
  readonly usage: string;
  /** The command's own flags, besides `--help`/`-h`. */
  readonly flags: readonly string[];
  /** Whether the command also takes `--config FILE` and every `--<setting> VALUE`. */
  readonly readsConfig: boolean;
}

const connectionNote = `The daemon: --url URL (default ws://127.0.0.1:<ws.port>/ from the configuration, ws.host and ws.port);
the token: --token TOKEN, else TINYLLAMAD_TOKEN, else the configuration's ws.token (TINYLLAMAD_WS_TOKEN).
  --url URL          the daemon's WebSocket URL
  --token TOKEN      the daemon's ws.token`;

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
  run: oneShotSpec("run"),
  ask: oneShotSpec("ask", "\n`ask` is the older name of `tinyllamad run`; the two are the same command."),
  chat: {
    usage: `Usage: tinyllamad chat [--url URL] [--token TOKEN] [--system TEXT] [--max-tokens N] [--temperature T] [--config FILE]

A conversation with a running daemon in the terminal: the answer streams as it comes, and the
conversation is kept until /reset. Ctrl-C stops the answer being written (the daemon stops too);
Ctrl-C at an empty prompt, Ctrl-D or /bye leaves. A message between """ and """ may span lines.
${connectionNote}
  --system TEXT      the system message (also /system TEXT)
  --max-tokens N     longest answer in tokens (also /set max_tokens N; default: the daemon's)
  --temperature T    0 = greedy (also /set temperature T)

In the chat:
${chatHelp.replace(/^/gm, "  ")}`,
    flags: ["--url", "--token", "--system", "--max-tokens", "--temperature"],
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

function oneShotSpec(name: string, note = ""): CommandSpec {
  return {
    usage: `Usage: tinyllamad ${name} [--url URL] [--token TOKEN] [--max-tokens N] [--system TEXT] [--temperature T] [--json] [--config FILE] PROMPT…

Sends one chat message to a running daemon and prints the answer on stdout as it streams; errors go
to stderr. With no PROMPT the message is read from stdin; piped stdin after a PROMPT is added to it
(git diff | tinyllamad ${name} "Summarise this change:"). Ctrl-C cancels the answer.${note}
${connectionNote}
  --max-tokens N     longest answer in tokens (default 256)
  --system TEXT      a system message before the prompt
  --temperature T    0 = greedy (default: the daemon's, 0.8)
  --json             print the protocol messages as JSON lines instead of the text

Exit codes: 0 answered; 1 the daemon refused or failed the request (its E_… code on stderr);
2 usage; 69 the daemon cannot be reached or the connection was lost; 75 busy, loading or stopping:
try again later (E_QUEUE_FULL, E_NOT_READY, E_SHUTTING_DOWN, E_TOO_MANY_CONNECTIONS, E_INTERRUPTED);
77 a wrong or missing token (E_UNAUTHORIZED, E_FORBIDDEN); 130 cancelled with Ctrl-C.`,
    flags: ["--url", "--token", "--max-tokens", "--system", "--temperature", "--json"],
    readsConfig: true,
  };
}

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
