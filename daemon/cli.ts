#!/usr/bin/env node
/**
 * The `tinyllamad` command: `serve` (the daemon), `config --print`, `models make-test`.
 */
import { runModelsCommand } from "../models/cli/modelsCommand.js";
import { ModelMissingError } from "../models/store/defaultModelLocation.js";
import { ConfigError, loadConfig } from "./config/loadConfig.js";
import { formatConfig } from "./config/printConfig.js";
import { Daemon, ModelTooLargeError } from "./Daemon.js";
import { runDoctor } from "./doctor/runDoctor.js";
import { installCrashPolicy } from "./installCrashPolicy.js";
import { createLogger } from "./logging/createLogger.js";
import { ModelLoadError } from "./ModelLoadError.js";
import { packageVersion } from "./packageVersion.js";
import { scheduleTestCrash } from "./scheduleTestCrash.js";
import { NodeIdConflictError } from "./transports/mqtt/NodeIdConflictError.js";

/** sysexits' EX_CONFIG: the unit's RestartPreventExitStatus keeps systemd from retrying a bad config. */
const EXIT_CONFIG = 78;

const usage = `Usage: tinyllamad <command> [options]

Commands:
  serve [--config FILE] [--<key> VALUE…]   run the daemon (keys as in \`tinyllamad config --print\`)
  config --print [--json] [--config FILE]  show the effective configuration and where each value came from
  doctor [--json] [--root DIR]              what the board has, what would run and why, which models fit
  models pull|list|verify|rm|info [--json]  manage the model store (docs/models.md)
  models make-test --out FILE [...]         write a random-weight TinyLlama-shaped test model
  --version                                 print the version

Configuration: defaults < config file (--config, else /etc/tinyllamad/config.json) < TINYLLAMAD_* env < --flags.
See docs/configuration.md.`;

async function serve(args: string[]): Promise<number> {
  const { config } = loadConfig({ argv: args });
  const log = createLogger({ level: config.log.level });
  installCrashPolicy(log);
  log.info({ component: "daemon", version: packageVersion() }, "starting tinyllamad");
  let stopping: Promise<void> | undefined;
  let endFatally: ((error: Error) => void) | undefined;
  const daemon = new Daemon(config, log, { onFatal: (error) => endFatally?.(error) });
  const exitCode = new Promise<number>((resolve) => {
    // A fault restarting cannot fix (another instance uses this node id): stop, exit 78, no retry.
    endFatally = (error) => {
      if (stopping !== undefined) return;
      log.fatal({ component: "daemon", code: (error as { code?: string }).code }, error.message);
      console.error(`tinyllamad: ${error.message}`);
      stopping = daemon.stop().then(
        () => resolve(EXIT_CONFIG),
        () => resolve(EXIT_CONFIG),
      );
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping !== undefined) {
        log.warn({ component: "daemon", signal }, "second signal: ending in-flight work now");
        daemon.cutShutdownShort();
        return;
      }
      log.info({ component: "daemon", signal }, "signal received; shutting down");
      stopping = daemon.stop().then(
        () => resolve(0),
        (error: unknown) => {
          log.error({ component: "daemon", err: error }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  process.on("SIGHUP", () => {
    try {
      const next = loadConfig({ argv: args }).config;
      daemon.reload(next);
    } catch (error) {
      log.error(
        { component: "daemon", err: (error as Error).message },
        "reload refused: the new configuration is invalid; keeping the old one",
      );
    }
  });

  try {
    await daemon.start();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof NodeIdConflictError) {
      log.fatal({ component: "daemon", code: error.code }, error.message);
      log.flush();
      console.error(`tinyllamad: ${error.message}`);
      await daemon.stop().catch(() => undefined);
      return EXIT_CONFIG;
    }
    if (error instanceof ModelTooLargeError || error instanceof ModelLoadError) {
      log.fatal({ component: "daemon", code: error.code }, error.message);
      log.flush();
      console.error(`tinyllamad: ${error.message}`);
      return EXIT_CONFIG;
    }
    if (error instanceof ModelMissingError) {
      log.fatal({ component: "daemon", code: error.code, path: error.path }, "model file not found");
      log.flush();
      console.error(error.message);
      return EXIT_CONFIG;
    }
    log.fatal({ component: "daemon", err: error }, "start-up failed");
    log.flush();
    console.error(`tinyllamad: start-up failed: ${(error as Error).message}`);
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  scheduleTestCrash(log);
  const code = await exitCode;
  log.flush();
  return code;
}

function printConfig(args: string[]): number {
  const json = args.includes("--json");
  const rest = args.filter((arg) => arg !== "--print" && arg !== "--json");
  if (!args.includes("--print")) {
    console.error("usage: tinyllamad config --print [--json] [--config FILE] [--<key> VALUE…]");
    return 2;
  }
  console.log(formatConfig(loadConfig({ argv: rest }), json ? "json" : "text"));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case "serve":
        return await serve(args);
      case "config":
        return printConfig(args);
      case "doctor":
        return await runDoctor(args);
      case "models":
        return await runModelsCommand(args, { stdout: process.stdout, stderr: process.stderr });
      case "--version":
      case "-v":
        console.log(packageVersion());
        return 0;
      case undefined:
      case "--help":
      case "-h":
      case "help":
        console.log(usage);
        return command === undefined ? 2 : 0;
      default:
        console.error(`unknown command '${command}'\n\n${usage}`);
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
