/**
 * Where the daemon keeps its own state: `state.directory`, else /var/lib/tinyllamad when writable
 * (the service, with systemd's StateDirectory=), else ~/.local/state/tinyllamad (development).
 *
 * A directory that exists but cannot be written (full, read-only: SD cards turn read-only when
 * they fail) is returned all the same: what writes there degrades instead (see DeliveryLedger).
 * Only a directory that cannot exist at all is a configuration error (exit 78: systemd must not
 * restart into the same failure).
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError } from "./config/ConfigError.js";

const systemStateDirectory = "/var/lib/tinyllamad";

export function resolveStateDirectory(configured: string): string {
  let directory: string;
  if (configured.length > 0) directory = resolve(configured);
  else {
    try {
      accessSync(systemStateDirectory, constants.W_OK);
      directory = systemStateDirectory;
    } catch {
      const stateHome = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
      directory = join(stateHome, "tinyllamad");
    }
  }
  try {
    // 0700: the state holds prompts until they are answered, and answers for the dedupe window.
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (!existsSync(directory))
      throw new ConfigError(
        `state.directory '${directory}' cannot be created (${(error as NodeJS.ErrnoException).code ?? String(error)}); set state.directory to a directory the daemon may create`,
      );
  }
  if (!statSync(directory).isDirectory())
    throw new ConfigError(`state.directory '${directory}' is not a directory; set state.directory to a directory`);
  return directory;
}
