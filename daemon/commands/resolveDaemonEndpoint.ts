/**
 * Where the client commands (`run`, `ask`, `chat`) find the daemon: `--url`, else the configured listener
 * (a wildcard address is reached on loopback); the token from `--token`, else TINYLLAMAD_TOKEN, else the
 * configured `http.token` (file or TINYLLAMAD_HTTP_TOKEN). Also hands back the positional words (the prompt).
 */
import { accessSync, constants } from "node:fs";
import { defaultConfigFilePath, loadConfig } from "../config/loadConfig.js";
import type { CommandLine } from "../config/parseConfigArgs.js";

export interface DaemonEndpoint {
  url: string;
  token: string | undefined;
  positionals: string[];
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** ws://host:port/ for the configured listener; a wildcard address is reached on loopback. */
export function localDaemonUrl(host: string, port: number): string {
  const reachable = host === "" || host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `ws://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}/`;
}

export function resolveDaemonEndpoint(
  flags: { url?: string | undefined; token?: string | undefined },
  commandLine: CommandLine,
  env: NodeJS.ProcessEnv = process.env,
): DaemonEndpoint {
  // The service's /etc/tinyllamad/config.json is readable by root and the service group only (it may hold
  // tokens): a user who cannot read it gets the defaults.
  const { config } = loadConfig({
    commandLine,
    defaultConfigFile: readable(defaultConfigFilePath) ? defaultConfigFilePath : "/nonexistent/tinyllamad.json",
  });
  const token = flags.token ?? (env.TINYLLAMAD_TOKEN || undefined) ?? (config.http.token || undefined);
  return {
    url: flags.url ?? localDaemonUrl(config.http.host, config.http.port),
    token,
    positionals: [...commandLine.positionals],
  };
}
