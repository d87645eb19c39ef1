/**
 * What each top-level command accepts: its usage text (for `--help`/`-h`) and its own flags, so that
 * cli.ts answers help and names the closest real flag for a mistyped one before a command runs.
 * `models` parses its own options (models/cli/modelsCommand.ts).
 */
import { type CommandOptions, parseCommandLine } from "../config/parseConfigArgs.js";
import { chatHelp } from "./ChatSession.js";

export interface CommandSpec {
  readonly usage: string;
  /** The command's own flags, besides `--help`/`-h`, as node:util parseArgs options. */
  readonly options: CommandOptions;
}

const connectionNote = `The daemon: --url URL (default ws://127.0.0.1:<http.port>/ from the configuration, http.host and http.port);
the token: --token TOKEN, else TINYLLAMAD_TOKEN, else the configuration's http.token (TINYLLAMAD_HTTP_TOKEN).
  --url URL          the daemon's WebSocket URL
  --token TOKEN      the daemon's http.token`;

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
    options: {
      url: { type: "string" },
      token: { type: "string" },
      system: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
    },
  },
  homeassistant: {
    usage: `Usage: tinyllamad homeassistant remove [--config FILE] [--<key> VALUE…]

Removes this node's device and entities from Home Assistant: publishes an empty retained message on
each of its MQTT discovery topics (homeassistant.discoveryPrefix) on the configured broker (mqtt.url).
Stop the node, or set homeassistant.enabled=false, first: a running node with it on announces itself
again. See docs/home-assistant.md.

${configNote}`,
    options: {},
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
    options: {
      url: { type: "string" },
      token: { type: "string" },
      "max-tokens": { type: "string" },
      system: { type: "string" },
      temperature: { type: "string" },
      json: { type: "boolean" },
    },
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

/** The command's own flags and `--help` (the settings' flags come with every config-reading command). */
export function commandFlags(spec: CommandSpec): string[] {
  return [...Object.keys(spec.options).map((name) => `--${name}`), "--help"];
}

/** The first `--flag` the command does not accept, if any, as the command's own parse sees it. */
export function firstUnknownFlag(args: readonly string[], spec: CommandSpec): string | undefined {
  return parseCommandLine(args, spec.options).unknownFlags.find((flag) => flag.startsWith("--"));
}
