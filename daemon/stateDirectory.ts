/**
 * Where the daemon keeps its own state: `state.directory`, else /var/lib/tinyllamad when writable
 * (the service, with systemd's StateDirectory=), else ~/.local/state/tinyllamad (development).
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

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
  mkdirSync(directory, { recursive: true });
  return directory;
}
