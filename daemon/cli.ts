#!/usr/bin/env node
import { closestFlag } from "../models/cli/closestFlag.js";
/**
 * The `tinyllamad` command: `serve` (the daemon), `config --print`, `doctor`, `models …`, `chat`, `run` (`ask`).
 * Every command answers `--help`/`-h`; a mistyped flag is named with the closest real one. Each command's
 * module is imported only when it runs, so help and usage errors answer at once.
 */
import { asksForHelp, commandFlags, commandSpecs, firstUnknownFlag } from "./commands/commandSpecs.js";
import { EXIT_CONFIG } from "./commands/exitCodes.js";
import { ConfigError } from "./config/ConfigError.js";
import { unknownFlagMessage } from "./config/parseConfigArgs.js";
import { packageVersion } from "./packageVersion.js";

const usage = `Usage: tinyllamad <command> [options]

Commands:
  serve [--config FILE] [--<key> VALUE…]   run the daemon (keys as in \`tinyllamad config --print\`)
  config --print [--json] [--config FILE]  show the effective configuration and where each value came from
  doctor [--json] [--root DIR]              what the board has, what would run and why, which models fit
  models catalog|pull|list|verify|rm|info   the models that can be pulled, and the model store (docs/models.md)
  models make-test --out FILE [...]         write a random-weight TinyLlama-shaped test model
  chat [--url URL]                          talk with a running daemon in the terminal (/? for its commands)
  run PROMPT…                               ask a running daemon one question, the answer on stdout (ask: the same)
  homeassistant remove                      remove this node's device from Home Assistant (MQTT discovery)
  --version                                 print the version

\`tinyllamad <command> --help\` shows a command's options.

Configuration: defaults < config file (--config, else /etc/tinyllamad/config.json) < TINYLLAMAD_* env < --flags.
See docs/configuration.md.`;

async function printConfig(args: string[]): Promise<number> {
  const { parseCommandLine } = await import("./config/parseConfigArgs.js");
  const commandLine = parseCommandLine(args, commandSpecs.config?.options);
  if (commandLine.options.print !== true) {
    console.error("usage: tinyllamad config --print [--json] [--config FILE] [--<key> VALUE…]");
    return 2;
  }
  const { loadConfig } = await import("./config/loadConfig.js");
  const { formatConfig } = await import("./config/printConfig.js");
  const loaded = loadConfig({ commandLine });
  for (const warning of loaded.warnings) console.error(`tinyllamad: warning: ${warning}`);
  console.log(formatConfig(loaded, commandLine.options.json === true ? "json" : "text"));
  return 0;
}

const commands = ["serve", "config", "doctor", "models", "chat", "run", "ask", "homeassistant", "help", "version"];

function unknownCommandMessage(command: string): string {
  const suggestion = command.startsWith("-") ? undefined : closestFlag(command, commands);
  return `unknown command '${command}'${suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`}`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const spec = command === undefined ? undefined : commandSpecs[command];
  if (spec !== undefined) {
    if (asksForHelp(args)) {
      console.log(spec.usage);
      return 0;
    }
    const unknown = firstUnknownFlag(args, spec);
    if (unknown !== undefined) {
      console.error(`tinyllamad ${command}: ${unknownFlagMessage(unknown, commandFlags(spec))}\n\n${spec.usage}`);
      return 2;
    }
  }
  try {
    switch (command) {
      case "serve":
        return await (await import("./commands/serveCommand.js")).serve(args);
      case "config":
        return await printConfig(args);
      case "doctor":
        return await (await import("./doctor/runDoctor.js")).runDoctor(args);
      case "models": {
        const { runModelsCommand } = await import("../models/cli/modelsCommand.js");
        return await runModelsCommand(args, { stdout: process.stdout, stderr: process.stderr });
      }
      case "run":
      case "ask": {
        const { runRunCommand } = await import("./commands/runCommand.js");
        return await runRunCommand(command, args, process);
      }
      case "chat": {
        const { runChatCommand } = await import("./commands/chatCommand.js");
        return await runChatCommand(args, process);
      }
      case "homeassistant": {
        const { runHomeAssistantCommand } = await import("./commands/homeAssistantCommand.js");
        return await runHomeAssistantCommand(args, { stdout: process.stdout, stderr: process.stderr });
      }
      case "--version":
      case "-v":
      case "version":
        console.log(packageVersion());
        return 0;
      case undefined:
      case "--help":
      case "-h":
      case "help":
        console.log(usage);
        return command === undefined ? 2 : 0;
      default:
        console.error(`${unknownCommandMessage(command)}\n\n${usage}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tinyllamad: ${error.message}`);
      return EXIT_CONFIG;
    }
    if (error instanceof Error && (error as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS")) {
      console.error(`tinyllamad: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

// Exit explicitly: native handles (llama.cpp threads) must not keep a stopped daemon alive.
process.exit(await main(process.argv.slice(2)));
