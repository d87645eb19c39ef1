/** `tinyllamad serve`: runs the daemon until SIGTERM/SIGINT; SIGHUP reloads the configuration. */
import { ModelMissingError } from "../../models/store/defaultModelLocation.js";
import { ConfigError, loadConfig } from "../config/loadConfig.js";
import { Daemon, ModelTooLargeError } from "../Daemon.js";
import { installCrashPolicy } from "../installCrashPolicy.js";
import { createLogger } from "../logging/createLogger.js";
import { ModelLoadError } from "../ModelLoadError.js";
import { packageVersion } from "../packageVersion.js";
import { scheduleTestCrash } from "../scheduleTestCrash.js";
import { NodeIdConflictError } from "../transports/mqtt/NodeIdConflictError.js";
import { EXIT_CONFIG } from "./exitCodes.js";

export async function serve(args: string[]): Promise<number> {
  const { config, warnings } = loadConfig({ argv: args });
  const log = createLogger({ level: config.log.level });
  installCrashPolicy(log);
  for (const warning of warnings) log.warn({ component: "daemon" }, warning);
  log.info({ component: "daemon", version: packageVersion() }, "starting tinyllamad");
  let stopping: Promise<void> | undefined;
  let endFatally: ((error: Error) => void) | undefined;
  // SIGHUP, and a plugin's reload request (the Home Assistant button), take the same path.
  function reloadConfiguration(): void {
    try {
      const next = loadConfig({ argv: args }).config;
      daemon.reload(next);
    } catch (error) {
      log.error(
        { component: "daemon", err: (error as Error).message },
        "reload refused: the new configuration is invalid; keeping the old one",
      );
    }
  }
  const daemon = new Daemon(config, log, {
    onFatal: (error) => endFatally?.(error),
    reload: () => reloadConfiguration(),
  });
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
  process.on("SIGHUP", reloadConfiguration);

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
